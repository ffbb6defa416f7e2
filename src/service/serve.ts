import type { Failpoints } from '../core/failpoints.js';
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import { join } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { sql } from 'kysely';
import { systemClock, type Clock } from '../core/clock.js';
import { isErrno, PermanentError, UserError } from '../core/errors.js';
import { systemRandom, type RandomSource } from '../core/random.js';
import { writeFileDurably } from '../os/durable-file.js';
import { tokenCreated } from './audit/audit-events.js';
import { recordAudit } from './audit/audit-log.js';
import { anyAdminTokenExists, issueToken } from './auth/token-store.js';
import { migrateToLatest, openServiceDatabase, type DatabaseLocation, type ServiceDatabase } from './db/database.js';
import type { ImportJobSettings } from './jobs/job-settings.js';
import { openServiceKey, secureStoredDiskKeys } from './secrets/disk-key-escrow.js';
import type { ServiceKey } from './secrets/service-key.js';
import { buildServer, type FerryServer } from './server.js';
import { checkListenPolicy } from './tls/listen-policy.js';
import { ServiceCertificate, validityProblem, type CertificateMaterial, type TlsFiles } from './tls/service-certificate.js';
import { pauserFromEnv } from './pause-points.js';
import { startAdoptionWorker } from './worker/adoption-worker.js';
import { startDeadlineSweeper, sweepIntervalFor } from './worker/deadline-sweeper.js';
import { PORTAL_SWEEP_INTERVAL_MS, startPortalSessionSweeper } from './portal/portal-session-sweeper.js';
import type { RunningWorker } from './worker/periodic-worker.js';

/** The files `ferry serve` keeps in its data directory (docs/service.md, "Data directory"). */
export const DATABASE_FILE = 'ferry.sqlite';
export const ADMIN_TOKEN_FILE = 'admin.token';

/** How long a stop waits for in-flight requests before it closes their connections. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;

export interface ServeOptions {
  readonly dataDir: string;
  /** `--database`: where the service database is; default the SQLite file DATA_DIR/ferry.sqlite. */
  readonly database?: DatabaseLocation;
  readonly host: string;
  /** 0 picks a free port; {@link RunningService.url} has the real one. */
  readonly port: number;
  /** `--service-key-file`: the service key, kept outside the data directory; default DATA_DIR/service.key. */
  readonly serviceKeyFile?: string;
  readonly logger?: FastifyBaseLogger;
  readonly clock?: Clock;
  readonly random?: RandomSource;
  readonly shutdownTimeoutMs?: number;
  /** Import job settings that differ from the defaults: `--tracking-deadline`, `--shipping-address`, disk limits. */
  readonly importJobs?: Partial<ImportJobSettings>;
  /** The lifetime of agent tokens (registrations and renewals): `--agent-token-lifetime`; default 365 days. */
  readonly agentTokenLifetimeMs?: number;
  /** How often the tracking deadline sweep runs; default {@link sweepIntervalFor} the shorter of the tracking deadline and the never-received period. */
  readonly sweepIntervalMs?: number;
  /** How often ended portal sessions and used or expired sign-in links are deleted; default {@link PORTAL_SWEEP_INTERVAL_MS}. */
  readonly portalSweepIntervalMs?: number;
  /**
   * `--worker-lease`: how long a background task an instance claimed (an adoption, the sweep) stays its
   * without renewal, before another instance may take it over; default 60 s (the workers' defaults).
   */
  readonly workerLeaseMs?: number;
  /** `--adoption-poll`: how often the adoption worker looks for adoptions to run; default 1 s. */
  readonly adoptionPollMs?: number;
  /** Serve HTTPS with these files (`--tls-cert`, `--tls-key`, `--tls-ca`); plain HTTP when absent. */
  readonly tls?: TlsFiles;
  /** Allow plain HTTP on an address other machines can reach (`--insecure-http`); loopback always may. */
  readonly insecureHttp?: boolean;
  /** `--ingest-root`: the folder disks are mounted under for an ingest on the service's host; none when absent. */
  readonly ingestRoot?: string;
  /** Test-only fault injection (FERRY_FAILPOINT); none when absent. */
  readonly failpoints?: Failpoints;
  /** Called with the built server before it listens (e.g. tests add a route). */
  readonly beforeListen?: (server: FerryServer) => void;
  /** Where the object stores' credentials come from (AZURE_STORAGE_CONNECTION_STRING, …); none when absent. */
  readonly env?: NodeJS.ProcessEnv;
}

