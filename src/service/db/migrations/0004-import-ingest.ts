import { sql, type Kysely } from 'kysely';

/**
 * Ingest and adoption of import jobs (see ../schema.ts): when a job was shipped and received, each disk's
 * ingest progress, every file's last ingest result, the disk-level problems of the error log, and each
 * job's adoption into its vault with the lease of the worker that runs it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('import_jobs').addColumn('shipped_at', 'text').execute();
  await db.schema.alterTable('import_jobs').addColumn('received_at', 'text').execute();
  // Jobs shipped or received before this migration: the times are on their timelines.
  await sql`UPDATE import_jobs SET shipped_at = (SELECT MIN(e.created_at) FROM job_events e WHERE e.job_id = import_jobs.id AND e.action = 'ship')`.execute(db);
  await sql`UPDATE import_jobs SET received_at = (SELECT MIN(e.created_at) FROM job_events e WHERE e.job_id = import_jobs.id AND e.action = 'receive')`.execute(db);

  for (const column of ['bytes_done', 'files_done'] as const) {
    await db.schema.alterTable('job_disks').addColumn(column, 'bigint', (c) => c.notNull().defaultTo(0)).execute();
  }
  await db.schema.alterTable('job_disks').addColumn('progress_started_at', 'text').execute();
  await db.schema.alterTable('job_disks').addColumn('progress_updated_at', 'text').execute();

  await db.schema
    .createTable('job_file_results')
    .addColumn('job_id', 'text', (c) => c.notNull().references('import_jobs.id'))
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('disk_index', 'integer', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('sha256', 'text')
    .addColumn('code', 'text', (c) => c.notNull())
    .addColumn('message', 'text')
    .addColumn('recorded_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('job_file_results_pk', ['job_id', 'path'])
    .execute();
  await db.schema.createIndex('job_file_results_disk_index').on('job_file_results').columns(['job_id', 'disk_index', 'code']).execute();

  await db.schema
    .createTable('job_problems')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('job_id', 'text', (c) => c.notNull().references('import_jobs.id'))
    .addColumn('disk_index', 'integer')
    .addColumn('path', 'text')
    .addColumn('code', 'text', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('job_problems_job_index').on('job_problems').columns(['job_id', 'created_at']).execute();

  await db.schema
    .createTable('job_adoptions')
    .addColumn('job_id', 'text', (c) => c.primaryKey().references('import_jobs.id'))
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('excluded', 'text', (c) => c.notNull())
    .addColumn('objects_total', 'bigint')
    .addColumn('objects_done', 'bigint', (c) => c.notNull())
    .addColumn('bytes_done', 'bigint', (c) => c.notNull())
    .addColumn('copy_mode', 'text')
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text')
    .addColumn('error', 'text')
    .addColumn('lease_owner', 'text')
    .addColumn('lease_expires_at', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('job_adoptions_state_lease_index').on('job_adoptions').columns(['state', 'lease_expires_at']).execute();
}

/** Drops everything `up` added. */
export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['job_adoptions', 'job_problems', 'job_file_results']) await db.schema.dropTable(table).execute();
  for (const column of ['progress_updated_at', 'progress_started_at', 'files_done', 'bytes_done']) await db.schema.alterTable('job_disks').dropColumn(column).execute();
  for (const column of ['received_at', 'shipped_at']) await db.schema.alterTable('import_jobs').dropColumn(column).execute();
}
