import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './infra/logger.js';
import { createServer, StartupError } from './server.js';

function fail(message: string): never {
  process.stderr.write(`omega: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) fail(`invalid configuration: ${error.message}`);
    throw error;
  }
  const log = createLogger(config.logLevel, undefined, { redact: config.observability.logRedact });
  let server;
  try {
    server = await createServer(config, log);
  } catch (error) {
    if (error instanceof StartupError) fail(error.message);
    throw error;
  }
  process.stdout.write(`Omega Control Plane ready at ${server.url}\n`);
  const running = server;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    running.close().then(
      () => process.exit(0),
      (error: unknown) => fail(`shutdown failed: ${(error as Error).message}`),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => fail(`unexpected start-up failure: ${(error as Error).message}`));
