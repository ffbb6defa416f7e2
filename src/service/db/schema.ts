import type { Generated } from 'kysely';

/**
 * The service database's tables as kysely sees them. Migrations (./migrations/) create exactly these
 * columns; a new migration that changes a table changes its type here in the same commit.
 *
 * Conventions, chosen so the same queries run on SQLite and PostgreSQL:
 * - ids are text (UUID v4, see ../ids.ts); names are text;
 * - every time is text in ISO-8601 UTC with milliseconds (`2026-11-25T20:04:12.345Z`), made by
 *   `new Date(ms).toISOString()`; such strings sort and compare like the times they name;
 * - counts and byte totals are integers (`bigint` in PostgreSQL: its driver must parse int8 as a number);
 * - absent values are NULL, never empty strings; there are no boolean columns.
 */
export interface ServiceTables {
  tenants: TenantsTable;
  storage_accounts: StorageAccountsTable;
  vaults: VaultsTable;
  registration_codes: RegistrationCodesTable;
  machines: MachinesTable;
  tokens: TokensTable;
  backup_runs: BackupRunsTable;
  vault_locks: VaultLocksTable;
  vault_snapshots: VaultSnapshotsTable;
  import_jobs: ImportJobsTable;
  job_disks: JobDisksTable;
  job_events: JobEventsTable;
  job_file_results: JobFileResultsTable;
  job_problems: JobProblemsTable;
  job_adoptions: JobAdoptionsTable;
  audit_records: AuditRecordsTable;
  service_keys: ServiceKeysTable;
  portal_sessions: PortalSessionsTable;
  portal_sign_in_links: PortalSignInLinksTable;
  worker_leases: WorkerLeasesTable;
  throttle_counters: ThrottleCountersTable;
}

export interface TenantsTable {
  id: string;
  /** Unique across the service, ignoring case (a unique index on `lower(name)`). */
  name: string;
  created_at: string;
}

export interface StorageAccountsTable {
  id: string;
  tenant_id: string;
  /** Unique within the tenant. */
  name: string;
  /** The back-end URL (`fs:/abs/path`); NULL means the default: DATA_DIR/storage-accounts/<id>. */
  backend: string | null;
  created_at: string;
}

export interface VaultsTable {
  id: string;
  tenant_id: string;
  /** A storage account of the same tenant (enforced by a composite foreign key). */
  storage_account_id: string;
  /** Unique within the tenant. */
  name: string;
  /** The folder or prefix in the storage account that holds the repository; unique per storage account. */
  container: string;
  created_at: string;
}

export interface RegistrationCodesTable {
  id: string;
  vault_id: string;
  /** SHA-256 (hex) of the `fry_reg_…` code; the code itself is never stored. */
  code_hash: string;
  created_at: string;
  expires_at: string;
  /** The token that created the code (audit). */
  created_by_token_id: string | null;
  /** Set once, when the code is exchanged for an agent token. */
  used_at: string | null;
  machine_id: string | null;
}

export interface MachinesTable {
  id: string;
  tenant_id: string;
  vault_id: string;
  hostname: string;
  created_at: string;
  /** Time of the last backup run it reported. */
  last_report_at: string | null;
  /** JSON of its agent's schedule (AgentSchedule: daily time, retention policy, when set), or NULL. */
  schedule: string | null;
}

export interface TokensTable {
  id: string;
  /** `admin`, `tenant-admin`, `agent`, `job` or `operator`. */
  role: string;
  /** SHA-256 (hex) of the token; the token itself is never stored. */
  token_hash: string;
  tenant_id: string | null;
  machine_id: string | null;
  vault_id: string | null;
  /** The import job of a `job` token (import_jobs.id; not a foreign key: the column predates the table). */
  job_id: string | null;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
  /**
   * Why it was revoked (set with `revoked_at`): `revoked` (by an admin or tenant-admin), `renewed` (an agent
   * token whose renewal was confirmed), `job-ended` (a job token whose job was Closed, Cancelled, Deleted or Failed).
   */
  revoked_reason: string | null;
  /** The token that created this one (audit); NULL for the first admin token and for registrations. */
  created_by_token_id: string | null;
  /** For an agent token made by a renewal: the token it replaces (revoked when the renewal is confirmed). */
  replaces_token_id: string | null;
}

