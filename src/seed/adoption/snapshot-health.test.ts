import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { Id } from '../../core/ids.js';
import { Repository } from '../../engine/repository/repository.js';
import { filesByBlob } from '../../engine/repair/testing/repair-fixture.js';
import { adoptImport } from './adopt-import.js';
import { contentKey } from './content-objects.js';
import { describeDefect, snapshotsNotWhole } from './snapshot-health.js';
import { changeFile, context, incremental, noSleep, password, seedWorld, type SeedWorld } from './testing/adoption-fixture.js';
import { FakeAdoptionService } from './testing/fake-adoption-service.js';

describe('snapshots that cannot be made whole', () => {
  let world: SeedWorld | undefined;
  afterEach(async () => {
    await world?.tmp.cleanup();
    world = undefined;
  });

  it('reports the seeded snapshot by id, time and paths when a lost file changed at the source before it could be read again', async () => {
    world = await seedWorld();
    const staging = await Repository.open(world.staging, password, context);
    await staging.loadIndex();
    const files = await filesByBlob(staging, (await staging.loadSnapshot(world.seeded)).tree);
    const victim = [...files].find(([path]) => path.endsWith('/d1/f4.bin'))![1];
    const lostPack: Id = staging.index.find('data', victim[0]!)!.packId;
    await world.imported.remove(contentKey('pack', lostPack));
    // Every file whose data was in that pack changes before the first backup to the vault.
    const lostFiles = [...files].filter(([, ids]) => ids.some((id) => staging.index.find('data', id)!.packId === lostPack)).map(([path]) => path);
    for (const [i, file] of lostFiles.entries()) await changeFile(file, 900 + i);
    const service = new FakeAdoptionService(world.imported, world.vault, 'CompletedWithErrors');
    await adoptImport({ service, jobId: 'job-1', imported: world.imported, staging: undefined, encryptionKey: staging.key.encryptionKey, sleep: noSleep });
    const vault = await Repository.open(world.vault, password, context);

    const after = await incremental(vault, world.source);
    const fresh = await Repository.open(world.vault, password, context);
    await fresh.loadIndex();
    const defects = await snapshotsNotWhole(fresh, await fresh.listSnapshots());

    assert.deepEqual(defects.map((d) => d.id), [world.seeded], `only the seeded snapshot, not the new ${after.id}`);
    const line = describeDefect(defects[0]!);
    assert.match(line, new RegExp(`^snapshot ${world.seeded.slice(0, 8)} of 2026-.*\\(${world.source}\\): [0-9]+ missing parts?, first: data of f[0-9]+\\.bin`));
    assert.ok(defects[0]!.defects >= lostFiles.length);
  });

  it('finds nothing wrong in a whole repository, and a missing tree pack in every snapshot that shares the tree', async () => {
    world = await seedWorld();
    const second = (await incremental(world.stagingRepo, world.source)).id;
    const repo = await Repository.open(world.staging, password, context);
    await repo.loadIndex();
    assert.deepEqual(await snapshotsNotWhole(repo, await repo.listSnapshots()), []);
    const tree = (await repo.loadSnapshot(world.seeded)).tree;
    await world.staging.remove(contentKey('pack', repo.index.find('tree', tree)!.packId));
    const defects = await snapshotsNotWhole(repo, await repo.listSnapshots());
    assert.deepEqual(defects.map((d) => d.id).sort(), [world.seeded, second].sort());
    assert.match(defects[0]!.first, /^tree [0-9a-f]{8} is in pack [0-9a-f]{8}, which is missing or damaged$/);
  });
});
