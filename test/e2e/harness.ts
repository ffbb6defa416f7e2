import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const FERRY_BIN = resolve(import.meta.dirname, '../../bin/ferry');
export const TEST_PASSWORD = 'correct horse battery staple';

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly env?: Record<string, string | undefined>;
  readonly cwd?: string;
  /** Run as this uid/gid through setpriv (tests run as root in CI). */
  readonly asUser?: { uid: number; gid: number };
}

/** Runs the built CLI as a user would, with a cheap KDF and the test password unless overridden. */
export function ferry(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return runProgram(process.execPath, [FERRY_BIN, ...args], { FERRY_PASSWORD: TEST_PASSWORD, FERRY_INSECURE_TEST_KDF: '1' }, options);
}

/**
 * Runs `program` with `args`, the environment of this process plus `defaults` and then `options.env`
 * (an undefined value removes a variable), optionally as another user (setpriv), and collects its output.
 */
export function runProgram(program: string, args: readonly string[], defaults: Record<string, string>, options: RunOptions = {}): Promise<RunResult> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...defaults, ...options.env })) {
    if (v !== undefined) env[k] = v;
  }
  const [command, argv] = options.asUser
    ? ['setpriv', [`--reuid=${options.asUser.uid}`, `--regid=${options.asUser.gid}`, '--clear-groups', program, ...args]]
    : [program, [...args]];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, argv, { env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? -1, stdout, stderr }));
  });
}

/** Like {@link ferry} but fails with the output when the exit code is not `expected`. */
export async function ferryOk(args: readonly string[], options: RunOptions = {}, expected = 0): Promise<RunResult> {
  const result = await ferry(args, options);
  if (result.code !== expected) {
    throw new Error(`ferry ${args.join(' ')} exited ${result.code}, expected ${expected}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  }
  return result;
}

/** The last JSON line of a --json run. */
export function lastJson<T = Record<string, unknown>>(stdout: string): T {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as T;
}

export interface TempDir {
  readonly path: string;
  cleanup(): Promise<void>;
}

export async function makeTempDir(prefix = 'ferry-e2e-'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}
