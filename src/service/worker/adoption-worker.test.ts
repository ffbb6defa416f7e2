import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Storage } from '../../storage/storage.js';
import { fsFolderOf, type ObjectCopier } from '../backend-location.js';
import type { ServiceContext } from '../context.js';
import { claimAdoption, releaseAdoption } from '../jobs/adoption-lease.js';
import { readJob, type JobRecord } from '../jobs/job-records.js';
import { changeImportJob } from '../jobs/job-store.js';
import { containerLocationOf, openVaultStorage } from '../resources/vault-storage.js';
import { openImportStorage } from '../resources/import-adoption.js';
import { TEST_ACTOR, driveJob, prepareDisks, storeOf } from '../testing/import-job-fixtures.js';
import { startServiceFixture, type ServiceFixture } from '../testing/service-fixture.js';
import { buildWorld, type World } from '../testing/world.js';
import { snapshotProvenance } from '../resources/snapshot-provenance.js';
import { runAdoption } from './adoption-run.js';
import { startAdoptionWorker } from './adoption-worker.js';
import type { WorkerLogger } from './periodic-worker.js';

const LEASE_MS = 30_000;

let f: ServiceFixture;
let w: World;
beforeEach(async () => {
  f = await startServiceFixture();
  w = await buildWorld(f);
});
afterEach(() => f.close());

const sha = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
const keyOf = (kind: 'data' | 'index' | 'snapshots', bytes: Buffer): string => {
  const id = sha(bytes);
  return kind === 'data' ? `data/${id.slice(0, 2)}/${id}` : `${kind}/${id}`;
};

/** What an import holds: packs, index files and snapshots, each named for its bytes. */
interface Imported {
  readonly packs: string[];
  readonly indexes: string[];
  readonly snapshots: string[];
  readonly bytes: Map<string, Buffer>;
}

/** The world's job with one disk, Completed, with `packs` packs, 2 index files and 2 snapshots in its import. */
async function completedImport(packs = 7): Promise<{ job: JobRecord; imported: Imported }> {
  await prepareDisks(f, w.jobId, 1);
  const job = await driveJob(f, w.jobId, 'Completed');
  const bytes = new Map<string, Buffer>();
  const add = (kind: 'data' | 'index' | 'snapshots', n: number): string[] =>
    Array.from({ length: n }, (_, i) => {
      const content = Buffer.from(`${kind} ${i} `.repeat(50 + i));
      const key = keyOf(kind, content);
      bytes.set(key, content);
      return key;
    });
  const imported = { packs: add('data', packs), indexes: add('index', 2), snapshots: add('snapshots', 2), bytes };
  const storage = await openImportStorage(f.ctx, job);
  try {
    for (const [key, content] of bytes) await storage.save(key, content);
  } finally {
    await storage.close();
  }
  return { job, imported };
}

async function vaultStorage(): Promise<Storage> {
  const vault = await f.db.selectFrom('vaults').select(['storage_account_id', 'container']).where('id', '=', w.a.vaultId).executeTakeFirstOrThrow();
  return openVaultStorage(f.ctx, { storageAccountId: vault.storage_account_id, container: vault.container });
}

async function vaultKeys(): Promise<string[]> {
  const storage = await vaultStorage();
  const keys: string[] = [];
  try {
    for (const prefix of ['data/', 'index/', 'snapshots/']) await storage.list(prefix, (info) => void keys.push(info.key));
  } finally {
    await storage.close();
  }
  return keys.sort();
}

async function requestAdoption(exclude: string[] = []): Promise<void> {
  await changeImportJob(storeOf(f), w.jobId, { kind: 'requestAdoption', exclude }, TEST_ACTOR);
}

const job = async (): Promise<JobRecord> => (await readJob(f.db, w.jobId))!.job;

