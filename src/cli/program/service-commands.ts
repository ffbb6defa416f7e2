/**
 * The command line of the service and its clients (serve, token, audit, tenant, storage-account, vault,
 * job, datacenter): names, arguments, options and help. Each action loads its command (commands/<verb>.ts)
 * only when it runs, so that starting bin/ferry costs little.
 */
import { Option, type Command } from 'commander';
import { AUDIT_ACTIONS } from '../../contract/audit-vocabulary.js';
import { CREATABLE_ROLES } from '../../service/auth/roles.js';
import { collect, parseAddress, serviceCommand, type Runner } from '../command-kit.js';
import type { CliContext } from '../context.js';
import { DEFAULT_LISTEN, parseAgentTokenLifetime, parseDatabaseOption, parseDuration, parseLifetime, parseLimit, parseListen, parseSince, parseWorkerPeriod, parseWorkers } from '../option-parsers.js';
import type { ServiceOptions } from '../service-client.js';
import type { AuditListOptions } from '../commands/audit.js';
import type { IngestOptions } from '../commands/datacenter.js';
import type { ShipOptions } from '../commands/job.js';
import type { ServeOptions } from '../commands/serve.js';
import type { TokenCreateOptions } from '../commands/token.js';

type Options = ServiceOptions & { readonly json?: boolean; readonly tenant?: string };

/** How many records `ferry audit list` shows unless told. */
const DEFAULT_AUDIT_LIST_LIMIT = 100;

/**
 * Adds `ferry serve --data-dir DIR [--database postgres://…] [--migrate-only] [--listen HOST:PORT]
 * [--service-key-file FILE] [--tracking-deadline 14d] [--shipping-address TEXT] [--worker-lease 60s]
 * [--adoption-poll 1s] [--sweep-interval DURATION]
 * [--tls-cert FILE --tls-key FILE [--tls-ca FILE] | --insecure-http] [--ingest-root DIR]` to the program.
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
    .addOption(
      new Option('--worker-lease <DURATION>', 'how long a background task an instance claimed (an adoption, the deadline sweep) stays its without renewal before another instance takes it over (default 60s)')
        .env('FERRY_WORKER_LEASE')
        .argParser(parseWorkerPeriod),
    )
    .addOption(new Option('--adoption-poll <DURATION>', 'how often the adoption worker looks for adoptions to run (default 1s)').env('FERRY_ADOPTION_POLL').argParser(parseWorkerPeriod))
    .addOption(
      new Option('--sweep-interval <DURATION>', 'how often the tracking deadline and NeverReceived sweep runs (default a tenth of the shorter period, 1s to 60s)')
        .env('FERRY_SWEEP_INTERVAL')
        .argParser(parseWorkerPeriod),
    )
    .option('--shipping-address <TEXT>', 'where import job disks are shipped to (diskprep prints it; \\n for a line break)', parseAddress)
    .option('--agent-token-lifetime <DURATION>', 'lifetime of agent tokens from registrations and renewals; agents renew in its last third (e.g. 90d; default 365d, at most 5 years)', parseAgentTokenLifetime)
    .option('--tls-cert <FILE>', 'serve HTTPS with this PEM certificate (then any intermediates); reloaded on SIGHUP')
    .option('--tls-key <FILE>', 'the PEM private key of --tls-cert (unencrypted); reloaded on SIGHUP')
    .option('--tls-ca <FILE>', 'the PEM certificate of the CA that signed --tls-cert: vault credentials pin it')
    .option('--insecure-http', 'allow plain HTTP on an address other machines can reach (a proxy in front terminates TLS)')
    .option('--ingest-root <DIR>', "the folder shipped disks are mounted under on this host: the operator may then have the service ingest them itself (ferry datacenter ingest --on-service)")
    .action((opts: ServeOptions) => run(import('../commands/serve.js').then((m) => m.serveCommand(ctx, opts))));
}

/** Adds `ferry token create|list|revoke` to the program. */
export function registerToken(program: Command, ctx: CliContext, run: Runner): void {
  const token = program.command('token').description('create, list and revoke service tokens');
  serviceCommand(token, 'create', 'create a token; it is shown once')
    .addOption(new Option('--role <ROLE>', 'what the token may do').choices(CREATABLE_ROLES).makeOptionMandatory())
    .option('--tenant <TENANT>', 'the tenant (name or id) of a tenant-admin token')
    .option('--expires <DURATION>', 'lifetime, e.g. 12h, 30d, 8w, 1y (default: by role, see docs/service.md)', parseLifetime)
    .action((opts: TokenCreateOptions) => run(import('../commands/token.js').then((m) => m.tokenCreateCommand(ctx, opts))));
  serviceCommand(token, 'list', 'list the tokens of every role this token may manage, with their state (never their secrets)').action((opts: ServiceOptions & { json?: boolean }) =>
    run(import('../commands/token.js').then((m) => m.tokenListCommand(ctx, opts))),
  );
  serviceCommand(token, 'revoke', 'revoke a token of any role by its id (an agent must then register again)')
    .argument('<id>', 'the token id (from token create --json or token list)')
    .action((id: string, opts: ServiceOptions & { json?: boolean }) => run(import('../commands/token.js').then((m) => m.tokenRevokeCommand(ctx, id, opts))));
}