export interface BackupRunsTable {
  id: string;
  tenant_id: string;
  vault_id: string;
  machine_id: string;
  started_at: string;
  finished_at: string;
  /** `succeeded`, `partial` (some files unreadable, exit 3) or `failed`. */
  status: string;
  /** The snapshot the run stored, or NULL; unique per vault (one run per snapshot: index `backup_runs_vault_snapshot_unique`). */
  snapshot_id: string | null;
  files_processed: number;
  bytes_read: number;
  bytes_added: number;
  /** How many errors the run had; `errors` keeps at most the first few of them. */
  error_count: number;
  /** JSON array of error messages (bounded in count and length by the API). */
  errors: string;
  /** `scheduled` (by `ferry agent run`: the machine's retention policy applies) or `manual`. */
  trigger: string;
  /** When the machine's retention policy removed the run's snapshot, or NULL. */
  forgotten_at: string | null;
  created_at: string;
}

export interface VaultLocksTable {
  vault_id: string;
  /** The lock object's key in the vault, e.g. `locks/<id>`. */
  object_key: string;
  /** The machine whose agent saved it; NULL when a tenant-admin or admin did. */
  machine_id: string | null;
  created_at: string;
}

/**
 * Where each snapshot object of a vault came from, as the service saw it arrive (one row per snapshot the
 * service stored; removed with the object). Written by the vault object routes and the adoption worker.
 */
export interface VaultSnapshotsTable {
  vault_id: string;
  /** The snapshot id: the 64 hex digits of its key `snapshots/<id>`. */
  snapshot_id: string;
  /** `agent` (machine_id set), `tenant-admin`, `admin` (token_id set) or `import` (job_id set: adopted from an import job). */
  source: string;
  /** The machine whose agent token stored it; NULL for every other source. */
  machine_id: string | null;
  /** The token that stored it; NULL for `import`. */
  token_id: string | null;
  /** The import job it was adopted from; NULL for every other source. */
  job_id: string | null;
  /** When the service stored it, by the service's clock. */
  received_at: string;
}

export interface ImportJobsTable {
  id: string;
  tenant_id: string;
  /** The vault the seed is for; of the same tenant (composite foreign key). */
  vault_id: string;
  /** Where the disks are ingested; of the same tenant (composite foreign key). */
  storage_account_id: string;
  container: string;
  /** Unique within the tenant, over all its jobs (ended ones too). */
  name: string;
  /** A JobState (src/contract/job-states.ts). */
  state: string;
  /** The vault while the job is open (its pending seed), NULL once it ended: unique, so a vault has one open job. */
  open_vault_id: string | null;
  prepared_at: string | null;
  tracking_deadline: string | null;
  carrier: string | null;
  /** As entered. */
  tracking_number: string | null;
  /** The tracking number without spaces in upper case; unique across all jobs (src/contract/tracking-number.ts). */
  tracking_number_key: string | null;
  return_address: string | null;
  /** Incremented by every change: an update names the version it read, so concurrent changes cannot both apply. */
  version: number;
  created_at: string;
  updated_at: string;
  created_by_token_id: string | null;
  /** When the job first went to Shipping. */
  shipped_at: string | null;
  /** When the datacenter received it. */
  received_at: string | null;
}

export interface JobDisksTable {
  job_id: string;
  disk_index: number;
  /** The disk's UUID (diskprep); unique across all jobs, so a disk belongs to one job. */
  id: string;
  /** A DiskState (src/contract/job-states.ts). */
  state: string;
  bytes: number;
  files: number;
  manifest_sha256: string;
  /**
   * The escrowed disk key, sealed with the service key (secrets/service-key.ts; the disk id is the
   * associated data); NULL once destroyed: when the job leaves the states in which a key can still be
   * released (src/contract/job-states.ts, DISK_KEY_JOB_STATES). Never in an API answer but the operator's.
   */
  disk_key: string | null;
  created_at: string;
  updated_at: string;
  /** The ingest's progress as the datacenter last reported it (0 before it starts). */
  bytes_done: Generated<number>;
  files_done: Generated<number>;
  /** When the disk's ingest started (NULL before), and when progress was last reported. */
  progress_started_at: string | null;
  progress_updated_at: string | null;
}

export interface JobEventsTable {
  job_id: string;
  /** 1, 2, … per job: the timeline's order (two writers cannot both add the same one). */
  seq: number;
  /** The event's time. */
  created_at: string;
  /** The job's state after the event. */
  state: string;
  /** The JobActionKind, or `create`. */
  action: string;
  /** `<role>:<token id>` of the caller, or `service:<task>` for background work. */
  actor: string;
  note: string | null;
}

