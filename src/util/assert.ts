/** Programmer errors only: user errors are ConfigError/UsageError (see workload/config.ts, cli.ts). */
export class AssertionError extends Error {
  override name = 'AssertionError';
}

export function assert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new AssertionError(message);
}
