import { hostname, userInfo } from 'node:os';
import { systemClock, type Clock } from '../core/clock.js';
import { ForbiddenError, ReadOnlyStorageError, UserError, isErrno } from '../core/errors.js';
import { envInteger } from '../core/env-integer.js';
import { armedFailpoints } from '../core/failpoints.js';
import type { KdfParams } from '../engine/crypto/key-slot.js';
import type { RepositoryLock } from '../engine/repository/lock.js';
import { STALE_LOCK_MS } from '../engine/repository/lock-staleness.js';
import type { Repository, RepositoryContext } from '../engine/repository/repository.js';
import type { Storage } from '../storage/storage.js';
import type { AgentRegistration, PendingSeed } from './agent-state.js';
import type { AgentTokenDeps } from './agent-token.js';
import { readPassword } from './password.js';
import type { GlobalOptions } from './service-trust.js';

// The engine, agent state, the service's client and the storage back ends are imported where a command
// needs them: bin/ferry runs once per command, most runs name a local repository with -r, and the service's
// commands open none.

/** Everything a command may touch of the process, so commands stay testable and thin. */
export interface CliContext {
  readonly env: NodeJS.ProcessEnv;
  readonly stdin: NodeJS.ReadStream;
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
  readonly repoContext: RepositoryContext;
  readonly pid: number;
  readonly isRoot: boolean;
  readonly umask: number;
  /** Aborted on SIGINT/SIGTERM. */
  readonly signal: AbortSignal;
  /** Cleanups to run before exiting, also on interruption (e.g. releasing locks). */
  readonly cleanups: (() => Promise<void>)[];
  /** The program's global options (`--ca-cert`), filled in before a command's action runs. */
  readonly globalOptions: GlobalOptions;
}

export interface RepoOptions {
  readonly repo?: string;
  readonly passwordFile?: string;
  readonly json?: boolean;
  /**
   * False with `--no-lock` (commands that only read, see `noLockOption`): no lock is written, so a
   * read-only repository can be read. Undefined for commands without the option.
   */
  readonly lock?: boolean;
}

export function processContext(signal: AbortSignal): CliContext {
  return {
    env: process.env,
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    repoContext: {
      clock: clockFromEnv(process.env),
      hostname: process.env.FERRY_HOSTNAME ?? hostname(),
      username: safeUsername(),
      failpoints: armedFailpoints(process.env.FERRY_FAILPOINT, failpointAction(process.env.FERRY_FAILPOINT_SIGNAL)),
    },
    pid: process.pid,
    isRoot: process.getuid?.() === 0,
    umask: currentUmask(),
    signal,
    cleanups: [],
    globalOptions: {},
  };
}

/**
 * The system clock, shifted by FERRY_TEST_CLOCK_OFFSET_MS when set: lets end-to-end tests of the
 * agent's schedule start "a day later" without waiting. For test suites only.
 */
export function clockFromEnv(env: NodeJS.ProcessEnv): Clock {
  const raw = env.FERRY_TEST_CLOCK_OFFSET_MS;
  if (raw === undefined || raw === '') return systemClock;
  if (!/^-?[0-9]{1,15}$/.test(raw)) throw new UserError(`FERRY_TEST_CLOCK_OFFSET_MS must be a whole number of milliseconds, got "${raw}"`);
  const offset = Number(raw);
  return { now: () => systemClock.now() + offset };
}

/** The KDF for new key slots; FERRY_INSECURE_TEST_KDF=1 makes it cheap, for test suites only. */
export async function kdfFor(ctx: CliContext): Promise<KdfParams> {
  const { INSECURE_TEST_KDF, DEFAULT_KDF } = await import('../engine/crypto/key-slot.js');
  return ctx.env.FERRY_INSECURE_TEST_KDF === '1' ? INSECURE_TEST_KDF : DEFAULT_KDF;
}

/** Where a command's repository is, and the registration it came from when it is this machine's vault. */
export interface RepositoryTarget {
  readonly location: string;
  /** The token for an http(s) location; FERRY_TOKEN when absent. */
  readonly token?: string;
  /** Set when no -r/FERRY_REPOSITORY was given and the registered vault was used (agent mode). */
  readonly registration?: AgentRegistration;
  /** Set when the target is the staging location of a pending offline seed (instead of the vault). */
  readonly seed?: PendingSeed;
}

