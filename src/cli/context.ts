import { hostname, userInfo } from 'node:os';
import { systemClock } from '../core/clock.js';
import { INSECURE_TEST_KDF, DEFAULT_KDF, type KdfParams } from '../engine/crypto/key-slot.js';
import { acquireLock, type RepositoryLock } from '../engine/repository/lock.js';
import { Repository, type Identity } from '../engine/repository/repository.js';
import { readPassword } from './password.js';
import { openStorage } from './storage-location.js';

/** Everything a command may touch of the process, so commands stay testable and thin. */
export interface CliContext {
  readonly env: NodeJS.ProcessEnv;
  readonly stdin: NodeJS.ReadStream;
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
  readonly identity: Identity;
  readonly pid: number;
  readonly isRoot: boolean;
  /** Aborted on SIGINT/SIGTERM. */
  readonly signal: AbortSignal;
  /** Cleanups to run before exiting, also on interruption (e.g. releasing locks). */
  readonly cleanups: (() => Promise<void>)[];
}

export interface RepoOptions {
  readonly repo?: string;
  readonly passwordFile?: string;
  readonly json?: boolean;
}

export function processContext(signal: AbortSignal): CliContext {
  return {
    env: process.env,
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    identity: { clock: systemClock, hostname: process.env.FERRY_HOSTNAME ?? hostname(), username: safeUsername() },
    pid: process.pid,
    isRoot: process.getuid?.() === 0,
    signal,
    cleanups: [],
  };
}

/** The KDF for new key slots; FERRY_INSECURE_TEST_KDF=1 makes it cheap, for test suites only. */
export function kdfFor(ctx: CliContext): KdfParams {
  return ctx.env.FERRY_INSECURE_TEST_KDF === '1' ? INSECURE_TEST_KDF : DEFAULT_KDF;
}

export function repositoryLocation(ctx: CliContext, options: RepoOptions): string | undefined {
  return options.repo ?? ctx.env.FERRY_REPOSITORY;
}

/**
 * Opens the repository named by -r/FERRY_REPOSITORY with the password, and (unless `lock` is false)
 * takes a shared lock released at exit. Nothing is written before the password is verified.
 */
export async function openRepository(ctx: CliContext, options: RepoOptions, lock: 'shared' | 'exclusive' | false = 'shared'): Promise<Repository> {
  const storage = openStorage(repositoryLocation(ctx, options));
  ctx.cleanups.push(() => storage.close());
  const password = await readPassword({ passwordFile: options.passwordFile, env: ctx.env, stdin: ctx.stdin, stderr: ctx.stderr });
  const repo = await Repository.open(storage, password, ctx.identity);
  if (lock) {
    const held: RepositoryLock = await acquireLock(repo, lock === 'exclusive', ctx.pid);
    ctx.cleanups.unshift(() => held.release());
  }
  return repo;
}

function safeUsername(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'unknown');
  }
}