export interface RunningService {
  /** `http://HOST:PORT` (`https://` with TLS) with the port actually bound. */
  readonly url: string;
  /** The admin token file when this start wrote it (the first start), else undefined. */
  readonly adminTokenFile: string | undefined;
  readonly server: FerryServer;
  /** The TLS certificate served, or undefined over plain HTTP. */
  readonly certificate: ServiceCertificate | undefined;
  /**
   * Reads the TLS files again and serves them to new connections, without closing the listening socket
   * or any connection (what SIGHUP does). When the new files fail a check, logs why, keeps serving the old
   * certificate and rejects with that `UserError`. Rejects over plain HTTP.
   */
  reloadCertificate(): Promise<CertificateMaterial>;
  /**
   * Graceful stop: stops accepting connections (requests on kept-alive connections get 503), lets
   * in-flight requests finish for up to the shutdown timeout, then closes the remaining connections,
   * and closes the database. Idempotent.
   */
  stop(): Promise<void>;
}

/**
 * Starts the service on `dataDir` (created 0700 if missing): refuses plain HTTP on a non-loopback address
 * without `insecureHttp` and checks the TLS files before anything else (`UserError`s), opens the database
 * (SQLite in `dataDir`, or `options.database`), applies pending migrations and opens the service key ({@link openServiceStore}), on the
 * first start (no admin token in the database) writes a new admin token to DIR/admin.token with mode 0600,
 * then listens and starts the background work (the tracking deadline sweep, the adoption worker, the
 * portal session sweep). On any failure everything opened is closed again.
 */
export async function startService(options: ServeOptions): Promise<RunningService> {
  const clock = options.clock ?? systemClock;
  const random = options.random ?? systemRandom;
  checkListenPolicy(options.host, options.tls !== undefined, options.insecureHttp === true);
  const certificate = options.tls === undefined ? undefined : await ServiceCertificate.load(options.tls);
  const { db, serviceKey } = await openServiceStore({ ...options, clock, random });
  let server: FerryServer | undefined;
  try {
    const adminTokenFile = await ensureFirstAdminToken(db, clock, random, options.dataDir);
    server = buildServer({
      db,
      dataDir: options.dataDir,
      serviceKey,
      clock,
      random,
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.importJobs ? { importJobs: options.importJobs } : {}),
      ...(options.agentTokenLifetimeMs !== undefined ? { agentTokenLifetimeMs: options.agentTokenLifetimeMs } : {}),
      ...(certificate ? { tls: certificate } : {}),
      ...(options.env ? { env: options.env } : {}),
      ...(options.ingestRoot !== undefined ? { ingestRoot: options.ingestRoot } : {}),
      ...(options.failpoints ? { failpoints: options.failpoints } : {}),
    });
    await reportRefusedAccounts(server);
    if (certificate) logCertificate(server, certificate.current, 'serving TLS', clock);
    options.beforeListen?.(server);
    await listen(server, options.host, options.port);
    const address = server.app.server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const running = server;
    const { ctx } = server;
    // Test-only fault injection: inert unless the environment names a pause point (pause-points.ts).
    const pause = pauserFromEnv(options.env ?? {});
    const workerOptions = {
      log: server.app.log,
      ...(options.workerLeaseMs !== undefined ? { leaseMs: options.workerLeaseMs } : {}),
      ...(pause !== undefined ? { pause } : {}),
    };
    const sweeper = startDeadlineSweeper(
      { db, clock, random, settings: ctx.importJobs },
      { ...workerOptions, intervalMs: options.sweepIntervalMs ?? sweepIntervalFor(Math.min(ctx.importJobs.trackingDeadlineMs, ctx.importJobs.neverReceivedMs)) },
    );
    const sessionSweeper = startPortalSessionSweeper({ db, clock }, { intervalMs: options.portalSweepIntervalMs ?? PORTAL_SWEEP_INTERVAL_MS, log: server.app.log });
    const adopter = startAdoptionWorker(ctx, { ...workerOptions, ...(options.adoptionPollMs !== undefined ? { intervalMs: options.adoptionPollMs } : {}) });
    let stopping: Promise<void> | undefined;
    return {
      url: `${certificate ? 'https' : 'http'}://${host}:${address.port}`,
      adminTokenFile,
      server,
      certificate,
      reloadCertificate: () => reloadCertificate(running, certificate, clock),
      stop: () => (stopping ??= stopGracefully(running, [sweeper, adopter, sessionSweeper], db, options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS)),
    };
  } catch (err) {
    await server?.app.close().catch(() => undefined);
    await db.destroy();
    throw err;
  }
}

