import { sql, type Kysely } from 'kysely';

/**
 * The token lifecycle (see ../schema.ts, `tokens`): why a token was revoked, and which token an agent
 * token's renewal replaces. Job tokens of jobs that ended before this migration are revoked now, at the
 * time their job last changed, as the job machine does from now on for every job that ends.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('tokens').addColumn('revoked_reason', 'text').execute();
  await db.schema.alterTable('tokens').addColumn('replaces_token_id', 'text').execute();
  await db.schema.createIndex('tokens_replaces_index').on('tokens').column('replaces_token_id').execute();
  await db.schema.createIndex('tokens_job_index').on('tokens').column('job_id').execute();
  await sql`UPDATE tokens SET revoked_reason = 'revoked' WHERE revoked_at IS NOT NULL`.execute(db);
  await sql`
    UPDATE tokens SET
      revoked_at = (SELECT j.updated_at FROM import_jobs j WHERE j.id = tokens.job_id),
      revoked_reason = 'job-ended'
    WHERE role = 'job' AND revoked_at IS NULL
      AND job_id IN (SELECT j.id FROM import_jobs j WHERE j.state IN ('Closed', 'Cancelled', 'Deleted', 'Failed'))`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('tokens_job_index').execute();
  await db.schema.dropIndex('tokens_replaces_index').execute();
  await db.schema.alterTable('tokens').dropColumn('replaces_token_id').execute();
  await db.schema.alterTable('tokens').dropColumn('revoked_reason').execute();
}
