import { parseArgs } from 'node:util';
import { NodeAgent } from './node-agent.js';

const usage = `usage: npm run agent -- --api http://host:4000/graphql --api-key KEY [options]

  --data-dir DIR               local SQLite store (default ./agent-data)
  --heartbeat-interval-ms N    heartbeat and sync period (default 10000)
  --sample-interval-ms N       how often vitals are sampled (default 5000)
  --batch-samples N            samples per metrics batch (default 500)
  --buffer-limit N             undelivered samples kept while the API is away (default 100000)
  --machine-id ID              override /etc/machine-id (or the id the store generated)
  --hostname NAME              override the host's name
  --run-commands               run the sessions' commands (off by default)
  --allow-command PROGRAM      a program sessions may run; repeat for more`;

function whole(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    process.stderr.write(`omega-agent: --${name} must be a whole number of at least ${min}\n${usage}\n`);
    process.exit(2);
  }
  return value;
}

const { values } = parseArgs({
  options: {
    api: { type: 'string' },
    'api-key': { type: 'string' },
    'data-dir': { type: 'string', default: './agent-data' },
    'heartbeat-interval-ms': { type: 'string' },
    'sample-interval-ms': { type: 'string' },
    'batch-samples': { type: 'string' },
    'buffer-limit': { type: 'string' },
    'machine-id': { type: 'string' },
    hostname: { type: 'string' },
    'run-commands': { type: 'boolean', default: false },
    'allow-command': { type: 'string', multiple: true, default: [] },
    help: { type: 'boolean', default: false },
  },
});

if (values.help || !values.api || !values['api-key']) {
  process.stderr.write(`${usage}\n`);
  process.exit(values.help ? 0 : 2);
}

const log = (message: string, fields: Record<string, unknown> = {}) =>
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), component: 'agent', message, ...fields })}\n`);

const agent = new NodeAgent({
  apiUrl: values.api,
  apiKey: values['api-key'],
  dataDir: values['data-dir'],
  heartbeatIntervalMs: whole('heartbeat-interval-ms', values['heartbeat-interval-ms'], 10_000, 100),
  sampleIntervalMs: whole('sample-interval-ms', values['sample-interval-ms'], 5_000, 100),
  batchSamples: whole('batch-samples', values['batch-samples'], 500, 1),
  bufferLimit: whole('buffer-limit', values['buffer-limit'], 100_000, 1),
  machineId: values['machine-id'],
  hostname: values.hostname,
  policy: { runCommands: values['run-commands'], allowedCommands: values['allow-command'] },
  log,
});

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  agent.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

agent.start().then(
  () => log('agent running', { nodeId: agent.registeredNodeId ?? null }),
  (error: unknown) => {
    log('agent failed to start', { error: (error as Error).message });
    process.exit(1);
  },
);
