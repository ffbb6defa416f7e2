import { sql, type Kysely } from 'kysely';

/**
 * Rules that several service instances on one database must keep, made constraints instead of checks
 * inside a transaction (which hold on SQLite, whose transactions run one after another, but not between two
 * simultaneous transactions on PostgreSQL under READ COMMITTED):
 * - one backup run per snapshot: a unique index on `backup_runs (vault_id, snapshot_id)` (runs without a
 *   snapshot are NULL there, and NULLs never collide). A snapshot named by more than one run already
 *   (only possible through that race) stays with its earliest run; the later runs keep their record with
 *   `snapshot_id` NULL.
 * - one first service key: a unique index on a constant, so `service_keys` holds at most one row and two
 *   instances starting together on an empty database cannot each record a different key. (Key rotation, if
 *   it comes, drops this index in its own migration.) A database that already holds two keys is refused
 *   with a message: its secrets may be sealed with either, and only a person can say which key to keep.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    UPDATE backup_runs SET snapshot_id = NULL
    WHERE snapshot_id IS NOT NULL AND EXISTS (
      SELECT 1 FROM backup_runs earlier
      WHERE earlier.vault_id = backup_runs.vault_id AND earlier.snapshot_id = backup_runs.snapshot_id
        AND (earlier.created_at < backup_runs.created_at OR (earlier.created_at = backup_runs.created_at AND earlier.id < backup_runs.id)))
  `.execute(db);
  await db.schema.createIndex('backup_runs_vault_snapshot_unique').on('backup_runs').columns(['vault_id', 'snapshot_id']).unique().execute();

  const { rows } = await sql<{ id: string }>`SELECT id FROM service_keys ORDER BY created_at, id`.execute(db);
  if (rows.length > 1) {
    throw new Error(
      `the database records ${rows.length} service keys (${rows.map((r) => r.id).join(', ')}): instances started with different keys. ` +
        'Keep the one its escrowed disk keys open with, delete the other rows of service_keys, and migrate again',
    );
  }
  await db.schema.createIndex('service_keys_single').on('service_keys').unique().expression(sql`(1)`).execute();
}

/** Drops the indexes `up` created (the snapshot ids it cleared stay cleared). */
export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('service_keys_single').execute();
  await db.schema.dropIndex('backup_runs_vault_snapshot_unique').execute();
}
