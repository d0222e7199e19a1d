import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

// Prisma's CLI downloads a native schema engine unless this names an existing file. Generating the
// client never runs that engine (migrations use the WebAssembly engine), so any existing file will do.
const env = { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath };
const prismaCli = createRequire(import.meta.url).resolve('prisma/build/index.js');
const result = spawnSync(process.execPath, [prismaCli, 'generate'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
if (result.status !== 0) {
  process.stderr.write('prisma generate failed\n');
  process.exit(result.status ?? 1);
}
