/**
 * Where each snapshot of a vault came from, as the service saw it arrive (table `vault_snapshots`). The
 * service cannot read sealed snapshots, and an agent's report of its runs is only its word; what the
 * service knows for itself is who stored each `snapshots/<id>` object and when. Agent retention
 * (agent-retention.ts) and the checks of run reports (backup-runs.ts) decide from these records.
 *
 * Writers: the vault object routes (every snapshot stored through them: the agent's machine and token, or a
 * tenant-admin's or admin's token) and the adoption worker (snapshots adopted from an import job: source
 * `import`, with the job). The first arrival counts: storing the same object again (a re-send, an admin
 * re-upload) keeps the record. Removing the object through the routes, or agent retention, drops it.
 */
import type { Clock } from '../../core/clock.js';
import { idOfKey } from '../../storage/layout.js';
import type { ServiceContext } from '../context.js';
import type { ServiceDatabase } from '../db/database.js';
import { isoTime } from '../ids.js';
import type { ObjectProvenance, ObjectWriter } from '../vault-objects/vault-access.js';

/** Who stored a snapshot: an agent (its machine), a tenant-admin or admin token, or the adoption of an import. */
export type SnapshotSource = 'agent' | 'tenant-admin' | 'admin' | 'import';

/** The record of one snapshot object of a vault. */
export interface SnapshotProvenance {
  readonly snapshotId: string;
  readonly source: SnapshotSource;
  /** The agent's machine (source `agent`), else null. */
  readonly machineId: string | null;
  /** The token that stored it, null for `import`. */
  readonly tokenId: string | null;
  /** The import job it was adopted from (source `import`), else null. */
  readonly jobId: string | null;
  /** When the service stored it, by its own clock (ISO-8601 UTC). */
  readonly receivedAt: string;
}

/** Who stored a snapshot, in the terms of {@link recordSnapshotArrival}. */
export type SnapshotWriter =
  | { readonly source: 'agent'; readonly machineId: string; readonly tokenId: string }
  | { readonly source: 'tenant-admin' | 'admin'; readonly tokenId: string }
  | { readonly source: 'import'; readonly jobId: string };

type Deps = { readonly db: ServiceDatabase; readonly clock: Clock };

/** Records that `writer` stored snapshot `snapshotId` in vault `vaultId` now; an existing record is kept. Idempotent. */
export async function recordSnapshotArrival(deps: Deps, vaultId: string, snapshotId: string, writer: SnapshotWriter): Promise<void> {
  await deps.db
    .insertInto('vault_snapshots')
    .values({
      vault_id: vaultId,
      snapshot_id: snapshotId,
      source: writer.source,
      machine_id: writer.source === 'agent' ? writer.machineId : null,
      token_id: writer.source === 'import' ? null : writer.tokenId,
      job_id: writer.source === 'import' ? writer.jobId : null,
      received_at: isoTime(deps.clock.now()),
    })
    .onConflict((oc) => oc.columns(['vault_id', 'snapshot_id']).doNothing())
    .execute();
}

/** The record of snapshot `snapshotId` of vault `vaultId`, or undefined when the service never stored it (or it was removed). */
export async function snapshotProvenance(db: ServiceDatabase, vaultId: string, snapshotId: string): Promise<SnapshotProvenance | undefined> {
  const row = await db.selectFrom('vault_snapshots').selectAll().where('vault_id', '=', vaultId).where('snapshot_id', '=', snapshotId).executeTakeFirst();
  return row === undefined
    ? undefined
    : { snapshotId: row.snapshot_id, source: row.source as SnapshotSource, machineId: row.machine_id, tokenId: row.token_id, jobId: row.job_id, receivedAt: row.received_at };
}

/** Drops the record of a removed snapshot. Idempotent. */
export async function forgetSnapshotArrival(db: ServiceDatabase, vaultId: string, snapshotId: string): Promise<void> {
  await db.deleteFrom('vault_snapshots').where('vault_id', '=', vaultId).where('snapshot_id', '=', snapshotId).execute();
}

/** The vault object routes' provenance seam, kept in the database: records `snapshots/<id>` objects, ignores the rest. */
export function dbObjectProvenance(ctx: Pick<ServiceContext, 'db' | 'clock'>): ObjectProvenance {
  return {
    stored: async (vaultId, key, writer) => {
      const id = idOfKey('snapshot', key);
      if (id !== undefined) await recordSnapshotArrival(ctx, vaultId, id, snapshotWriterOf(writer));
    },
    removed: async (vaultId, key) => {
      const id = idOfKey('snapshot', key);
      if (id !== undefined) await forgetSnapshotArrival(ctx.db, vaultId, id);
    },
  };
}

function snapshotWriterOf(writer: ObjectWriter): SnapshotWriter {
  if (writer.role !== 'agent') return { source: writer.role, tokenId: writer.tokenId };
  // resolveVaultForObjects gives every agent its machine; a writer without one must not pass as a machine.
  if (writer.machineId === undefined) throw new Error('an agent writer without a machine');
  return { source: 'agent', machineId: writer.machineId, tokenId: writer.tokenId };
}