/**
 * The start-up isolation check (backend-isolation.ts): every storage account whose back end now overlaps
 * the data directory or another account (a symlink changed) is logged as an error. The service still
 * starts and serves the other accounts; the refused ones answer 409 BACKEND_OVERLAP until an admin fixes
 * them (each open checks again).
 */
async function reportRefusedAccounts(server: FerryServer): Promise<void> {
  for (const refused of await server.ctx.backends.refusedAccounts(server.ctx.db)) {
    server.app.log.error({ storageAccountId: refused.accountId, tenantId: refused.tenantId }, `storage account refused: ${refused.reason}`);
  }
}

/** The database `ferry serve` uses: `--database`, else the SQLite file DATA_DIR/ferry.sqlite. */
export function serviceDatabaseLocation(options: { readonly dataDir: string; readonly database?: DatabaseLocation }): DatabaseLocation {
  return options.database ?? { kind: 'sqlite', path: join(options.dataDir, DATABASE_FILE) };
}

/**
 * `ferry serve --migrate-only`: opens the database, applies the pending migrations and closes it; returns
 * the names applied. Needs nothing else (no service key, no listening), so a deployment can migrate before
 * it rolls out new instances. Safe while other instances run or migrate: kysely's Migrator takes a lock
 * (PostgreSQL: an advisory lock), and a migration already applied is not applied again.
 */
export async function migrateServiceDatabase(location: DatabaseLocation): Promise<string[]> {
  const db = await openServiceDatabase(location);
  try {
    return await migrateToLatest(db);
  } finally {
    await db.destroy();
  }
}

/**
 * The service's stored state, ready to serve: creates `dataDir` (0700) if missing, opens the database
 * ({@link serviceDatabaseLocation}) and applies pending migrations, opens the service key (creating DIR/service.key on the
 * first start; a missing or wrong key is a `UserError` that says what to do: secrets/disk-key-escrow.ts),
 * and seals any disk key still stored in plain (destroying those no one can use any more). On failure the
 * database is closed again; else the caller closes it.
 */
export async function openServiceStore(options: {
  readonly dataDir: string;
  readonly database?: DatabaseLocation;
  readonly serviceKeyFile?: string;
  readonly clock: Clock;
  readonly random: RandomSource;
}): Promise<{ db: ServiceDatabase; serviceKey: ServiceKey }> {
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const location = serviceDatabaseLocation(options);
  const db = await openServiceDatabase(location);
  try {
    await migrateToLatest(db);
    const keyFile = options.serviceKeyFile !== undefined ? { keyFile: options.serviceKeyFile } : {};
    const serviceKey = await openServiceKey(db, { dataDir: options.dataDir, ...keyFile }, options.clock, options.random);
    const secured = await secureStoredDiskKeys(db, serviceKey, options.random);
    // The WAL may still hold pages of the plain keys just replaced: copy it into the (zeroed) database and empty it.
    // (PostgreSQL keeps old row versions until VACUUM reclaims them: docs/DEPLOYMENT.md, "PostgreSQL".)
    if (secured.sealed + secured.destroyed > 0 && location.kind === 'sqlite') await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(db);
    return { db, serviceKey };
  } catch (err) {
    await db.destroy();
    throw err;
  }
}

