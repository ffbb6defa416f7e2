import type { Kysely } from 'kysely';

/**
 * Snapshot provenance: for every snapshot object the service stored in a vault, who wrote it (an agent's
 * machine and token, a tenant-admin or admin token, or the adoption of an import job) and when it arrived
 * by the service's clock. Agent retention and the checks of run reports decide from these rows, never from
 * what an agent reports (src/service/resources/snapshot-provenance.ts).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('vault_snapshots')
    .addColumn('vault_id', 'text', (c) => c.notNull().references('vaults.id'))
    .addColumn('snapshot_id', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('machine_id', 'text', (c) => c.references('machines.id'))
    .addColumn('token_id', 'text')
    .addColumn('job_id', 'text', (c) => c.references('import_jobs.id'))
    .addColumn('received_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('vault_snapshots_pk', ['vault_id', 'snapshot_id'])
    .execute();
  await db.schema.createIndex('vault_snapshots_machine_index').on('vault_snapshots').columns(['machine_id', 'received_at']).execute();
}

/** Drops everything `up` added. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('vault_snapshots').execute();
}
