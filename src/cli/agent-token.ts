import { open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../core/clock.js';
import { isErrno, UserError } from '../core/errors.js';
import { AGENT_TOKEN_RENEWAL_FRACTION } from '../service/auth/roles.js';
import type { IssuedToken } from '../service/auth/token-store.js';
import type { Principal } from '../service/auth/principal.js';
import { readRegistration, requireRegistration, stateDir, writeRegistration, type AgentRegistration } from './agent-state.js';
import { ServiceClient, ServiceRequestError } from './service-client.js';
import { serviceTransport, type GlobalOptions } from './service-trust.js';

/**
 * The agent token's lifecycle on a registered machine (docs/agent.md, "The agent token"):
 *
 * - Every agent command that uses the service first shows its token to the service (`GET /v1/whoami`). A
 *   token the service refuses ends the command at once with one line saying what happened and what to do
 *   (revoked or expired: register again), before any passphrase is asked or any work is done.
 * - Once the last third of the token's lifetime has begun ({@link renewalDue}), the command renews it in
 *   two steps: `POST /v1/tokens/renew` gives a new token; it is stored durably in agent.json (temp file,
 *   fsync, rename, fsync of the folder) marked `renewalPending`; only then `POST /v1/tokens/renew/confirm`
 *   with the new token makes the service revoke the old one, and the mark is cleared. A crash before the
 *   new token is stored leaves the old one, which still works (the service replaces the lost renewal at
 *   the next one); a crash after it leaves the new one, and the next command confirms.
 * - Commands on one machine renew one at a time (a lock file in the state folder), and each re-reads
 *   agent.json under the lock: of two backups started at once, one renews and the other uses its token.
 * - A renewal that cannot reach the service is a warning: the token still works, the next command tries
 *   again.
 */

/** What renewing needs of the command's context (kept small: nothing here depends on the CLI's context). */
export interface AgentTokenDeps {
  readonly env: NodeJS.ProcessEnv;
  readonly clock: Clock;
  readonly stderr: NodeJS.WritableStream;
  readonly signal?: AbortSignal;
  /** The command's `--ca-cert` (else FERRY_CA_CERT, else the CA pinned at registration): service-trust.ts. */
  readonly globalOptions: GlobalOptions;
}

/** The lock file that serializes renewals on one machine. */
export const RENEWAL_LOCK_FILE = 'agent-token.lock';
/** A lock older than this is a crashed command's, whatever its process id says. */
const LOCK_STALE_MS = 5 * 60_000;
/** How long a command waits for another one's renewal before it goes on with its token as it is. */
const LOCK_WAIT_MS = 30_000;
const LOCK_POLL_MS = 100;

/**
 * True when the registration's token is in the last third (AGENT_TOKEN_RENEWAL_FRACTION) of its lifetime at
 * `now`, counted from when it was issued (`tokenIssuedAt`, else `registeredAt`) to `tokenExpiresAt`.
 */
export function renewalDue(registration: AgentRegistration, now: number): boolean {
  const issued = Date.parse(registration.tokenIssuedAt ?? registration.registeredAt);
  const expires = Date.parse(registration.tokenExpiresAt);
  return now >= expires - (expires - issued) * AGENT_TOKEN_RENEWAL_FRACTION;
}

/**
 * The machine's registration with a token the service accepts: checked with the service, renewed first
 * when due (see the module comment), a pending confirmation finished. Reads agent.json when `registration`
 * is not given (`UserError` when the machine is not registered). When the service cannot be reached the
 * registration is returned as it is (the command itself then fails, or works offline, e.g. to staging).
 * A `UserError` when the service refuses the token.
 */
export async function activeRegistration(deps: AgentTokenDeps, registration?: AgentRegistration): Promise<AgentRegistration> {
  let current = registration ?? (await requireRegistration(deps.env));
  // Another command may have renewed since `registration` was read.
  current = (await readRegistration(deps.env)) ?? current;
  let principal: Principal;
  try {
    principal = await clientFor(deps, current).whoami();
  } catch (err) {
    if (!isRefusal(err)) return current;
    // Renewed by another command between the read and the check: its token is in agent.json now.
    const reread = err.code === 'TOKEN_RENEWED' ? await readRegistration(deps.env) : undefined;
    if (reread !== undefined && reread.token !== current.token) return activeRegistration(deps, reread);
    throw refusedToken(err);
  }
  if (current.renewalPending !== true && !renewalDue({ ...current, tokenExpiresAt: principal.expiresAt }, deps.clock.now())) return current;
  return withRenewalLock(deps, current, () => renewUnderLock(deps, current.token));
}

/** Under the lock: finishes a pending confirmation, or renews when still due. */
async function renewUnderLock(deps: AgentTokenDeps, seenToken: string): Promise<AgentRegistration> {
  let current = await requireRegistration(deps.env);
  if (current.token !== seenToken && current.renewalPending !== true) return current;
  if (current.renewalPending !== true) {
    if (!renewalDue(current, deps.clock.now())) return current;
    let renewed: IssuedToken;
    try {
      renewed = await clientFor(deps, current).request<IssuedToken>('POST', '/v1/tokens/renew');
    } catch (err) {
      if (isRefusal(err)) throw refusedToken(err);
      deps.stderr.write(`warning: could not renew this machine's agent token (it expires at ${current.tokenExpiresAt}): ${(err as Error).message}; the next command tries again\n`);
      return current;
    }
    current = { ...current, token: renewed.token, tokenIssuedAt: renewed.createdAt, tokenExpiresAt: renewed.expiresAt, renewalPending: true };
    // Stored before the old token is given up: a crash from here on leaves a working token on disk.
    await writeRegistration(deps.env, current);
  }
  try {
    await clientFor(deps, current).request('POST', '/v1/tokens/renew/confirm');
  } catch (err) {
    if (isRefusal(err)) throw refusedToken(err);
    deps.stderr.write(`warning: the renewed agent token is stored, but the service was not told to revoke the old one: ${(err as Error).message}; the next command tells it\n`);
    return current;
  }
  const { renewalPending: _done, ...confirmed } = current;
  await writeRegistration(deps.env, confirmed);
  deps.stderr.write(`renewed this machine's agent token: it now expires at ${confirmed.tokenExpiresAt}\n`);
  return confirmed;
}

/** How long the check and each renewal step wait for the service: an offline machine backing up to staging must not wait long. */
const CHECK_TIMEOUT_MS = 10_000;

function clientFor(deps: AgentTokenDeps, registration: AgentRegistration): ServiceClient {
  const timeout = AbortSignal.timeout(CHECK_TIMEOUT_MS);
  return new ServiceClient(registration.server, registration.token, deps.signal ? AbortSignal.any([deps.signal, timeout]) : timeout, serviceTransport(deps, registration));
}

/** An answer that says the token itself is refused (401), as opposed to the service being unreachable. */
function isRefusal(err: unknown): err is ServiceRequestError {
  return err instanceof ServiceRequestError && err.status === 401;
}

/** The one line a command ends with when the service refuses the machine's agent token. */
function refusedToken(err: ServiceRequestError): UserError {
  const what = "the service refused this machine's agent token";
  switch (err.code) {
    case 'TOKEN_RENEWED':
      // agent.json holds the very token that was renewed: the renewal was not this machine's.
      return new UserError(
        `${what}: it was replaced by a renewal that this machine did not make, so someone else has a copy of it; have a tenant-admin revoke ` +
          "this machine's tokens (ferry token list, ferry token revoke ID), then register the machine again (ferry register --credentials FILE)",
        { cause: err },
      );
    case 'TOKEN_REVOKED':
    case 'TOKEN_EXPIRED':
      // The service's message says when, and to register again.
      return new UserError(`${what}: ${err.serviceMessage}`, { cause: err });
    default:
      return new UserError(
        `${what}: ${err.serviceMessage}; if the machine was registered to another service, or the service's database was replaced, register it again (ferry register --credentials FILE)`,
        { cause: err },
      );
  }
}

/**
 * Runs `work` holding the machine's renewal lock (a file created exclusively in the state folder, holding
 * the process id). A lock whose process is gone, or older than LOCK_STALE_MS, is taken over. When the lock
 * stays held for LOCK_WAIT_MS the work is skipped and `registration` is returned (its token still works).
 */
async function withRenewalLock(deps: AgentTokenDeps, registration: AgentRegistration, work: () => Promise<AgentRegistration>): Promise<AgentRegistration> {
  const path = join(stateDir(deps.env), RENEWAL_LOCK_FILE);
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const handle = await open(path, 'wx', 0o600);
      try {
        await handle.writeFile(`${process.pid}\n`);
      } finally {
        await handle.close();
      }
      break;
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw new UserError(`cannot create the lock ${path}: ${(err as Error).message}`, { cause: err });
      if (await isStaleLock(path)) {
        await rm(path, { force: true });
        continue;
      }
      if (Date.now() >= deadline) {
        deps.stderr.write(`warning: another ferry command has been renewing the agent token for ${LOCK_WAIT_MS / 1000} s (${path}); going on with the current token\n`);
        return (await readRegistration(deps.env)) ?? registration;
      }
      await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
    }
  }
  try {
    return await work();
  } finally {
    await rm(path, { force: true });
  }
}

async function isStaleLock(path: string): Promise<boolean> {
  try {
    const [text, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    if (Date.now() - info.mtimeMs > LOCK_STALE_MS) return true;
    const pid = Number(text.trim());
    // Written but not yet filled in by its owner: not stale.
    if (!Number.isSafeInteger(pid) || pid <= 0) return false;
    try {
      process.kill(pid, 0);
      return false;
    } catch (err) {
      return isErrno(err, 'ESRCH');
    }
  } catch (err) {
    // Removed meanwhile: try again at once.
    if (isErrno(err, 'ENOENT')) return true;
    throw err;
  }
}