async function reloadCertificate(server: FerryServer, certificate: ServiceCertificate | undefined, clock: Clock): Promise<CertificateMaterial> {
  if (certificate === undefined) throw new UserError('the service serves plain HTTP: there is no TLS certificate to reload');
  try {
    // fastify made an https.Server (a tls.Server) from its `https` option; the app's type says http.Server.
    const material = await certificate.reload(server.app.server as unknown as TlsServer);
    logCertificate(server, material, 'reloaded the TLS certificate', clock);
    return material;
  } catch (err) {
    server.app.log.error({ err: err instanceof UserError ? undefined : err }, `kept the previous TLS certificate: ${(err as Error).message}`);
    throw err;
  }
}

function logCertificate(server: FerryServer, material: CertificateMaterial, what: string, clock: Clock): void {
  const fields = { subject: material.subject, validTo: material.validTo.toISOString(), pin: material.pin };
  server.app.log.info(fields, what);
  const problem = validityProblem(material, clock.now());
  if (problem !== undefined) server.app.log.warn(fields, `${problem}: clients will refuse it`);
}

async function listen(server: FerryServer, host: string, port: number): Promise<void> {
  try {
    await server.app.listen({ host, port });
  } catch (err) {
    if (isErrno(err, 'EADDRINUSE')) throw new UserError(`cannot listen on ${host}:${port}: the address is in use; pick another with --listen HOST:PORT`, { cause: err });
    if (isErrno(err, 'EADDRNOTAVAIL') || isErrno(err, 'ENOTFOUND')) throw new UserError(`cannot listen on ${host}:${port}: no such local address`, { cause: err });
    if (isErrno(err, 'EACCES')) throw new UserError(`cannot listen on ${host}:${port}: permission denied (ports below 1024 need privileges)`, { cause: err });
    throw err;
  }
}

async function stopGracefully(server: FerryServer, workers: readonly RunningWorker[], db: ServiceDatabase, timeoutMs: number): Promise<void> {
  const closing = server.app.close();
  const sweeping = Promise.all(workers.map((worker) => worker.stop()));
  const timer = setTimeout(() => {
    server.app.log.warn({ timeoutMs }, 'requests still running at the shutdown timeout: closing their connections');
    server.app.server.closeAllConnections();
  }, timeoutMs);
  try {
    await closing;
  } finally {
    clearTimeout(timer);
    await sweeping;
    await db.destroy();
  }
}

/**
 * On the first start (no admin token in the database yet), issues an admin token and writes it to
 * DIR/admin.token (mode 0600, replaced atomically), in one transaction: when the file cannot be written,
 * no token is stored and the next start tries again. Returns the file's path when it wrote one.
 */
async function ensureFirstAdminToken(db: ServiceDatabase, clock: Clock, random: RandomSource, dataDir: string): Promise<string | undefined> {
  if (await anyAdminTokenExists(db)) return undefined;
  const path = join(dataDir, ADMIN_TOKEN_FILE);
  await db.transaction().execute(async (trx) => {
    const issued = await issueToken({ db: trx, clock, random }, { role: 'admin' });
    await recordAudit({ db: trx, clock, random }, tokenCreated('service:first-start', issued));
    await writeSecretFile(path, `${issued.token}\n`);
  });
  return path;
}

/** Writes `text` to `path` with mode 0600, durably (temp file, fsync, rename, fsync of the folder). */
async function writeSecretFile(path: string, text: string): Promise<void> {
  try {
    await writeFileDurably(path, text, { mode: 0o600 });
  } catch (err) {
    throw new PermanentError(`cannot write the admin token to ${path}: ${(err as Error).message}`, { cause: err });
  }
}