/** Adds `ferry audit list` to the program. */
export function registerAudit(program: Command, ctx: CliContext, run: Runner): void {
  const audit = program.command('audit').description('the audit log of privileged acts (admin, tenant-admin)');
  serviceCommand(audit, 'list', "list privileged acts, newest first (a tenant-admin sees its tenant's)")
    // Checked here so a bad value is refused like any bad option; resolved against the clock when the command runs.
    .option('--since <WHEN>', 'only acts at or after WHEN: an ISO time (2026-11-25T00:00:00Z) or an age (12h, 7d, 2w)', (value: string) => (parseSince(value, 0), value))
    .addOption(new Option('--action <ACTION>', 'only this kind of act').choices(AUDIT_ACTIONS))
    .option('--tenant <TENANT>', "only this tenant's acts (name or id; an admin)")
    .option('--limit <N>', `show at most N acts (default ${DEFAULT_AUDIT_LIST_LIMIT})`, parseLimit, DEFAULT_AUDIT_LIST_LIMIT)
    .action((opts: AuditListOptions) => run(import('../commands/audit.js').then((m) => m.auditListCommand(ctx, opts))));
}

/** Adds `ferry tenant create|list` to the program. */
export function registerTenant(program: Command, ctx: CliContext, run: Runner): void {
  const tenant = program.command('tenant').description('manage tenants (an admin token)');
  serviceCommand(tenant, 'create', 'create a tenant')
    .argument('<name>', 'the tenant name (unique)')
    .action((name: string, opts: Options) => run(import('../commands/tenant.js').then((m) => m.tenantCreateCommand(ctx, name, opts))));
  serviceCommand(tenant, 'list', 'list the tenants this token may see').action((opts: Options) => run(import('../commands/tenant.js').then((m) => m.tenantListCommand(ctx, opts))));
}

/** Adds `ferry storage-account create|list` to the program. */
export function registerStorageAccount(program: Command, ctx: CliContext, run: Runner): void {
  const account = program.command('storage-account').description("manage a tenant's storage accounts");
  serviceCommand(account, 'create', 'create a storage account')
    .argument('<name>', 'the storage account name (unique in the tenant)')
    .option('--tenant <TENANT>', 'the tenant (name or id; optional with a tenant-admin token)')
    .option('--backend <URL>', "where its objects live: fs:/ABSOLUTE/PATH (admin only); default: the service's data directory")
    .action((name: string, opts: Options & { backend?: string }) => run(import('../commands/storage-account.js').then((m) => m.storageAccountCreateCommand(ctx, name, opts))));
  serviceCommand(account, 'list', "list a tenant's storage accounts")
    .option('--tenant <TENANT>', 'the tenant (name or id; optional with a tenant-admin token)')
    .action((opts: Options) => run(import('../commands/storage-account.js').then((m) => m.storageAccountListCommand(ctx, opts))));
}

/** Adds `ferry vault create|list|credentials` to the program. */
export function registerVault(program: Command, ctx: CliContext, run: Runner): void {
  const vault = program.command('vault').description("manage a tenant's vaults");
  const tenantOption = (): Option => new Option('--tenant <TENANT>', 'the tenant (name or id; optional with a tenant-admin token)');
  serviceCommand(vault, 'create', 'create a vault in a storage account of the same tenant')
    .argument('<name>', 'the vault name (unique in the tenant)')
    .addOption(tenantOption())
    .addOption(new Option('--storage-account <SA>', 'the storage account (name or id)').makeOptionMandatory())
    .option('--container <NAME>', "the container (folder) in the storage account; default: the vault's id")
    .action((name: string, opts: Options & { storageAccount: string; container?: string }) => run(import('../commands/vault.js').then((m) => m.vaultCreateCommand(ctx, name, opts))));
  serviceCommand(vault, 'list', "list a tenant's vaults")
    .addOption(tenantOption())
    .action((opts: Options) => run(import('../commands/vault.js').then((m) => m.vaultListCommand(ctx, opts))));
  serviceCommand(vault, 'credentials', 'write a vault credentials file: a one-time registration code, valid 48 hours')
    .argument('<vault>', 'the vault (name or id)')
    .addOption(tenantOption())
    .addOption(new Option('--out <FILE>', 'the credentials file to write (mode 0600)').makeOptionMandatory())
    .action((ref: string, opts: Options & { out: string }) => run(import('../commands/vault.js').then((m) => m.vaultCredentialsCommand(ctx, ref, opts))));
}

