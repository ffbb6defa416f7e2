import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { Id } from '../../core/ids.js';
import { checkRepository } from '../../engine/checker/checker.js';
import { Repository } from '../../engine/repository/repository.js';
import { objectKey } from '../../storage/layout.js';
import { AdoptionFailedError, adoptImport, type AdoptImportInput } from './adopt-import.js';
import { listContentObjects } from './content-objects.js';
import { snapshotsNotWhole } from './snapshot-health.js';
import { backupTo, changeFile, context, incremental, noSleep, password, seedWorld, type SeedWorld } from './testing/adoption-fixture.js';
import { FakeAdoptionService } from './testing/fake-adoption-service.js';

/** The pack holding the most data blobs of the seeded snapshot's files: losing it loses several files. */
async function aDataPack(world: SeedWorld): Promise<Id> {
  const repo = await Repository.open(world.staging, password, context);
  await repo.loadIndex();
  const counts = new Map<Id, number>();
  for (const blob of repo.index.entries()) if (blob.type === 'data') counts.set(blob.packId, (counts.get(blob.packId) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]![0];
}

async function openVault(world: SeedWorld): Promise<Repository> {
  const repo = await Repository.open(world.vault, password, context);
  await repo.loadIndex();
  return repo;
}

function input(world: SeedWorld, service: FakeAdoptionService, staging: boolean): AdoptImportInput {
  return { service, jobId: 'job-1', imported: world.imported, staging: staging ? world.staging : undefined, encryptionKey: world.stagingRepo.key.encryptionKey, sleep: noSleep };
}

describe('adoptImport', () => {
  let world: SeedWorld | undefined;
  afterEach(async () => {
    await world?.tmp.cleanup();
    world = undefined;
  });

  it('with staging: re-sends a pack lost in transit and uploads a snapshot taken while the disks travelled', async () => {
    world = await seedWorld();
    const lost = await aDataPack(world);
    await world.imported.remove(objectKey('pack', lost));
    await changeFile(`${world.source}/d0/f0.bin`, 500);
    const travelled = await backupTo(world.stagingRepo, world.source);
    const service = new FakeAdoptionService(world.imported, world.vault);
    service.pollsUntilDone = 3;
    const events: string[] = [];

    const outcome = await adoptImport({ ...input(world, service, true), onEvent: (e) => void events.push(e.kind) });

    assert.equal(outcome.job.state, 'Adopted');
    assert.deepEqual(outcome.excluded, []);
    assert.deepEqual(outcome.lostPacks, []);
    assert.ok(outcome.uploaded.objects >= 3, 'the lost pack, and the new snapshot with its index and pack');
    assert.ok(await world.imported.stat(objectKey('pack', lost)));
    assert.deepEqual([...outcome.seededSnapshots].sort(), [world.seeded, travelled].sort());
    assert.ok(service.calls.includes('adopt job-1 []'));
    assert.ok(events.includes('upload') && events.includes('requested') && events.includes('waiting'));
    const vault = await openVault(world);
    assert.deepEqual((await vault.listSnapshots()).map((r) => r.id).sort(), [world.seeded, travelled].sort());
    assert.deepEqual(await snapshotsNotWhole(vault, await vault.listSnapshots()), []);
    assert.deepEqual((await checkRepository(vault, { readData: true })).errors, []);
  });

  it('without staging: writes a replacement index without the lost pack, excludes the original, and the next backup reads the lost data again', async () => {
    world = await seedWorld();
    const lost = await aDataPack(world);
    await world.imported.remove(objectKey('pack', lost));
    const originals = [...(await listContentObjects(world.imported, 'index')).keys()];
    const service = new FakeAdoptionService(world.imported, world.vault, 'CompletedWithErrors');

    const outcome = await adoptImport(input(world, service, false));

    assert.deepEqual(outcome.lostPacks, [lost]);
    assert.equal(outcome.excluded.length, 1);
    assert.ok(originals.includes(outcome.excluded[0]!), 'an original index file is excluded');
    assert.ok(service.calls.includes(`adopt job-1 [${outcome.excluded[0]}]`));
    const vault = await openVault(world);
    assert.equal(await world.vault.stat(outcome.excluded[0]!).catch(() => 'absent'), 'absent', 'the excluded file is not adopted');
    assert.equal(vault.index.hasPack(lost), false, 'the vault index does not name the lost pack');
    assert.ok(vault.index.packs().size > 0);
    const before = await snapshotsNotWhole(vault, await vault.listSnapshots());
    assert.deepEqual(before.map((d) => d.id), [world.seeded], 'the seeded snapshot is not whole until the data is read again');

    const after = await incremental(vault, world.source);
    assert.ok(after.summary.bytesRead > 0, 'the lost files were read again');
    const total = after.summary.totalBytesProcessed;
    assert.ok(after.summary.bytesRead < total, `only the lost files are read (${after.summary.bytesRead} of ${total})`);
    const healed = await openVault(world);
    assert.deepEqual(await snapshotsNotWhole(healed, await healed.listSnapshots()), [], 'the re-read blobs make the seeded snapshot whole again');
    assert.deepEqual((await checkRepository(healed, { readData: true })).errors, []);
  });

  it('is idempotent when resumed after the replacement index was written', async () => {
    world = await seedWorld();
    const lost = await aDataPack(world);
    await world.imported.remove(objectKey('pack', lost));
    const service = new FakeAdoptionService(world.imported, world.vault);
    service.failWith = 'disk full';
    await assert.rejects(adoptImport(input(world, service, false)), AdoptionFailedError);
    const indexFiles = (await listContentObjects(world.imported, 'index')).size;
    service.failWith = undefined;

    const outcome = await adoptImport(input(world, service, false));

    assert.equal(outcome.job.state, 'Adopted');
    assert.equal((await listContentObjects(world.imported, 'index')).size, indexFiles, 'no second replacement');
    assert.equal(outcome.excluded.length, 1);
    assert.equal(service.calls.filter((c) => c.startsWith('adopt')).length, 2, 'a Failed adoption is requested again');
  });

  it('reports a snapshot lost in transit by id when no staging can re-send it', async () => {
    world = await seedWorld();
    await world.imported.remove(objectKey('snapshot', world.seeded));
    const service = new FakeAdoptionService(world.imported, world.vault, 'CompletedWithErrors');
    service.errors = [
      { at: '2026-11-20T00:00:00.000Z', diskIndex: 0, path: objectKey('snapshot', world.seeded), code: 'ChecksumMismatch', message: 'bad' },
      { at: '2026-11-20T00:00:00.000Z', diskIndex: 1, path: null, code: 'ForeignDisk', message: 'another job' },
    ];

    const outcome = await adoptImport(input(world, service, false));

    assert.deepEqual(outcome.lostSnapshots, [world.seeded]);
    assert.deepEqual(outcome.seededSnapshots, []);
  });

  it('re-sends a lost snapshot from staging instead of reporting it', async () => {
    world = await seedWorld();
    await world.imported.remove(objectKey('snapshot', world.seeded));
    const service = new FakeAdoptionService(world.imported, world.vault, 'CompletedWithErrors');
    service.errors = [{ at: '2026-11-20T00:00:00.000Z', diskIndex: 0, path: objectKey('snapshot', world.seeded), code: 'FileNotFound', message: 'gone' }];

    const outcome = await adoptImport(input(world, service, true));

    assert.deepEqual(outcome.lostSnapshots, []);
    assert.deepEqual(outcome.seededSnapshots, [world.seeded]);
  });

  it('waits for an adoption already running without touching the import, and returns at once when adopted', async () => {
    world = await seedWorld();
    const service = new FakeAdoptionService(world.imported, world.vault);
    await service.requestAdoption('job-1', []);
    service.pollsUntilDone = 2;
    await world.imported.remove(objectKey('pack', await aDataPack(world)));
    const before = (await listContentObjects(world.imported, 'pack')).size;

    const outcome = await adoptImport(input(world, service, true));

    assert.equal(outcome.job.state, 'Adopted');
    assert.equal((await listContentObjects(world.imported, 'pack')).size, before, 'nothing uploaded while the service copies');
    const calls = service.calls.length;
    assert.equal((await adoptImport(input(world, service, true))).job.state, 'Adopted');
    assert.equal(service.calls.filter((c) => c.startsWith('adopt')).length, 1);
    assert.ok(service.calls.length - calls <= 1, 'only the job is read');
  });

  it('refuses a job that is not complete, and stops when interrupted while waiting', async () => {
    world = await seedWorld();
    const service = new FakeAdoptionService(world.imported, world.vault, 'Transferring');
    await assert.rejects(adoptImport(input(world, service, true)), /is Transferring: only a Completed or CompletedWithErrors job can be adopted/);
    service.setState('Completed');
    service.pollsUntilDone = 1000;
    const abort = new AbortController();
    await assert.rejects(
      adoptImport({ ...input(world, service, true), signal: abort.signal, onEvent: (e) => e.kind === 'waiting' && abort.abort() }),
      /interrupted while the service adopts/,
    );
    assert.equal(service.job.adoption?.state, 'Running', 'the service keeps copying; the next run waits for it');
  });
});
