import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UserError } from '../../core/errors.js';
import type { ServiceDatabase } from '../db/database.js';
import { ManualClock, seededRandom } from '../testing/service-fixture.js';
import { openTestDatabase, type TestDatabase } from '../testing/test-database.js';
import { openServiceKey } from './disk-key-escrow.js';
import { createServiceKeyFile, SERVICE_KEY_FILE } from './service-key.js';

/** Two instances starting at once on one empty database, each with its own pool (PostgreSQL) or connection (SQLite file). */
describe('the first start of several instances on one empty database', () => {
  let dir: string;
  let database: TestDatabase | undefined;
  const clock = new ManualClock();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-first-start-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function twoInstances(): Promise<[ServiceDatabase, ServiceDatabase]> {
    await database?.close();
    database = await openTestDatabase({ shared: true });
    return [database.db, await database.openAnother()];
  }
  after(() => database?.close());

  const keyIds = async (db: ServiceDatabase): Promise<string[]> => (await db.selectFrom('service_keys').select('id').execute()).map((r) => r.id);

  it('records the shared key once when both start with the same key file', async () => {
    const [one, two] = await twoInstances();
    const keyFile = join(dir, 'shared.key');
    const key = await createServiceKeyFile(keyFile, seededRandom('shared'));
    const opened = await Promise.all([one, two].map((db, i) => openServiceKey(db, { dataDir: join(dir, `same-${i}`), keyFile }, clock, seededRandom(`same ${i}`))));
    assert.deepEqual(opened.map((k) => k.id), [key.id, key.id]);
    assert.deepEqual(await keyIds(one), [key.id]);
  });

  it('lets the first key win and refuses the instance that made another, naming both', async () => {
    const [one, two] = await twoInstances();
    const dataDirs = [join(dir, 'own-0'), join(dir, 'own-1')];
    for (const dataDir of dataDirs) await mkdir(dataDir);
    const outcomes = await Promise.allSettled([one, two].map((db, i) => openServiceKey(db, { dataDir: dataDirs[i]! }, clock, seededRandom(`own ${i}`))));
    const winners = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value.id] : []));
    const refused = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
    assert.equal(winners.length, 1, 'one instance starts');
    assert.deepEqual(await keyIds(two), winners, 'the database records the key of the one that started');
    assert.equal(refused.length, 1);
    const [err] = refused;
    assert.ok(err instanceof UserError, String(err));
    assert.match(err.message, new RegExp(`another service instance started first with service key ${winners[0]}, and this one has [0-9a-f]{16} .*${SERVICE_KEY_FILE}`));
    // Given the winner's key file, the refused instance starts.
    const winnerDir = dataDirs[outcomes.findIndex((o) => o.status === 'fulfilled')]!;
    const retried = await openServiceKey(one, { dataDir: dir, keyFile: join(winnerDir, SERVICE_KEY_FILE) }, clock, seededRandom('retry'));
    assert.equal(retried.id, winners[0]);
  });
});