/** A context whose server-side copies are counted (or that has none, to stream). */
function contextWith(copies: string[], serverSide = true): ServiceContext {
  return {
    ...f.ctx,
    copyWithinBackend: (source, target) => {
      if (!serverSide) return null;
      const inner = f.ctx.copyWithinBackend(source, target)!;
      const counted: ObjectCopier = {
        copy: async (sourceKey, targetKey, sha256) => {
          copies.push(targetKey);
          return inner.copy(sourceKey, targetKey, sha256);
        },
      };
      return counted;
    },
  };
}

describe('the adoption of an import into its vault', () => {
  it('copies every object but the excluded ones inside the back end, packs first and snapshots last, verified; the job becomes Adopted', async () => {
    const { imported } = await completedImport();
    const excluded = imported.indexes[1]!;
    await requestAdoption([excluded]);
    const order: string[] = [];
    const copies: string[] = [];
    const owner = 'worker-1';
    assert.equal(await claimAdoption(f.db, owner, f.clock.now(), LEASE_MS), w.jobId);
    const outcome = await runAdoption(contextWith(copies), w.jobId, { owner, leaseMs: LEASE_MS, afterObject: (key) => void order.push(key) });
    assert.equal(outcome, 'adopted');

    const wanted = [...imported.packs, imported.indexes[0]!, ...imported.snapshots];
    assert.deepEqual(await vaultKeys(), [...wanted].sort());
    assert.deepEqual(order, [...[...imported.packs].sort(), imported.indexes[0]!, ...[...imported.snapshots].sort()], 'packs, then index files, then snapshots');
    assert.deepEqual([...copies].sort(), [...wanted].sort(), 'every object copied server-side, once');
    const storage = await vaultStorage();
    try {
      for (const key of wanted) assert.deepEqual(await storage.load(key), imported.bytes.get(key));
    } finally {
      await storage.close();
    }
    const done = await job();
    assert.equal(done.state, 'Adopted');
    const bytes = wanted.reduce((sum, key) => sum + imported.bytes.get(key)!.length, 0);
    assert.deepEqual(
      { ...done.adoption, startedAt: undefined, finishedAt: undefined },
      { state: 'Done', objectsTotal: wanted.length, objectsDone: wanted.length, bytesDone: bytes, excluded: 1, excludedKeys: [excluded], serverSideCopy: true, startedAt: undefined, finishedAt: undefined, error: null },
    );
    assert.equal(done.adoption!.finishedAt, new Date(f.clock.now()).toISOString());
    // Each adopted snapshot is recorded as the import's: no machine's, so agent retention never forgets it.
    for (const key of imported.snapshots) {
      const provenance = await snapshotProvenance(f.db, w.a.vaultId, key.slice('snapshots/'.length));
      assert.deepEqual({ source: provenance?.source, jobId: provenance?.jobId, machineId: provenance?.machineId }, { source: 'import', jobId: w.jobId, machineId: null }, key);
    }
    assert.deepEqual(done.timeline.at(-1), {
      at: new Date(f.clock.now()).toISOString(),
      state: 'Adopted',
      actor: 'service:adoption',
      note: `${wanted.length} objects, ${bytes} bytes adopted, server-side copy: yes`,
    });
    // The vault's seed is no longer pending; no temporary file was left in the vault.
    assert.equal(await f.db.selectFrom('import_jobs').select('open_vault_id').where('id', '=', w.jobId).executeTakeFirstOrThrow().then((r) => r.open_vault_id), null);
    const location = await containerLocationOf(f.ctx, { storageAccountId: w.a.storageAccountId, container: (await f.db.selectFrom('vaults').select('container').where('id', '=', w.a.vaultId).executeTakeFirstOrThrow()).container });
    const leftovers = (await readdir(fsFolderOf(location), { recursive: true })).filter((name) => name.includes('.tmp-'));
    assert.deepEqual(leftovers, []);
  });

  it('streams the objects through the service when the back end cannot copy them, and says so', async () => {
    const { imported } = await completedImport(3);
    await requestAdoption();
    await claimAdoption(f.db, 'w', f.clock.now(), LEASE_MS);
    assert.equal(await runAdoption(contextWith([], false), w.jobId, { owner: 'w', leaseMs: LEASE_MS }), 'adopted');
    assert.deepEqual(await vaultKeys(), [...imported.bytes.keys()].sort());
    const done = await job();
    assert.equal(done.adoption!.serverSideCopy, false);
    assert.match(done.timeline.at(-1)!.note ?? '', /server-side copy: no$/);
  });

  it('resumes after a worker dies mid-copy: another takes over once the lease expires, copies nothing twice, never shows a snapshot before its packs', async () => {
    const { imported } = await completedImport(250);
    await requestAdoption();
    const copies: string[] = [];
    const ctx = contextWith(copies);
    const seen: string[] = [];
    const checkOrder = async (key: string): Promise<void> => {
      seen.push(key);
      if (!key.startsWith('snapshots/')) return;
      const present = new Set(await vaultKeys());
      for (const needed of [...imported.packs, ...imported.indexes]) assert.ok(present.has(needed), `${needed} is in the vault before snapshot ${key}`);
    };

    // Worker A copies 120 objects (its progress is written at 100), then hangs as if killed.
    assert.equal(await claimAdoption(f.db, 'worker-a', f.clock.now(), LEASE_MS), w.jobId);
    let wake: () => void = () => undefined;
    const hung = new Promise<void>((resolve) => (wake = resolve));
    const runA = runAdoption(ctx, w.jobId, {
      owner: 'worker-a',
      leaseMs: LEASE_MS,
      afterObject: async (key) => {
        await checkOrder(key);
        if (seen.length === 120) await hung;
      },
    });
    while (seen.length < 120) await sleep(5);
    const midway = (await job()).adoption!;
    assert.equal(midway.state, 'Running');
    assert.equal(midway.objectsTotal, 254);
    assert.equal(midway.objectsDone, 100, 'progress written every 100 objects');

    // Its lease holds: nobody else may take the adoption yet.
    f.clock.advance(LEASE_MS - 1);
    assert.equal(await claimAdoption(f.db, 'worker-b', f.clock.now(), LEASE_MS), undefined);
    f.clock.advance(1);
    assert.equal(await claimAdoption(f.db, 'worker-b', f.clock.now(), LEASE_MS), w.jobId);
    const copiedByA = [...copies];
    assert.equal(copiedByA.length, 120);
    const outcome = await runAdoption(ctx, w.jobId, { owner: 'worker-b', leaseMs: LEASE_MS, afterObject: checkOrder });
    assert.equal(outcome, 'adopted');
    const copiedByB = copies.slice(copiedByA.length);
    assert.equal(copiedByB.length, 254 - 120);
    assert.deepEqual(copiedByB.filter((key) => copiedByA.includes(key)), [], 'nothing copied twice');
    assert.deepEqual(await vaultKeys(), [...imported.bytes.keys()].sort());
    assert.equal((await job()).state, 'Adopted');
    assert.equal((await job()).adoption!.objectsDone, 254);

    // The dead worker wakes up: it finds the adoption is not its own any more, and changes nothing.
    wake();
    assert.equal(await runA, 'lost');
    assert.equal(copies.length, 254);
    assert.equal((await job()).timeline.filter((e) => e.state === 'Adopted').length, 1);
  });

  it('fails the adoption naming the object whose bytes do not match its name; nothing of it reaches the vault; it may be asked again', async () => {
    const { job: ingested, imported } = await completedImport(3);
    const bad = imported.packs[1]!;
    const importRoot = fsFolderOf(await containerLocationOf(f.ctx, ingested));
    await writeFile(join(importRoot, 'import', w.jobId, ...bad.split('/')), Buffer.from('damaged in the container'));
    for (const serverSide of [true, false]) {
      await requestAdoption();
      await claimAdoption(f.db, 'w', f.clock.now(), LEASE_MS);
      assert.equal(await runAdoption(contextWith([], serverSide), w.jobId, { owner: 'w', leaseMs: LEASE_MS }), 'failed');
      const failed = await job();
      assert.equal(failed.state, 'Completed', 'the job waits for another adoption');
      assert.equal(failed.adoption!.state, 'Failed');
      assert.match(failed.adoption!.error ?? '', new RegExp(`^${bad} could not be adopted: .*sha256`));
      assert.match(failed.timeline.at(-1)!.note ?? '', new RegExp(`^adoption failed: ${bad} could not be adopted`));
      assert.ok(!(await vaultKeys()).includes(bad), 'the damaged object is not in the vault');
      assert.equal(await claimAdoption(f.db, 'w', f.clock.now(), LEASE_MS), undefined, 'a failed adoption is not retried by itself');
    }
    // Healed (the agent re-sends the pack), then asked again: it completes.
    const storage = await openImportStorage(f.ctx, ingested);
    await storage.save(bad, imported.bytes.get(bad)!);
    await storage.close();
    await requestAdoption();
    await claimAdoption(f.db, 'w', f.clock.now(), LEASE_MS);
    assert.equal(await runAdoption(f.ctx, w.jobId, { owner: 'w', leaseMs: LEASE_MS }), 'adopted');
    assert.ok((await vaultKeys()).includes(bad));
  });

  it('skips what the vault already has with the same size, and replaces what has another size', async () => {
    const { imported } = await completedImport(4);
    const target = await vaultStorage();
    const [kept, short] = imported.packs as [string, string];
    await target.save(kept, imported.bytes.get(kept)!);
    await target.save(short, Buffer.from('short'));
    await target.close();
    await requestAdoption();
    await claimAdoption(f.db, 'w', f.clock.now(), LEASE_MS);
    const copies: string[] = [];
    assert.equal(await runAdoption(contextWith(copies), w.jobId, { owner: 'w', leaseMs: LEASE_MS }), 'adopted');
    assert.ok(!copies.includes(kept));
    assert.ok(copies.includes(short));
    assert.equal((await stat(join(fsFolderOf(await containerLocationOf(f.ctx, { storageAccountId: w.a.storageAccountId, container: (await f.db.selectFrom('vaults').select('container').where('id', '=', w.a.vaultId).executeTakeFirstOrThrow()).container })), ...short.split('/')))).size, imported.bytes.get(short)!.length);
    assert.equal((await job()).adoption!.objectsDone, imported.bytes.size, 'skipped objects count as adopted');
  });

  it('the worker finds requested adoptions by itself, and a stopped worker gives its adoption back', async () => {
    const { imported } = await completedImport(3);
    const lines: string[] = [];
    const log: WorkerLogger = { info: (_o, message) => void lines.push(message), error: (_o, message) => void lines.push(`error: ${message}`) };
    const worker = startAdoptionWorker(f.ctx, { log, intervalMs: 10, leaseMs: LEASE_MS, owner: 'background' });
    try {
      await requestAdoption();
      const end = Date.now() + 5000;
      while ((await job()).state !== 'Adopted') {
        if (Date.now() > end) assert.fail(`not adopted in time: ${JSON.stringify(lines)}`);
        await sleep(10);
      }
      assert.deepEqual(await vaultKeys(), [...imported.bytes.keys()].sort());
      assert.ok(lines.includes(`adoption of import job ${w.jobId}: adopted`), JSON.stringify(lines));
    } finally {
      await worker.stop();
    }
    // A lease given back is free at once.
    await f.db.updateTable('job_adoptions').set({ state: 'Running', lease_owner: 'gone', lease_expires_at: '2100-01-01T00:00:00.000Z' }).execute();
    await releaseAdoption(f.db, w.jobId, 'gone');
    assert.equal(await claimAdoption(f.db, 'next', f.clock.now(), LEASE_MS), w.jobId);
  });
});
