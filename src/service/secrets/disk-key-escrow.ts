import { join } from 'node:path';
import type { Clock } from '../../core/clock.js';
import type { RandomSource } from '../../core/random.js';
import { UserError } from '../../core/errors.js';
import type { ServiceDatabase } from '../db/database.js';
import { isoTime } from '../ids.js';
import { DISK_KEY_JOB_STATES } from '../../contract/job-states.js';
import { createServiceKeyFile, isSealed, readServiceKeyFile, SERVICE_KEY_FILE, type ServiceKey } from './service-key.js';

/** Where the service key comes from: `--service-key-file`, else DATA_DIR/service.key (created on the first start). */
export interface ServiceKeySource {
  readonly dataDir: string;
  readonly keyFile?: string;
}

/**
 * The service key for this database, at start (after the migrations):
 * - from `keyFile` when given (it must exist: a typo must not make a new key), else from DATA_DIR/service.key;
 * - DATA_DIR/service.key is created (0600, atomically) when it is missing and the database has never
 *   sealed a secret; when the database has, the start is refused: a new key could not open them;
 * - a key whose id is not the one the database recorded is refused (`UserError` naming both ids).
 * The first key's id is recorded in `service_keys`; when several instances start together on an empty
 * database, the first to record its key wins and an instance with another key is refused (`UserError`).
 */
export async function openServiceKey(db: ServiceDatabase, source: ServiceKeySource, clock: Clock, random: RandomSource): Promise<ServiceKey> {
  const path = source.keyFile ?? join(source.dataDir, SERVICE_KEY_FILE);
  const known = (await db.selectFrom('service_keys').select('id').orderBy('created_at').execute()).map((r) => r.id);
  let key = await readServiceKeyFile(path);
  if (key === undefined) {
    if (source.keyFile !== undefined) throw new UserError(`service key file ${path} not found: give the file this service's secrets were sealed with, or leave --service-key-file out to use ${join(source.dataDir, SERVICE_KEY_FILE)}`);
    if (known.length > 0) {
      throw new UserError(`the service key ${path} is missing, but the database holds secrets sealed with service key ${known.join(', ')}: restore the file from a backup (or give it with --service-key-file)`);
    }
    key = await createServiceKeyFile(path, random);
  }
  if (known.length > 0 && !known.includes(key.id)) {
    throw new UserError(`the service key ${path} (id ${key.id}) is not the one this database's secrets were sealed with (${known.join(', ')}): give the right file with --service-key-file`);
  }
  if (known.length === 0) {
    // Instances starting together on an empty database race here: the first insert wins, the others insert
    // nothing (at most one row: migration 0010) and read back the winner.
    await db.insertInto('service_keys').values({ id: key.id, created_at: isoTime(clock.now()) }).onConflict((oc) => oc.doNothing()).execute();
    const recorded = await db.selectFrom('service_keys').select('id').executeTakeFirstOrThrow();
    if (recorded.id !== key.id) {
      throw new UserError(
        `another service instance started first with service key ${recorded.id}, and this one has ${key.id} (${path}): give every instance that key's file (copy it, or give it with --service-key-file)`,
      );
    }
  }
  return key;
}

/**
 * The start-up step after {@link openServiceKey}: seals every disk key still stored in plain base64 (from
 * before migration 0006) and destroys the keys of jobs that are past the states in which a key can be
 * released. Idempotent; returns how many keys it sealed and destroyed.
 */
export async function secureStoredDiskKeys(db: ServiceDatabase, key: ServiceKey, random: RandomSource): Promise<{ sealed: number; destroyed: number }> {
  return db.transaction().execute(async (trx) => {
    const destroyed = await trx
      .updateTable('job_disks')
      .set({ disk_key: null })
      .where('disk_key', 'is not', null)
      .where('job_id', 'not in', trx.selectFrom('import_jobs').select('id').where('state', 'in', DISK_KEY_JOB_STATES))
      .executeTakeFirst();
    const rows = await trx.selectFrom('job_disks').select(['job_id', 'disk_index', 'id', 'disk_key']).where('disk_key', 'is not', null).execute();
    let sealed = 0;
    for (const row of rows) {
      if (row.disk_key === null || isSealed(row.disk_key)) continue;
      const plain = Buffer.from(row.disk_key, 'base64');
      await trx
        .updateTable('job_disks')
        .set({ disk_key: key.seal(plain, row.id, random) })
        .where('job_id', '=', row.job_id)
        .where('disk_index', '=', row.disk_index)
        .execute();
      sealed++;
    }
    return { sealed, destroyed: Number(destroyed.numUpdatedRows) };
  });
}
