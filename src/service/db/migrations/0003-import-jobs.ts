import type { Kysely } from 'kysely';

/**
 * Import jobs (offline seeding): the jobs, their disks with the escrowed disk keys, and every job's timeline
 * (see ../schema.ts). Two rules are held by unique constraints, so they hold under concurrency and across
 * service instances: a tracking number (normalized) belongs to one job, and a vault has one open job.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('import_jobs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('vault_id', 'text', (c) => c.notNull())
    .addColumn('storage_account_id', 'text', (c) => c.notNull())
    .addColumn('container', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('open_vault_id', 'text', (c) => c.unique().references('vaults.id'))
    .addColumn('prepared_at', 'text')
    .addColumn('tracking_deadline', 'text')
    .addColumn('carrier', 'text')
    .addColumn('tracking_number', 'text')
    .addColumn('tracking_number_key', 'text', (c) => c.unique())
    .addColumn('return_address', 'text')
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('created_by_token_id', 'text')
    .addUniqueConstraint('import_jobs_tenant_name_unique', ['tenant_id', 'name'])
    .addForeignKeyConstraint('import_jobs_vault_same_tenant_fk', ['vault_id', 'tenant_id'], 'vaults', ['id', 'tenant_id'])
    .addForeignKeyConstraint('import_jobs_storage_account_same_tenant_fk', ['storage_account_id', 'tenant_id'], 'storage_accounts', ['id', 'tenant_id'])
    .execute();
  // The deadline sweep looks for jobs in Creating whose deadline passed.
  await db.schema.createIndex('import_jobs_state_deadline_index').on('import_jobs').columns(['state', 'tracking_deadline']).execute();

  await db.schema
    .createTable('job_disks')
    .addColumn('job_id', 'text', (c) => c.notNull().references('import_jobs.id'))
    .addColumn('disk_index', 'integer', (c) => c.notNull())
    .addColumn('id', 'text', (c) => c.notNull().unique())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('bytes', 'bigint', (c) => c.notNull())
    .addColumn('files', 'bigint', (c) => c.notNull())
    .addColumn('manifest_sha256', 'text', (c) => c.notNull())
    .addColumn('disk_key', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('job_disks_pk', ['job_id', 'disk_index'])
    .execute();

  await db.schema
    .createTable('job_events')
    .addColumn('job_id', 'text', (c) => c.notNull().references('import_jobs.id'))
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('note', 'text')
    .addPrimaryKeyConstraint('job_events_pk', ['job_id', 'seq'])
    .execute();
}

/** Drops everything `up` created, children first. */
export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['job_events', 'job_disks', 'import_jobs']) await db.schema.dropTable(table).execute();
}