/**
 * -r, else FERRY_REPOSITORY, else the vault this machine is registered to (its agent token checked, and
 * renewed when due: agent-token.ts); a `UserError` when none.
 */
export async function repositoryTarget(ctx: CliContext, options: RepoOptions): Promise<RepositoryTarget> {
  const explicit = options.repo ?? ctx.env.FERRY_REPOSITORY;
  if (explicit !== undefined && explicit !== '') return { location: explicit };
  const { readRegistration } = await import('./agent-state.js');
  const registration = await readRegistration(ctx.env);
  if (registration) {
    const { activeRegistration } = await import('./agent-token.js');
    return agentTarget(ctx, await activeRegistration(agentTokenDeps(ctx), registration));
  }
  throw new UserError('no repository given: pass -r REPO or set FERRY_REPOSITORY, or register this machine to a vault with `ferry register --credentials FILE`');
}

/** What the agent token's check and renewal (agent-token.ts) need of a command's context. */
export function agentTokenDeps(ctx: CliContext): AgentTokenDeps {
  return { env: ctx.env, clock: ctx.repoContext.clock, stderr: ctx.stderr, signal: ctx.signal, globalOptions: ctx.globalOptions };
}

/** The registered machine's repository: its vault, or the staging location while an offline seed is pending. */
export async function agentTarget(ctx: CliContext, registration: AgentRegistration): Promise<RepositoryTarget> {
  const { readPendingSeed, vaultLocation } = await import('./agent-state.js');
  const seed = await readPendingSeed(ctx.env);
  if (seed) return { location: seed.staging, registration, seed };
  return { location: vaultLocation(registration), token: registration.token, registration };
}

/** Opens the Storage of a target; it is closed at exit. */
export async function openTargetStorage(ctx: CliContext, target: RepositoryTarget): Promise<Storage> {
  const [{ openStorage }, { InterruptibleStorage }] = await Promise.all([import('./storage-location.js'), import('../storage/interruptible-storage.js')]);
  const http = /^https?:/i.test(target.location);
  const serviceTransport = http ? (await import('./service-trust.js')).serviceTransport : undefined;
  const opened = await openStorage(target.location, {
    failpoints: ctx.repoContext.failpoints,
    env: ctx.env,
    ...(serviceTransport ? { transport: serviceTransport(ctx, target.registration) } : {}),
    ...(target.token ? { token: target.token } : {}),
  });
  // After Ctrl-C every command stops at its next object, and only its lock is still removed.
  const storage = new InterruptibleStorage(opened, ctx.signal);
  ctx.cleanups.push(() => storage.close());
  return storage;
}

/**
 * Opens the repository (see {@link repositoryTarget}) with the password, and (unless `lock` is false or
 * the command was given `--no-lock`) takes a lock released at exit. Nothing is written before the
 * password is verified. A storage that refuses to write the lock → `UserError` saying the repository is
 * read-only (and, for a command that has it, suggesting `--no-lock`).
 */
export async function openLockedRepository(
  ctx: CliContext,
  options: RepoOptions,
  lock: 'shared' | 'exclusive' | false = 'shared',
  resolved?: RepositoryTarget,
): Promise<{ repo: Repository; lock: RepositoryLock | undefined; target: RepositoryTarget }> {
  const target = resolved ?? (await repositoryTarget(ctx, options));
  if (lock === 'exclusive' && target.registration) {
    // forget, prune and repair delete or rewrite data: an agent is append-only, so refuse before any work.
    throw new ForbiddenError(
      `this machine's agent token may only add to vault "${target.registration.vault.name}": forget, prune and repair need a tenant-admin, ` +
        `who runs them with -r ${target.location} and FERRY_TOKEN set to a tenant-admin token`,
    );
  }
  const storage = await openTargetStorage(ctx, target);
  const password = await readPassword({ passwordFile: options.passwordFile, env: ctx.env, stdin: ctx.stdin, stderr: ctx.stderr });
  const [{ Repository }, { acquireLock }] = await Promise.all([import('../engine/repository/repository.js'), import('../engine/repository/lock.js')]);
  const repo = await Repository.open(storage, password, ctx.repoContext);
  if (!lock || (lock === 'shared' && options.lock === false)) return { repo, lock: undefined, target };
  let held: RepositoryLock;
  try {
    held = await acquireLock(repo, { exclusive: lock === 'exclusive', pid: ctx.pid, ...lockTimingFromEnv(ctx.env) });
  } catch (err) {
    if (err instanceof ReadOnlyStorageError) throw readOnlyError(target, options, err);
    throw err;
  }
  ctx.cleanups.unshift(() => held.release());
  return { repo, lock: held, target };
}

