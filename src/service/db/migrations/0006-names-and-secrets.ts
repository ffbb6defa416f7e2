import { sql, type Kysely } from 'kysely';

/**
 * Names compared as people read them, and secrets that can be destroyed (see ../schema.ts):
 * - tenant names are unique ignoring case (a unique index on `lower(name)`, the same in SQLite and
 *   PostgreSQL for the ASCII names the API allows). Tenants that already differ only by case keep the
 *   oldest one's name; each later one is renamed `<name>-2`, `<name>-3`, … (cut to 63 characters), so
 *   nothing is lost and an admin can rename them (docs/service.md, "Database and migrations");
 * - tracking numbers are compared ignoring case, spaces, hyphens and dots: `tracking_number_key` is
 *   recomputed. Two jobs whose numbers only now compare equal: the one whose key does not change (else the
 *   oldest) gets the new key, the other keeps its old key (it has a hyphen, so no new key can equal it)
 *   until its tracking number changes;
 * - `job_disks.disk_key` may be NULL (a destroyed key) and holds sealed keys from now on: the table is
 *   rebuilt (SQLite cannot drop a NOT NULL). Keys stored in plain base64 before are sealed with the service
 *   key by the start-up step that follows the migrations (secrets/disk-key-escrow.ts): a migration has no key;
 * - `service_keys`: the id of each service key this database's secrets were sealed with.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await renameTenantsThatDifferOnlyByCase(db);
  await db.schema.createIndex('tenants_name_folded_unique').on('tenants').unique().expression(sql`lower(name)`).execute();

  await recomputeTrackingNumberKeys(db);

  // Rebuilt through a copy so that the table keeps its name and its constraints their names (PostgreSQL's are per schema).
  await sql`CREATE TABLE job_disks_0006 AS SELECT * FROM job_disks`.execute(db);
  await db.schema.dropTable('job_disks').execute();
  await db.schema
    .createTable('job_disks')
    .addColumn('job_id', 'text', (c) => c.notNull().references('import_jobs.id'))
    .addColumn('disk_index', 'integer', (c) => c.notNull())
    .addColumn('id', 'text', (c) => c.notNull().unique())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('bytes', 'bigint', (c) => c.notNull())
    .addColumn('files', 'bigint', (c) => c.notNull())
    .addColumn('manifest_sha256', 'text', (c) => c.notNull())
    .addColumn('disk_key', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('bytes_done', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('files_done', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('progress_started_at', 'text')
    .addColumn('progress_updated_at', 'text')
    .addPrimaryKeyConstraint('job_disks_pk', ['job_id', 'disk_index'])
    .execute();
  const columns = sql.raw(
    'job_id, disk_index, id, state, bytes, files, manifest_sha256, disk_key, created_at, updated_at, bytes_done, files_done, progress_started_at, progress_updated_at',
  );
  await sql`INSERT INTO job_disks (${columns}) SELECT ${columns} FROM job_disks_0006`.execute(db);
  await db.schema.dropTable('job_disks_0006').execute();

  await db.schema
    .createTable('service_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
}

interface NamedRow {
  id: string;
  name: string;
}

async function renameTenantsThatDifferOnlyByCase(db: Kysely<unknown>): Promise<void> {
  const { rows } = await sql<NamedRow>`SELECT id, name FROM tenants ORDER BY created_at, id`.execute(db);
  const taken = new Set(rows.map((r) => r.name.toLowerCase()));
  const kept = new Set<string>();
  for (const row of rows) {
    const folded = row.name.toLowerCase();
    if (!kept.has(folded)) {
      kept.add(folded);
      continue;
    }
    let renamed = row.name;
    for (let n = 2; taken.has(renamed.toLowerCase()); n++) renamed = `${row.name.slice(0, 63 - `-${n}`.length)}-${n}`;
    taken.add(renamed.toLowerCase());
    kept.add(renamed.toLowerCase());
    await sql`UPDATE tenants SET name = ${renamed} WHERE id = ${row.id}`.execute(db);
  }
}

/** The rule of src/contract/tracking-number.ts as it is at this migration (a migration never changes with the code). */
function trackingNumberKey0006(value: string): string {
  return value.replace(/[\s.-]+/g, '').toUpperCase();
}

async function recomputeTrackingNumberKeys(db: Kysely<unknown>): Promise<void> {
  const { rows } = await sql<{ id: string; tracking_number: string; tracking_number_key: string }>`
    SELECT id, tracking_number, tracking_number_key FROM import_jobs WHERE tracking_number IS NOT NULL ORDER BY created_at, id`.execute(db);
  const groups = new Map<string, typeof rows>();
  for (const row of rows) {
    const key = trackingNumberKey0006(row.tracking_number);
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  for (const [key, group] of groups) {
    const winner = group.find((r) => r.tracking_number_key === key) ?? group[0]!;
    if (winner.tracking_number_key !== key) await sql`UPDATE import_jobs SET tracking_number_key = ${key} WHERE id = ${winner.id}`.execute(db);
  }
}