/** Adds `ferry job list|show|errors|ship|cancel` to the program. */
export function registerJob(program: Command, ctx: CliContext, run: Runner): void {
  const job = program.command('job').description('import jobs: disks shipped to the datacenter to seed a vault');
  const tenantOption = (): Option => new Option('--tenant <TENANT>', 'the tenant (name or id), when a job name is in several tenants');
  const jobArgument = ['<job>', "the import job's name (unique in its tenant) or id"] as const;
  serviceCommand(job, 'list', 'list import jobs with their states')
    .option('--tenant <TENANT>', 'only this tenant (name or id; a tenant-admin token needs none)')
    .action((opts: Options) => run(import('../commands/job.js').then((m) => m.jobListCommand(ctx, opts))));
  serviceCommand(job, 'show', 'show an import job: state, shipping, disks and timeline')
    .argument(...jobArgument)
    .addOption(tenantOption())
    .action((ref: string, opts: Options) => run(import('../commands/job.js').then((m) => m.jobShowCommand(ctx, ref, opts))));
  serviceCommand(job, 'errors', "list an import job's error log: files and disks that did not arrive intact")
    .argument(...jobArgument)
    .addOption(tenantOption())
    .action((ref: string, opts: Options) => run(import('../commands/job.js').then((m) => m.jobErrorsCommand(ctx, ref, opts))));
  serviceCommand(job, 'ship', "enter the shipment's carrier, tracking number and return address (changeable until the disks are received)")
    .argument(...jobArgument)
    .addOption(new Option('--carrier <CARRIER>', 'the carrier, e.g. UPS').makeOptionMandatory())
    .addOption(new Option('--tracking <NUMBER>', "the tracking number (one for all the job's disks)").makeOptionMandatory())
    .addOption(new Option('--return-address <TEXT>', 'where the disks go back to (\\n for a line break)').argParser(parseAddress).makeOptionMandatory())
    .addOption(tenantOption())
    .action((ref: string, opts: ShipOptions) => run(import('../commands/job.js').then((m) => m.jobShipCommand(ctx, ref, opts))));
  serviceCommand(job, 'cancel', 'cancel an import job (only before its disks are received)')
    .argument(...jobArgument)
    .addOption(tenantOption())
    .action((ref: string, opts: Options) => run(import('../commands/job.js').then((m) => m.jobCancelCommand(ctx, ref, opts))));
}

/** Adds `ferry datacenter receive|ingest` (the operator's commands at the datacenter). */
export function registerDatacenter(program: Command, ctx: CliContext, run: Runner): void {
  const datacenter = program.command('datacenter').description("the datacenter's side of offline seeding: receive shipped disks and ingest them (operator token)");
  const tenantOption = (): Option => new Option('--tenant <TENANT>', 'the tenant (its id), when a job name is in several tenants');
  serviceCommand(datacenter, 'receive', "mark an import job's disks received (the job must be Shipping)")
    .argument('<job>', "the import job's name or id")
    .addOption(tenantOption())
    .action((ref: string, opts: Options) => run(import('../commands/datacenter.js').then((m) => m.receiveCommand(ctx, ref, opts))));
  serviceCommand(datacenter, 'ingest', "verify, decrypt and upload disks of a received import job into the job's container")
    .argument('<job>', "the import job's name or id")
    .addOption(new Option('--disk <PATH>', 'a disk of the job: the folder it is mounted at (repeatable, any order)').argParser(collect).makeOptionMandatory())
    .addOption(tenantOption())
    .option('--workers <N>', 'worker threads reading and decrypting disks (default: 0, the main thread reads)', parseWorkers)
    .option('--on-service', "the service reads the disks itself: they are mounted on its host under its --ingest-root, and --disk gives their paths there (nothing is uploaded over the network)")
    .addHelpText('after', '\nDisks are told apart by their label and manifest, not by order or mount point. Killed or stopped, the same\ncommand resumes; run again on a finished disk, it does nothing. Exit 0: every disk Completed; 3: a disk\nCompletedWithErrors (see ferry job errors JOB); 1: a disk refused, Failed or not finished.\n')
    .action((ref: string, opts: IngestOptions) => run(import('../commands/datacenter.js').then((m) => m.ingestCommand(ctx, ref, opts))));
}
