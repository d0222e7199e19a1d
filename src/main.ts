import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './infra/logger.js';
import { StartupError } from './startup-error.js';

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
  // Tracing starts before the server's modules load: HTTP and Redis are instrumented as they load.
  const tracing = config.observability.tracing.enabled
    ? await import('./infra/tracing.js').then(({ startTracing }) => startTracing(config.observability.tracing, log))
    : undefined;
  const { createServer } = await import('./server.js');
  let server;
  try {
    server = await createServer(config, log, { tracing });
  } catch (error) {
    await tracing?.shutdown().catch(() => undefined);
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
    running
      .close()
      .then(() => tracing?.shutdown())
      .then(
        () => process.exit(0),
        (error: unknown) => fail(`shutdown failed: ${(error as Error).message}`),
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => fail(`unexpected start-up failure: ${(error as Error).message}`));
