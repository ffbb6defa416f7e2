import { once } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { UserError } from '../../core/errors.js';
import { parseAddress, type Runner } from '../command-kit.js';
import type { CliContext } from '../context.js';
import { parseDatabaseUrl, type DatabaseLocation } from '../../service/db/database-location.js';

export const DEFAULT_LISTEN = '127.0.0.1:8420';

export interface ServeOptions {
  /** Mandatory except with `--migrate-only --database URL`. */
  readonly dataDir?: string;
  readonly database?: DatabaseLocation;
  readonly migrateOnly?: boolean;
  readonly listen: { host: string; port: number };
  /** Milliseconds. */
  readonly trackingDeadline?: number;
  readonly neverReceivedAfter?: number;
  readonly shippingAddress?: string;
  readonly serviceKeyFile?: string;
  /** Milliseconds. */
  readonly agentTokenLifetime?: number;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly tlsCa?: string;
  readonly insecureHttp?: boolean;
}

/**
 * Adds `ferry serve --data-dir DIR [--database postgres://…] [--migrate-only] [--listen HOST:PORT]
 * [--service-key-file FILE] [--tracking-deadline 14d] [--shipping-address TEXT]
 * [--tls-cert FILE --tls-key FILE [--tls-ca FILE] | --insecure-http]` to the program.
 */
export function registerServe(program: Command, ctx: CliContext, run: Runner): void {
  program
    .command('serve')
    .description('run the Ferry service (API) on a data directory: SQLite database, admin token, storage accounts')
    .option('--data-dir <DIR>', 'where the service keeps its database (without --database), service key, first admin token and default storage accounts')
    .addOption(
      new Option('--database <URL>', 'a PostgreSQL database shared by every instance (postgres://USER@HOST:PORT/DB; password from PGPASSWORD or ~/.pgpass); default DATA_DIR/ferry.sqlite')
        .env('FERRY_DATABASE_URL')
        .argParser(parseDatabaseOption),
    )
    .option('--migrate-only', 'apply the pending database migrations, print their names and exit (no --data-dir needed with --database)')
    .option('--listen <HOST:PORT>', `address to listen on (port 0: any free port)`, parseListen, parseListen(DEFAULT_LISTEN))
    .option('--service-key-file <FILE>', 'the key that seals the escrowed disk keys (must exist); default DATA_DIR/service.key, created on the first start')
    .option('--tracking-deadline <DURATION>', 'time from disks prepared to carrier and tracking number, else the import job is deleted (e.g. 14d, 36h; default 14d)', parseDuration)
    .option('--never-received-after <DURATION>', 'time from a job received to its disks not yet presented being marked NeverReceived (default 14d)', parseDuration)
    .option('--shipping-address <TEXT>', 'where import job disks are shipped to (diskprep prints it; \\n for a line break)', parseAddress)
    .option('--agent-token-lifetime <DURATION>', 'lifetime of agent tokens from registrations and renewals; agents renew in its last third (e.g. 90d; default 365d, at most 5 years)', parseAgentTokenLifetime)
    .option('--tls-cert <FILE>', 'serve HTTPS with this PEM certificate (then any intermediates); reloaded on SIGHUP')
    .option('--tls-key <FILE>', 'the PEM private key of --tls-cert (unencrypted); reloaded on SIGHUP')
    .option('--tls-ca <FILE>', 'the PEM certificate of the CA that signed --tls-cert: vault credentials pin it')
    .option('--insecure-http', 'allow plain HTTP on an address other machines can reach (a proxy in front terminates TLS)')
    .action((opts: ServeOptions) => run(serveCommand(ctx, opts)));
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
  const logger = createServiceLogger(ctx.stderr, ctx.env.FERRY_LOG_LEVEL || 'info');
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
    ...(tls ? { tls } : {}),
    ...(options.insecureHttp ? { insecureHttp: true } : {}),
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

/** Parses `--database` (commander calls it with the option's value). */
function parseDatabaseOption(value: string): DatabaseLocation {
  try {
    return parseDatabaseUrl(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** The TLS files of the options, checked for the combinations that make sense; undefined for plain HTTP. */
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

/** Parses `HOST:PORT` (an IPv6 host in brackets: `[::1]:8420`); port 0 means any free port. */
export function parseListen(value: string): { host: string; port: number } {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (match === null || !(port >= 0 && port <= 65535)) {
    throw new InvalidArgumentError('expected HOST:PORT, e.g. 127.0.0.1:8420, 0.0.0.0:8420 or [::1]:8420');
  }
  return { host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** Parses a duration `<whole number><s|m|h|d|w>` (e.g. `14d`, `36h`, `30s`) into milliseconds, at most 10 years. */
export function parseDuration(value: string): number {
  const match = /^([1-9][0-9]{0,8})([smhdw])$/.exec(value);
  const ms = match === null ? NaN : Number(match[1]) * UNIT_MS[match[2]!]!;
  if (!(ms <= 3650 * 86_400_000)) throw new InvalidArgumentError('expected a whole number and a unit s, m, h, d or w (at most 10 years), e.g. 14d, 36h, 30s');
  return ms;
}

/** Parses `--agent-token-lifetime`: a duration (see {@link parseDuration}) of at most 5 years. */
export function parseAgentTokenLifetime(value: string): number {
  const ms = parseDuration(value);
  if (ms > 5 * 365 * 86_400_000) throw new InvalidArgumentError('an agent token lives at most 5 years (1825d)');
  return ms;
}
