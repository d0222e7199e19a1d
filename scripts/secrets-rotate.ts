import { ConfigError, loadConfig } from '../src/config.js';
import { OperatorError } from '../src/ops/database-target.js';
import { rotateSecretsCommand } from '../src/ops/secrets.js';

try {
  await rotateSecretsCommand(loadConfig(), (line) => console.log(line));
} catch (error) {
  if (!(error instanceof OperatorError || error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exitCode = 1;
}
