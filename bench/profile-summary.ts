/**
 * Top self time of a V8 CPU profile (node --cpu-prof), by function and by package.
 *
 *   npx tsx bench/profile-summary.ts <file.cpuprofile> [top]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-summary.ts <file.cpuprofile> [top]');
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));

/** node_modules/<package> (scoped too), the project's own files, or V8's categories. */
function packageOf(url: string, name: string): string {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (match) return match[1]!;
  if (url.includes('/src/')) return 'project src';
  if (url.startsWith('node:') || url === '') return name.startsWith('(') ? name : 'node internals';
  return url;
}

const selfByFunction = new Map<string, number>();
const selfByPackage = new Map<string, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const node = byId.get(id)!;
  const delta = profile.timeDeltas[i] ?? 0;
  const { functionName, url, lineNumber } = node.callFrame;
  // Shares are of the time the process was busy.
  if (functionName === '(idle)') return;
  total += delta;
  const name = functionName || '(anonymous)';
  const where = url ? `${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/src\//, 'src/')}:${lineNumber + 1}` : '';
  const key = `${name} ${where}`.trim();
  selfByFunction.set(key, (selfByFunction.get(key) ?? 0) + delta);
  const pkg = packageOf(url, name);
  selfByPackage.set(pkg, (selfByPackage.get(pkg) ?? 0) + delta);
});

const print = (title: string, entries: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [key, time] of [...entries].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((100 * time) / total).toFixed(1).padStart(6)}%  ${key.slice(0, 150)}`);
  }
};
console.log(`${file}: ${(total / 1e6).toFixed(1)} s busy`);
print('self time by package', selfByPackage);
print('self time by function', selfByFunction);
