import { once } from 'node:events';
import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { envChoice } from '../../core/env-integer.js';
import { UserError } from '../../core/errors.js';
import type { CliContext } from '../context.js';
import type { DatabaseLocation } from '../../service/db/database-location.js';

/** pino's levels, for FERRY_LOG_LEVEL (default info). */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export interface ServeOptions {
  /** Mandatory except with `--migrate-only --database URL`. */
  readonly dataDir?: string;
  readonly database?: DatabaseLocation;
  readonly migrateOnly?: boolean;
  readonly listen: { host: string; port: number };
  /** Milliseconds. */
  readonly trackingDeadline?: number;
  readonly neverReceivedAfter?: number;
  /** Milliseconds: `--worker-lease`, `--adoption-poll`, `--sweep-interval`. */
  readonly workerLease?: number;
  readonly adoptionPoll?: number;
  readonly sweepInterval?: number;
  readonly shippingAddress?: string;
  readonly serviceKeyFile?: string;
  /** Milliseconds. */
  readonly agentTokenLifetime?: number;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly tlsCa?: string;
  readonly insecureHttp?: boolean;
  readonly ingestRoot?: string;
}

/**
 * `ferry serve`: starts the service, prints the URL it listens on (and where the first admin token was
 * written) on stdout, logs JSON lines on stderr, and on SIGINT/SIGTERM stops gracefully and exits 0.
 */
export async function serveCommand(ctx: CliContext, options: ServeOptions): Promise<number> {
  if (options.migrateOnly) return migrateOnlyCommand(ctx, options);
  if (options.dataDir === undefined) throw new UserError('give --data-dir DIR: where the service keeps its service key, first admin token and default storage accounts');
  // Loaded here, not at start-up: every other command would pay for the service's modules (~0.2 s).
  const [{ createServiceLogger }, { startService }] = await Promise.all([import('../../service/logger.js'), import('../../service/serve.js')]);
  const logger = createServiceLogger(ctx.stderr, envChoice(ctx.env, 'FERRY_LOG_LEVEL', LOG_LEVELS, 'a log level') ?? 'info');
  const dataDir = resolve(options.dataDir);
  const importJobs = {
    ...(options.trackingDeadline !== undefined ? { trackingDeadlineMs: options.trackingDeadline } : {}),
    ...(options.neverReceivedAfter !== undefined ? { neverReceivedMs: options.neverReceivedAfter } : {}),
    ...(options.shippingAddress !== undefined ? { shippingAddress: options.shippingAddress } : {}),
  };
  // The CLI's clock (FERRY_TEST_CLOCK_OFFSET_MS shifts it, for test suites: e.g. retention's 7-day floor).
  const clock = ctx.repoContext.clock;
  const tls = tlsFiles(options);
  const service = await startService({
    dataDir,
    ...(options.database !== undefined ? { database: options.database } : {}),
    host: options.listen.host,
    port: options.listen.port,
    logger,
    importJobs,
    clock,
    ...(options.serviceKeyFile !== undefined ? { serviceKeyFile: resolve(options.serviceKeyFile) } : {}),
    ...(options.agentTokenLifetime !== undefined ? { agentTokenLifetimeMs: options.agentTokenLifetime } : {}),
    ...(options.workerLease !== undefined ? { workerLeaseMs: options.workerLease } : {}),
    ...(options.adoptionPoll !== undefined ? { adoptionPollMs: options.adoptionPoll } : {}),
    ...(options.sweepInterval !== undefined ? { sweepIntervalMs: options.sweepInterval } : {}),
    ...(tls ? { tls } : {}),
    ...(options.insecureHttp ? { insecureHttp: true } : {}),
    ...(options.ingestRoot !== undefined ? { ingestRoot: await ingestRoot(options.ingestRoot) } : {}),
    ...(ctx.repoContext.failpoints ? { failpoints: ctx.repoContext.failpoints } : {}),
    env: ctx.env,
  });
  // SIGHUP re-reads the certificate and key (after a renewal); a bad pair is logged and the old one kept.
  const reload = (): void => void service.reloadCertificate().catch(() => undefined);
  if (tls) process.on('SIGHUP', reload);
  ctx.stdout.write(`Ferry service listening on ${service.url}\n`);
  if (service.adminTokenFile !== undefined) {
    ctx.stdout.write(`First start: an admin token was written to ${service.adminTokenFile} (export FERRY_TOKEN=$(cat ${service.adminTokenFile}))\n`);
  }
  if (!ctx.signal.aborted) await once(ctx.signal, 'abort');
  ctx.stdout.write('Stopping: waiting for running requests to finish\n');
  process.off('SIGHUP', reload);
  await service.stop();
  ctx.stdout.write('Stopped\n');
  return 0;
}

/**
 * `ferry serve --migrate-only`: applies the pending migrations to `--database` (or DATA_DIR/ferry.sqlite),
 * prints one line per migration applied (or that there was none) and returns 0.
 */
async function migrateOnlyCommand(ctx: CliContext, options: ServeOptions): Promise<number> {
  if (options.database === undefined && options.dataDir === undefined) throw new UserError('--migrate-only needs the database: give --database postgres://… or --data-dir DIR (for DIR/ferry.sqlite)');
  const { migrateServiceDatabase, serviceDatabaseLocation } = await import('../../service/serve.js');
  const location = options.database ?? serviceDatabaseLocation({ dataDir: resolve(options.dataDir!) });
  if (location.kind === 'sqlite') await mkdir(dirname(location.path), { recursive: true, mode: 0o700 });
  const applied = await migrateServiceDatabase(location);
  for (const name of applied) ctx.stdout.write(`applied migration ${name}\n`);
  ctx.stdout.write(applied.length === 0 ? 'The database is up to date: no migration to apply\n' : `The database is up to date: ${applied.length} migrations applied\n`);
  return 0;
}


/** The TLS files of the options, checked for the combinations that make sense; undefined for plain HTTP. */
/** `--ingest-root DIR` resolved; it must be an existing folder. */
async function ingestRoot(dir: string): Promise<string> {
  const path = resolve(dir);
  const info = await stat(path).catch(() => undefined);
  if (info === undefined || !info.isDirectory()) throw new UserError(`--ingest-root ${dir} is not a folder: give the folder shipped disks are mounted under on this host`);
  return path;
}

function tlsFiles(options: ServeOptions): { certFile: string; keyFile: string; caFile?: string } | undefined {
  const { tlsCert, tlsKey, tlsCa } = options;
  if (tlsCert === undefined && tlsKey === undefined) {
    if (tlsCa !== undefined) throw new UserError('--tls-ca names the CA of --tls-cert: give --tls-cert FILE --tls-key FILE with it');
    return undefined;
  }
  if (tlsCert === undefined || tlsKey === undefined) throw new UserError('give both --tls-cert FILE and --tls-key FILE (the certificate and its private key)');
  if (options.insecureHttp) throw new UserError('--insecure-http allows plain HTTP, --tls-cert asks for HTTPS: give one of them');
  return { certFile: resolve(tlsCert), keyFile: resolve(tlsKey), ...(tlsCa !== undefined ? { caFile: resolve(tlsCa) } : {}) };
}
