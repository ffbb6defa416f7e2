// restic as an oracle for differential tests (installed in CI; .ci/run installs it).
import { runProgram, type RunOptions, type RunResult } from './harness.js';

export const RESTIC = '/usr/bin/restic';
export const RESTIC_PASSWORD = 'restic-oracle';

/** Runs restic without a cache, with the oracle's password, as a user would (optionally as another user). */
export function restic(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return runProgram(RESTIC, ['--no-cache', ...args], { RESTIC_PASSWORD }, options);
}

/** Like {@link restic} but fails with the output when the exit code is not `expected`. */
export async function resticOk(args: readonly string[], options: RunOptions = {}, expected = 0): Promise<RunResult> {
  const result = await restic(args, options);
  if (result.code !== expected) throw new Error(`restic ${args.join(' ')} exited ${result.code}, expected ${expected}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}
