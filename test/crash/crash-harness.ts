// Running the built CLI so that it can die: test/e2e/harness.ts reports a death by signal as exit code -1,
// and cannot kill a run part-way. This runner keeps the signal, can SIGKILL the child after a delay, and
// bounds every run so a hung child fails the test instead of hanging CI.
import { spawn, spawnSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { systemClock } from '../../src/core/clock.js';
import { INSECURE_TEST_KDF } from '../../src/engine/crypto/key-slot.js';
import { Repository } from '../../src/engine/repository/repository.js';
import { FsStorage } from '../../src/storage/fs/fs-storage.js';
import { FERRY_BIN, TEST_PASSWORD } from '../e2e/harness.js';

export interface CrashRunResult {
  /** Exit code, or null when the process died by a signal. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time from spawn to exit. */
  readonly durationMs: number;
  /**
   * True when this runner's SIGKILL ended the process. A process that exits in the moment the kill is sent is
   * still a zombie that accepts the signal; it counts as finished by itself, since its exit status says so.
   */
  readonly killedByTest: boolean;
}

export interface CrashRunOptions {
  readonly env?: Record<string, string | undefined>;
  /** SIGKILL the process this many milliseconds after spawning it, unless it ended before. */
  readonly killAfterMs?: number;
  /** Fail (after a SIGKILL) when the process runs longer than this; default 5 minutes. */
  readonly timeoutMs?: number;
}

/** Runs `bin/ferry ARGS` with the test password and the cheap KDF, like the e2e harness. */
export function runFerry(args: readonly string[], options: CrashRunOptions = {}): Promise<CrashRunResult> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, FERRY_PASSWORD: TEST_PASSWORD, FERRY_INSECURE_TEST_KDF: '1', ...options.env })) {
    if (v !== undefined) env[k] = v;
  }
  // A failpoint armed in the test process's own environment must not leak into commands that do not ask for it.
  if (options.env?.FERRY_FAILPOINT === undefined) delete env.FERRY_FAILPOINT;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FERRY_BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killSent = false;
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const killTimer =
      options.killAfterMs === undefined
        ? undefined
        : setTimeout(() => {
            killSent = child.kill('SIGKILL');
          }, options.killAfterMs);
    const hangTimer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 5 * 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(killTimer);
      clearTimeout(hangTimer);
      if (timedOut) {
        reject(new Error(`ferry ${args.join(' ')} did not finish in ${options.timeoutMs ?? 300_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
        return;
      }
      const killedByTest = killSent && signal === 'SIGKILL';
      resolve({ code, signal, stdout, stderr, durationMs: performance.now() - started, killedByTest });
    });
  });
}

/** True when the process ended by SIGKILL (as a signal, or as a shell would report it, 128 + 9). */
export function diedBySigkill(result: CrashRunResult): boolean {
  return result.signal === 'SIGKILL' || result.code === 137;
}

/** One line describing how a run ended, with its output, for assertion messages. */
export function describeRun(args: readonly string[], result: CrashRunResult): string {
  const how = result.signal !== null ? `died by ${result.signal}` : `exited ${result.code}`;
  return `ferry ${args.join(' ')} ${how} after ${Math.round(result.durationMs)} ms\nstdout: ${result.stdout.slice(-4000)}\nstderr: ${result.stderr.slice(-4000)}`;
}

/** Runs ferry and throws with its output unless it exits with `expected`. */
export async function runFerryOk(args: readonly string[], options: CrashRunOptions = {}, expected = 0): Promise<CrashRunResult> {
  const result = await runFerry(args, options);
  if (result.code !== expected) throw new Error(`expected exit ${expected}: ${describeRun(args, result)}`);
  return result;
}

/**
 * Creates a repository at `path` with the test password and the cheap KDF, as `ferry init` does, in this
 * process; `packSize` lets a test reach many packs with little data (the default is 16 MiB).
 */
export async function initRepository(path: string, options: { packSize?: number } = {}): Promise<void> {
  const storage = new FsStorage(path);
  try {
    await Repository.init(storage, TEST_PASSWORD, { clock: systemClock, hostname: 'crash-test', username: 'crash-test' }, { kdf: INSECURE_TEST_KDF, ...options });
  } finally {
    await storage.close();
  }
}

/** Copies a prepared repository (cp -a) to `to`, which must not exist: cheaper than repeating its backups. */
export async function copyRepository(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  const cp = spawnSync('cp', ['-a', '--', from, to], { encoding: 'utf8' });
  if (cp.status !== 0) throw new Error(`cp -a ${from} ${to} failed: ${cp.stderr}`);
}
