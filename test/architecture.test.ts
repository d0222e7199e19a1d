import madge from 'madge';
import { beforeAll, describe, expect, it } from 'vitest';

type Graph = Record<string, string[]>;

/** The domain a file of src/ belongs to (`modules/<domain>` or `infra`), or undefined for the composition root. */
const areaOf = (file: string): string | undefined => /^(modules\/[^/]+|infra)\//.exec(file)?.[1];

/** Groups of nodes that reach each other (strongly connected components of two or more), Tarjan's way. */
function circles(graph: Map<string, Set<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string) => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, index.get(next)!));
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1) found.push(component.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

describe('the import graph of src/', () => {
  let files: Graph;
  let fileCircles: string[][];

  beforeAll(async () => {
    // Type-only imports count: a circle of types still ties the modules' designs together.
    const result = await madge('src', { fileExtensions: ['ts'], tsConfig: 'tsconfig.json', excludeRegExp: [/^generated\//] });
    files = result.obj();
    fileCircles = result.circular();
  });

  it('is read whole (every module of src/ resolved)', () => {
    expect(Object.keys(files)).toContain('modules/workloads/scheduler.service.ts');
    expect(files['services.ts']).toContain('modules/workloads/scheduler.service.ts');
  });

  it('has no circle between files', () => {
    const described = fileCircles.map((circle) => [...circle, circle[0]].join(' -> '));
    expect(described, `import circles:\n${described.join('\n')}`).toEqual([]);
  });

  it('has no circle between domain modules (modules/<domain>, infra)', () => {
    const areas = new Map<string, Set<string>>();
    const edges: string[] = [];
    for (const [file, imports] of Object.entries(files)) {
      const from = areaOf(file);
      if (!from) continue;
      for (const imported of imports) {
        const to = areaOf(imported);
        if (!to || to === from) continue;
        areas.set(from, (areas.get(from) ?? new Set()).add(to));
        edges.push(`${from} -> ${to}: ${file} imports ${imported}`);
      }
    }
    const described = circles(areas).map((circle) => {
      const members = new Set(circle);
      const within = edges.filter((edge) => {
        const [from, to] = edge.split(':')[0]!.split(' -> ');
        return members.has(from!) && members.has(to!);
      });
      return `${circle.join(', ')}:\n  ${within.join('\n  ')}`;
    });
    expect(described, `domain modules importing each other:\n${described.join('\n')}`).toEqual([]);
  });
});
