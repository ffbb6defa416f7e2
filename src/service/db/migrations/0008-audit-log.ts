import type { Kysely } from 'kysely';

/**
 * The audit log (see ../schema.ts, `audit_records`): one row per privileged act, written in the same
 * transaction as the act where there is one. No foreign keys: a record outlives what it names.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('audit_records')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('tenant_id', 'text')
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target_type', 'text', (c) => c.notNull())
    .addColumn('target_id', 'text')
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('detail', 'text', (c) => c.notNull())
    .execute();
  // Listing is newest first, for everyone (admins) or one tenant (tenant-admins), optionally of one action.
  await db.schema.createIndex('audit_records_time_index').on('audit_records').columns(['created_at', 'id']).execute();
  await db.schema.createIndex('audit_records_tenant_time_index').on('audit_records').columns(['tenant_id', 'created_at', 'id']).execute();
  await db.schema.createIndex('audit_records_action_time_index').on('audit_records').columns(['action', 'created_at', 'id']).execute();
}

/** Drops the table `up` created. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('audit_records').execute();
}