/** The last ingest result of each file of a job (a later result for the same path replaces it). */
export interface JobFileResultsTable {
  job_id: string;
  /** The file's staging path (an object key under data/, index/ or snapshots/), or what the disk holds for UnexpectedFile. */
  path: string;
  disk_index: number;
  size: number;
  /** SHA-256 (hex) of the file's plaintext; set for `Ok`. */
  sha256: string | null;
  /** `Ok` or an IngestErrorCode (src/seed/job-service.ts). */
  code: string;
  message: string | null;
  recorded_at: string;
}

/** Entries of a job's error log that are not file results: a foreign or unknown disk, a corrupted manifest, … */
export interface JobProblemsTable {
  id: string;
  job_id: string;
  disk_index: number | null;
  path: string | null;
  /** An IngestErrorCode. */
  code: string;
  message: string;
  created_at: string;
  /** `<role>:<token id>` of the caller that reported it, or `service:<task>`. */
  actor: string;
}

/** The adoption of a job's imported objects into its vault (at most one per job; a failed one is restarted in place). */
export interface JobAdoptionsTable {
  job_id: string;
  /** `Running`, `Done` or `Failed`. */
  state: string;
  /** JSON array of the import keys left out, sorted. */
  excluded: string;
  /** Objects to copy once the worker listed the import; NULL before. */
  objects_total: number | null;
  objects_done: number;
  bytes_done: number;
  /** `server-side` or `streamed`, once the worker decided; NULL before. */
  copy_mode: string | null;
  started_at: string;
  finished_at: string | null;
  /** Why the adoption failed. */
  error: string | null;
  /** The worker instance holding the adoption, and until when: another instance takes it over after that. */
  lease_owner: string | null;
  lease_expires_at: string | null;
  updated_at: string;
}

/** One privileged act (src/service/audit/audit-log.ts): who did what to which record, when, and how it ended. */
export interface AuditRecordsTable {
  id: string;
  /** The act's time (the service's clock). */
  created_at: string;
  /** `<role>:<token id>` of the caller, `service:<task>` for background work, `registration:<code id>` for a registration. */
  actor: string;
  /** The tenant the act belongs to (its tenant-admins see the record), or NULL for service-wide acts. */
  tenant_id: string | null;
  /** An AuditAction, e.g. `token.create`. */
  action: string;
  /** What the act was done to: `token`, `tenant`, `vault`, `import-job`, … */
  target_type: string;
  /** Its id; NULL when the act was refused before the target existed. */
  target_id: string | null;
  /** `ok`, `refused` (the rules or the caller's rights said no) or `failed` (it broke part-way). */
  outcome: string;
  /** A short JSON object with what else identifies the act (a key, snapshot ids, an error message). */
  detail: string;
}

/**
 * The id of the service key this database's secrets are sealed with; a start with another key is refused. At
 * most one row (a unique index on a constant, `service_keys_single`): the first instance to start records it.
 */
export interface ServiceKeysTable {
  /** ServiceKey.id: 16 hex digits. */
  id: string;
  created_at: string;
}

/** A signed-in portal session (the browser holds the secret in a cookie); ends with its token or at `expires_at`. */
export interface PortalSessionsTable {
  /** SHA-256 (hex) of the session secret; the secret itself is never stored. */
  id_hash: string;
  /** The token it was opened with: every request is checked against it (revoked, expired, ended job). */
  token_id: string;
  /** The value every form of the session must send back (`_csrf`). */
  csrf_token: string;
  created_at: string;
  expires_at: string;
}

/** A one-time sign-in link (`ferry portal link`, `ferry demo`): opens one session with its token, once. */
export interface PortalSignInLinksTable {
  /** SHA-256 (hex) of the code in the link. */
  code_hash: string;
  token_id: string;
  created_at: string;
  expires_at: string;
  /** When it was used; a used link opens nothing. */
  used_at: string | null;
}

/** A named background task claimed by one service instance (jobs/worker-lease.ts); free again once `expires_at` passed. */
export interface WorkerLeasesTable {
  /** The task, e.g. `deadline-sweep`. */
  name: string;
  /** The holder: one name per worker and process. */
  owner: string;
  expires_at: string;
}

/** Failed authentications counted for one key in its current window (api/throttle-store.ts). */
export interface ThrottleCountersTable {
  /** What is counted: `address:IP` or `prefix:fry_ten_`. */
  key: string;
  count: number;
  /** The end of the window; the next failure after it starts a new one at 1. */
  window_ends_at: string;
}
