/** A start-up failure with one line that names the problem; main prints it without a stack. */
export class StartupError extends Error {
  override name = 'StartupError';
}
