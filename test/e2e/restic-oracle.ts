// restic as an oracle for differential tests (installed in CI; .ci/run installs it).
import { spawn } from 'node:child_process';
import type { RunOptions, RunResult } from './harness.js';

export const RESTIC = '/usr/bin/restic';
export const RESTIC_PASSWORD = 'restic-oracle';

/** Runs restic without a cache, with the oracle's password, as a user would (optionally as another user). */
export function restic(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, RESTIC_PASSWORD, ...options.env })) {
    if (v !== undefined) env[k] = v;
  }
  const argv = ['--no-cache', ...args];
  const [command, commandArgs] = options.asUser
    ? ['setpriv', [`--reuid=${options.asUser.uid}`, `--regid=${options.asUser.gid}`, '--clear-groups', RESTIC, ...argv]]
    : [RESTIC, argv];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, commandArgs, { env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? -1, stdout, stderr }));
  });
}

/** Like {@link restic} but fails with the output when the exit code is not `expected`. */
export async function resticOk(args: readonly string[], options: RunOptions = {}, expected = 0): Promise<RunResult> {
  const result = await restic(args, options);
  if (result.code !== expected) throw new Error(`restic ${args.join(' ')} exited ${result.code}, expected ${expected}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}