/** The lock could not be written: a read-only mount or a folder this user may not write to. */
function readOnlyError(target: RepositoryTarget, options: RepoOptions, cause: ReadOnlyStorageError): UserError {
  // `lock` is set (true by default) exactly for the commands that have --no-lock.
  const remedy =
    options.lock === undefined
      ? 'this command changes the repository, so it needs write access'
      : 'to read it without writing a lock, add --no-lock (nothing may change the repository meanwhile)';
  const reason = isErrno(cause.cause, 'EROFS') ? 'its file system is read-only' : 'this user may not write there';
  return new UserError(`cannot write a lock into the repository ${target.location}: ${reason}; ${remedy}`, { cause });
}

/**
 * Lock refresh and stale times from FERRY_LOCK_REFRESH_MS / FERRY_LOCK_STALE_MS (positive integers, ms),
 * meant for tests that cannot wait 30 minutes; unset means the engine defaults.
 */
export function lockTimingFromEnv(env: NodeJS.ProcessEnv): { refreshMs?: number; staleMs?: number } {
  // Up to setTimeout's longest delay (~24.8 days).
  const read = (name: string): number | undefined => envInteger(env, name, { min: 1, max: 2_147_483_647, what: 'a number of milliseconds' });
  const refreshMs = read('FERRY_LOCK_REFRESH_MS');
  const staleMs = read('FERRY_LOCK_STALE_MS');
  if ((refreshMs ?? 0) >= (staleMs ?? STALE_LOCK_MS)) {
    throw new UserError(`FERRY_LOCK_REFRESH_MS must be smaller than the stale time (FERRY_LOCK_STALE_MS, default ${STALE_LOCK_MS} ms)`);
  }
  return { ...(refreshMs ? { refreshMs } : {}), ...(staleMs ? { staleMs } : {}) };
}

/** {@link openLockedRepository} for commands that do not use the lock object themselves. */
export async function openRepository(ctx: CliContext, options: RepoOptions, lock: 'shared' | 'exclusive' | false = 'shared'): Promise<Repository> {
  return (await openLockedRepository(ctx, options, lock)).repo;
}

function safeUsername(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'unknown');
  }
}

/** Dies as abruptly as `kill -9` would, for failpoint tests. */
function crashNow(name: string): never {
  process.stderr.write(`ferry: failpoint ${name} reached, killing the process\n`);
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable: SIGKILL did not end the process');
}

/**
 * What an armed failpoint does: die at once ({@link crashNow}), or with FERRY_FAILPOINT_SIGNAL=SIGINT or
 * SIGTERM send that signal to the process and carry on, as if the user pressed Ctrl-C right there (the
 * handler runs at the next turn of the event loop). For tests of interruptions at exact points.
 */
function failpointAction(signal: string | undefined): (name: string) => void {
  if (signal === undefined || signal === '') return crashNow;
  if (signal !== 'SIGINT' && signal !== 'SIGTERM') throw new UserError(`FERRY_FAILPOINT_SIGNAL must be SIGINT or SIGTERM, got "${signal}"`);
  return () => process.kill(process.pid, signal);
}

/** Reads the umask without leaving it changed (the getter form is deprecated). */
function currentUmask(): number {
  const mask = process.umask(0o022);
  process.umask(mask);
  return mask;
}
