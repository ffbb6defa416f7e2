import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { IntegrityError, UserError } from '../../core/errors.js';
import type { Principal } from '../auth/principal.js';
import { issueToken } from '../auth/token-store.js';
import { createImportJob } from '../resources/import-jobs.js';
import { createVault } from '../resources/vaults.js';
import { DATABASE_FILE, openServiceStore } from '../serve.js';
import { buildServer } from '../server.js';
import { diskRegistration, driveJob, prepareDisks } from '../testing/import-job-fixtures.js';
import { expectStatus, injectAs, ManualClock, seededRandom, type ServiceFixture } from '../testing/service-fixture.js';
import { buildWorld, type World } from '../testing/world.js';
import { createServiceKeyFile, readServiceKeyFile, SERVICE_KEY_FILE, ServiceKey } from './service-key.js';

const random = seededRandom('escrow');
const ADMIN: Principal = { tokenId: 'setup', role: 'admin', expiresAt: '2100-01-01T00:00:00.000Z' };

describe('the service key', () => {
  const key = new ServiceKey(random.bytes(32));
  const secret = random.bytes(32);

  it('seals for one record: opens there, not for another record, not with another key, not when changed', () => {
    const sealed = key.seal(secret, 'disk-1', random);
    assert.ok(key.open(sealed, 'disk-1').equals(secret));
    assert.notEqual(key.seal(secret, 'disk-1', random), sealed, 'a fresh nonce each time');
    assert.ok(!sealed.includes(secret.toString('base64')) && !Buffer.from(sealed).includes(secret));
    assert.throws(() => key.open(sealed, 'disk-2'), IntegrityError);
    assert.throws(() => new ServiceKey(random.bytes(32)).open(sealed, 'disk-1'), /sealed with service key [0-9a-f]{16}, not with this service's key/);
    const body = Buffer.from(sealed.split('.')[2]!, 'base64');
    body[20]! ^= 1;
    assert.throws(() => key.open(`fsk1.${key.id}.${body.toString('base64')}`, 'disk-1'), IntegrityError);
    assert.throws(() => key.open('plain', 'disk-1'), IntegrityError);
  });

  it('is created 0600, atomically, never over an existing file; a file that is not a key says so', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-service-key-'));
    try {
      const path = join(dir, SERVICE_KEY_FILE);
      const created = await createServiceKeyFile(path, random);
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      assert.equal((await readServiceKeyFile(path))!.id, created.id);
      assert.deepEqual((await readdir(dir)).sort(), [SERVICE_KEY_FILE], 'no temp file left');
      await assert.rejects(createServiceKeyFile(path, random), { code: 'PERMANENT' });
      assert.equal((await readServiceKeyFile(path))!.id, created.id, 'the existing key is kept');
      assert.equal(await readServiceKeyFile(join(dir, 'missing')), undefined);
      await writeFile(join(dir, 'short'), 'c2hvcnQ=\n');
      await assert.rejects(readServiceKeyFile(join(dir, 'short')), (err) => err instanceof UserError && /is not a Ferry service key/.test(err.message));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** Every file under `dir` that holds one of the keys: raw, base64, base64url or hex. */
async function filesHoldingKeys(dir: string, keys: readonly Buffer[]): Promise<string[]> {
  const needles = keys.flatMap((k) => [k, Buffer.from(k.toString('base64')), Buffer.from(k.toString('base64url')), Buffer.from(k.toString('hex'))]);
  const found: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const bytes = await readFile(join(entry.parentPath, entry.name));
    if (needles.some((n) => bytes.includes(n))) found.push(join(entry.parentPath, entry.name));
  }
  return found;
}

describe('escrowed disk keys at rest (issue 11: secrets at rest)', () => {
  let dataDir: string;
  let f: ServiceFixture;
  let w: World;
  const clock = new ManualClock();

  /** A fixture over the data directory's real database file, opened the way `ferry serve` opens it (no listening, no workers). */
  const open = async (serviceKeyFile?: string): Promise<ServiceFixture> => {
    const { db, serviceKey } = await openServiceStore({ dataDir, clock, random, ...(serviceKeyFile !== undefined ? { serviceKeyFile } : {}) });
    const server = buildServer({ db, dataDir, clock, random, serviceKey });
    return {
      ...server,
      db,
      clock,
      dataDir,
      token: (spec) => issueToken({ db, clock, random }, spec),
      close: async () => {
        await server.app.close();
        await db.destroy();
      },
    };
  };
  const keysOf = (jobId: string, count: number): Buffer[] => Array.from({ length: count }, (_, i) => Buffer.from(diskRegistration(i, jobId).diskKey, 'base64'));
  const sqliteFiles = async (): Promise<string[]> => (await readdir(dataDir)).filter((n) => n.startsWith(DATABASE_FILE));

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'ferry-escrow-'));
    f = await open();
    w = await buildWorld(f);
  });
  after(async () => {
    await f.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('creates the service key 0600 in the data directory on the first start', async () => {
    assert.equal((await stat(join(dataDir, SERVICE_KEY_FILE))).mode & 0o777, 0o600);
  });

  it('never stores a disk key in plain, releases it to the operator, and destroys it when the job is over', async () => {
    await prepareDisks(f, w.jobId, 2);
    const keys = keysOf(w.jobId, 2);
    assert.deepEqual(await filesHoldingKeys(dataDir, keys), [], 'after the disks were registered');
    assert.ok((await sqliteFiles()).includes(DATABASE_FILE));

    await driveJob(f, w.jobId, 'Received');
    for (const [index, key] of keys.entries()) {
      const released = await injectAs(f, w.operatorToken, 'GET', `/v1/import-jobs/${w.jobId}/disks/${index}/key?diskId=${diskRegistration(index, w.jobId).diskId}`);
      expectStatus(released, 200);
      assert.equal(released.json<{ diskKey: string }>().diskKey, key.toString('base64'));
    }
    assert.deepEqual(await filesHoldingKeys(dataDir, keys), [], 'after the keys were released');

    // Another job, driven to Closed: its keys are gone from the database.
    const closed = await createImportJob(f.ctx, ADMIN, w.b.vaultId, { name: 'closed', storageAccountId: w.b.storageAccountId, container: 'closed-seed' });
    await prepareDisks(f, closed.job.id, 1);
    await driveJob(f, closed.job.id, 'Closed');
    const rows = await f.db.selectFrom('job_disks').select('disk_key').where('job_id', '=', closed.job.id).execute();
    assert.deepEqual(rows, [{ disk_key: null }]);
    assert.deepEqual(await filesHoldingKeys(dataDir, [...keys, ...keysOf(closed.job.id, 1)]), [], 'after a job closed');
  });

  it('destroys the keys of jobs that can no longer use them: cancelled, deleted, failed, completed', async () => {
    const jobFor = async (name: string) => {
      const vault = await createVault(f.ctx, ADMIN, w.b.tenantId, { name, storageAccountId: w.b.storageAccountId });
      return (await createImportJob(f.ctx, ADMIN, vault.id, { name, storageAccountId: w.b.storageAccountId, container: `${name}-seed` })).job.id;
    };
    const cancelled = await jobFor('cancelled');
    await prepareDisks(f, cancelled, 1);
    await injectAs(f, w.adminToken, 'POST', `/v1/import-jobs/${cancelled}/cancel`);
    const failed = await jobFor('failed');
    await prepareDisks(f, failed, 1);
    await driveJob(f, failed, 'Failed');
    const open = await jobFor('shipping');
    await prepareDisks(f, open, 1);
    await driveJob(f, open, 'Shipping');
    const state = async (id: string) => (await f.db.selectFrom('import_jobs').select('state').where('id', '=', id).executeTakeFirstOrThrow()).state;
    const key = async (id: string) => (await f.db.selectFrom('job_disks').select('disk_key').where('job_id', '=', id).executeTakeFirstOrThrow()).disk_key;
    assert.equal(await state(cancelled), 'Cancelled');
    assert.equal(await key(cancelled), null);
    assert.equal(await state(failed), 'Failed');
    assert.equal(await key(failed), null);
    assert.notEqual(await key(open), null, 'a job that still ships keeps its keys');
  });

  describe('keys stored in plain before (migration 0006 and the start-up step)', () => {
    let legacy: { jobId: string; diskId: string; key: Buffer; state: string }[] = [];

    beforeEach(async () => {
      // Put plain keys back, as a database from before this version holds them, straight into the file.
      const rows = await f.db.selectFrom('job_disks').innerJoin('import_jobs', 'import_jobs.id', 'job_disks.job_id').select(['job_disks.job_id', 'job_disks.id', 'import_jobs.state']).execute();
      legacy = rows.map((r) => ({ jobId: r.job_id, diskId: r.id, key: random.bytes(32), state: r.state }));
      await f.close();
      const sqlite = new BetterSqlite3(join(dataDir, DATABASE_FILE));
      for (const row of legacy) sqlite.prepare('UPDATE job_disks SET disk_key = ? WHERE id = ?').run(row.key.toString('base64'), row.diskId);
      sqlite.close();
      assert.notDeepEqual(await filesHoldingKeys(dataDir, legacy.map((r) => r.key)), [], 'the plain keys are in the files now');
    });
    afterEach(async () => {
      f = await open();
    });

    it('are sealed (or destroyed, for jobs that are over) at the next start, and no plain byte is left in any file', async () => {
      f = await open();
      assert.deepEqual(await filesHoldingKeys(dataDir, legacy.map((r) => r.key)), []);
      for (const row of legacy) {
        const stored = (await f.db.selectFrom('job_disks').select('disk_key').where('id', '=', row.diskId).executeTakeFirstOrThrow()).disk_key;
        if (['Creating', 'Shipping', 'Received', 'Transferring'].includes(row.state)) assert.ok(f.ctx.serviceKey.open(stored!, row.diskId).equals(row.key), `${row.state} keeps its key, sealed`);
        else assert.equal(stored, null, `${row.state} loses its key`);
      }
      // Idempotent: a second start changes nothing.
      const before = await f.db.selectFrom('job_disks').select(['id', 'disk_key']).orderBy('id').execute();
      await f.close();
      f = await open();
      assert.deepEqual(await f.db.selectFrom('job_disks').select(['id', 'disk_key']).orderBy('id').execute(), before);
      await f.close();
    });
  });

  describe('a missing or wrong service key', () => {
    beforeEach(async () => f.close());
    afterEach(async () => {
      f = await open();
    });

    it('is refused at start with a message that says what to do, and the right key still works', async () => {
      const path = join(dataDir, SERVICE_KEY_FILE);
      const right = await readFile(path);
      await rm(path);
      await assert.rejects(open(), (err) => err instanceof UserError && /is missing, but the database holds secrets sealed with service key/.test(err.message));
      await assert.rejects(stat(path), /ENOENT/, 'no new key was made in its place');
      await writeFile(path, `${random.bytes(32).toString('base64')}\n`, { mode: 0o600 });
      await assert.rejects(open(), (err) => err instanceof UserError && /is not the one this database's secrets were sealed with/.test(err.message));
      await assert.rejects(open(join(dataDir, 'elsewhere.key')), (err) => err instanceof UserError && /service key file .* not found/.test(err.message));
      await writeFile(join(dataDir, 'elsewhere.key'), right);
      await (await open(join(dataDir, 'elsewhere.key'))).close();
      await writeFile(path, right);
      await rm(join(dataDir, 'elsewhere.key'));
    });
  });
});
