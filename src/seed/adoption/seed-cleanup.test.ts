import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import type { Id } from '../../core/ids.js';
import { Repository } from '../../engine/repository/repository.js';
import type { JobState } from '../../contract/job-states.js';
import { adoptImport } from './adopt-import.js';
import { contentKey, listContentObjects } from './content-objects.js';
import { cleanupSeed, type SeedCleanupInput } from './seed-cleanup.js';
import { context, noSleep, password, seedWorld, type SeedWorld } from './testing/adoption-fixture.js';
import { FakeAdoptionService } from './testing/fake-adoption-service.js';

describe('cleanupSeed', () => {
  let world: SeedWorld | undefined;
  afterEach(async () => {
    await world?.tmp.cleanup();
    world = undefined;
  });

  /** An adopted seed, with a staging folder on disk holding Ferry's files and one file of the user's. */
  async function adopted(): Promise<{ world: SeedWorld; service: FakeAdoptionService; input: SeedCleanupInput; stagingDir: string }> {
    world = await seedWorld();
    const service = new FakeAdoptionService(world.imported, world.vault);
    const outcome = await adoptImport({ service, jobId: 'job-1', imported: world.imported, staging: world.staging, encryptionKey: world.stagingRepo.key.encryptionKey, sleep: noSleep });
    const stagingDir = join(world.tmp.path, 'staging');
    await mkdir(join(stagingDir, 'data', 'ab'), { recursive: true });
    await mkdir(join(stagingDir, 'diskprep'), { recursive: true });
    await mkdir(join(stagingDir, 'keys'), { recursive: true });
    for (const file of ['config', 'FERRY-SEED.json', 'data/ab/abcd', 'diskprep/state.json', 'notes.txt']) await writeFile(join(stagingDir, file), 'x');
    const vault = await Repository.open(world.vault, password, context);
    const input: SeedCleanupInput = { service, jobId: 'job-1', vault, seededSnapshots: outcome.seededSnapshots, stagingDir, confirm: async () => true };
    return { world, service, input, stagingDir };
  }

  for (const state of ['Transferring', 'Completed', 'CompletedWithErrors', 'Cancelled'] as JobState[]) {
    it(`is refused while the job is ${state}, naming the state, with nothing changed`, async () => {
      const { service, input, stagingDir } = await adopted();
      service.setState(state);
      await assert.rejects(cleanupSeed(input), (err: Error) => err.message.includes(`import job first-seed is ${state}: cleanup comes after the adoption`));
      assert.equal(service.calls.filter((c) => c.startsWith('close')).length, 0);
      assert.ok((await readdir(stagingDir)).includes('config'), 'staging untouched');
    });
  }

  it('is refused when a seeded snapshot is not whole in the vault, naming it', async () => {
    const { world, service, input, stagingDir } = await adopted();
    const pack = [...(await listContentObjects(world.vault, 'pack')).keys()][0]!;
    await world.vault.remove(pack);
    await assert.rejects(cleanupSeed(input), (err: Error) => err.message.includes(`snapshot ${world.seeded.slice(0, 8)}`) && err.message.includes('nothing is removed'));
    assert.equal(service.job.state, 'Adopted');
    assert.ok((await readdir(stagingDir)).includes('config'));
  });

  it('first uploads what only staging has (a backup that went there during the adoption), so nothing is lost with it', async () => {
    const { world, input } = await adopted();
    const late = Buffer.from('a snapshot written to staging while the service adopted the import');
    const key = contentKey('snapshot', createHash('sha256').update(late).digest('hex') as Id);
    await world.staging.save(key, late);
    const outcome = await cleanupSeed({ ...input, staging: world.staging });
    assert.equal(outcome.rescued, 1);
    assert.deepEqual(await world.vault.load(key), late);
    const again = await cleanupSeed({ ...input, staging: world.staging });
    assert.equal(again.rescued, 0, 'an interrupted cleanup run again sends nothing twice');
  });

  it('removes nothing when the confirmation is declined', async () => {
    const { service, input, stagingDir } = await adopted();
    await assert.rejects(cleanupSeed({ ...input, confirm: async () => false }), /cleanup cancelled: nothing was removed/);
    assert.equal(service.job.state, 'Adopted');
    assert.equal((await readdir(stagingDir)).length, 6);
  });

  it('closes the job, removes Ferry\'s staging files, names the leftovers, and finishes an interrupted run', async () => {
    const { world, service, input, stagingDir } = await adopted();
    let asked = 0;
    const outcome = await cleanupSeed({ ...input, confirm: async (_job, checked) => (asked = checked) > 0 });
    assert.equal(asked, 1, 'the seeded snapshot was checked before the question');
    assert.equal(outcome.job.state, 'Closed');
    assert.equal((await listContentObjects(world.imported, 'pack')).size, 0, 'the import is gone');
    assert.ok(await world.vault.stat(contentKey('snapshot', world.seeded)), 'the vault keeps the seeded snapshot');
    assert.deepEqual(outcome.staging, { removed: ['FERRY-SEED.json', 'config', 'data', 'diskprep', 'keys'], leftovers: ['notes.txt'], folderGone: false });
    assert.deepEqual(await readdir(stagingDir), ['notes.txt']);

    const again = await cleanupSeed(input);
    assert.equal(again.job.state, 'Closed');
    assert.equal(service.calls.filter((c) => c.startsWith('close')).length, 1, 'a Closed job is not closed twice');
  });
});
