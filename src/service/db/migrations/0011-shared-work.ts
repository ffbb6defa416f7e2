import type { Kysely } from 'kysely';

/**
 * What several service instances on one database share beyond their records (see ../schema.ts):
 * - `worker_leases`: a named background task (the tracking deadline and NeverReceived sweep) claimed by one
 *   instance at a time until `expires_at`, taken over by another once the holder stops renewing it;
 * - `throttle_counters`: the failed-authentication counters, one row per counted key (client address or
 *   credential prefix) and its current window, so every instance counts every failure.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('worker_leases')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('throttle_counters')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('count', 'bigint', (c) => c.notNull())
    .addColumn('window_ends_at', 'text', (c) => c.notNull())
    .execute();
  // The cleanup removes ended windows by time.
  await db.schema.createIndex('throttle_counters_window_index').on('throttle_counters').column('window_ends_at').execute();
}

/** Drops the tables `up` created. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('throttle_counters').execute();
  await db.schema.dropTable('worker_leases').execute();
}
