import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Id } from '../../src/core/ids.js';
import { objectKey } from '../../src/storage/layout.js';
import { FsStorage } from '../../src/storage/fs/fs-storage.js';
import { Repository } from '../../src/engine/repository/repository.js';
import { decodeTree } from '../../src/engine/snapshot/tree-format.js';
import { ferry, ferryOk, lastJson, makeTempDir, TEST_PASSWORD, type TempDir } from './harness.js';

interface SnapshotJson {
  id: string;
  /** Left out when empty, as restic does. */
  tags?: string[];
  skipped?: { path: string; error: string }[];
}

/** Every regular file below `root`, relative path → content. */
async function readFiles(root: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) out.set(relative(root, join(entry.parentPath, entry.name)), await readFile(join(entry.parentPath, entry.name)));
  }
  return out;
}

/** The pack holding the first chunk of `path` (absolute, as backed up) in the latest snapshot, found through the engine. */
async function packOf(repoPath: string, path: string): Promise<Id> {
  const repo = await Repository.open(new FsStorage(repoPath), TEST_PASSWORD, { clock: { now: () => Date.now() }, hostname: 'test', username: 'test' });
  await repo.loadIndex();
  const snapshots = await repo.listSnapshots();
  let tree = snapshots[snapshots.length - 1]!.snapshot.tree;
  const names = path.split('/').slice(1);
  for (const [i, name] of names.entries()) {
    const node = decodeTree(await repo.loadBlob('tree', tree)).find((n) => n.name.toString() === name)!;
    if (i === names.length - 1) return repo.index.lookup(node.content![0]!)!.packId;
    tree = node.subtree!;
  }
  throw new Error(`${path} not found`);
}

describe('repair', () => {
  let tmp: TempDir;
  let repo: string;
  let source: string;
  const BACKUPS = 8;

  before(async () => {
    tmp = await makeTempDir();
    repo = join(tmp.path, 'repo');
    source = join(tmp.path, 'src');
    await mkdir(join(source, 'a'), { recursive: true });
    await mkdir(join(source, 'gen'), { recursive: true });
    await writeFile(join(source, 'a', 'one.bin'), randomBytes(3 * 1024 * 1024));
    await writeFile(join(source, 'a', 'note.txt'), 'hello\n'.repeat(500));
    await ferryOk(['init', '-r', repo]);
    // Each backup adds one file, so each writes a data pack and a tree pack of its own.
    for (let i = 1; i <= BACKUPS; i++) {
      await writeFile(join(source, 'gen', `${i}.bin`), randomBytes(300 * 1024));
      await ferryOk(['backup', '-r', repo, source, '--json']);
    }
  });
  after(() => tmp.cleanup());

  it('without index files check fails; repair index brings back a repository that checks and restores', async () => {
    await rm(join(repo, 'index'), { recursive: true });
    const broken = await ferry(['check', '-r', repo]);
    assert.equal(broken.code, 1, broken.stdout);
    assert.match(broken.stderr, /is not in the index/);

    const repaired = await ferryOk(['repair', 'index', '-r', repo]);
    assert.match(repaired.stdout, /indexed \d+ packs .* skipped 0; wrote 1 index files, removed 0/);
    await ferryOk(['check', '-r', repo, '--read-data']);
    const target = join(tmp.path, 'restore-index');
    await ferryOk(['restore', 'latest', '-r', repo, '--target', target]);
    assert.deepEqual(await readFiles(join(target, source)), await readFiles(source));
  });

  it('after a data pack is deleted, repair snapshots --forget keeps every other file and lists the lost one', async () => {
    const lostFile = join(source, 'gen', '5.bin');
    const pack = await packOf(repo, lostFile);
    await rm(join(repo, objectKey('pack', pack)));
    const before = lastJson<SnapshotJson[]>((await ferryOk(['snapshots', '-r', repo, '--json'])).stdout);
    assert.equal((await ferry(['check', '-r', repo])).code, 1);

    const dry = await ferryOk(['repair', 'snapshots', '-r', repo, '--dry-run']);
    assert.match(dry.stdout, /4 would be repaired, 0 could not be repaired \(dry run: nothing written\)/);
    assert.deepEqual(lastJson<SnapshotJson[]>((await ferryOk(['snapshots', '-r', repo, '--json'])).stdout), before);

    const run = await ferryOk(['repair', 'snapshots', '-r', repo, '--forget']);
    assert.match(run.stdout, new RegExp(`${lostFile}: pack ${pack.slice(0, 8)} is missing`));
    const after = lastJson<SnapshotJson[]>((await ferryOk(['snapshots', '-r', repo, '--json'])).stdout);
    assert.equal(after.length, BACKUPS);
    const repaired = after.filter((s) => s.tags?.includes('repaired'));
    assert.equal(repaired.length, 4, 'the snapshots from the fifth on held the file');
    for (const s of repaired) assert.deepEqual(s.skipped, [{ path: lostFile, error: `lost: pack ${pack.slice(0, 8)} is missing` }]);
    await ferryOk(['check', '-r', repo, '--read-data']);

    const target = join(tmp.path, 'restore-repaired');
    await ferryOk(['restore', repaired[repaired.length - 1]!.id, '-r', repo, '--target', target]);
    const expected = await readFiles(source);
    expected.delete(relative(source, lostFile));
    assert.deepEqual(await readFiles(join(target, source)), expected);
  });

  it('repair index killed after writing the new index leaves a repository that checks; a second run finishes', async () => {
    for (const failpoint of ['repair-index-written', 'repair-index-old-removed']) {
      const killed = await ferry(['repair', 'index', '-r', repo], { env: { FERRY_FAILPOINT: failpoint } });
      assert.equal(killed.code, -1, `killed at ${failpoint}: ${killed.stderr}`);
      await ferryOk(['check', '-r', repo]);
    }
    await ferryOk(['repair', 'index', '-r', repo]);
    assert.equal((await readdir(join(repo, 'index'))).length, 1);
    await ferryOk(['check', '-r', repo]);
  });

  it('check --read-data-subset n/3 reads about a third, and the three parts read every pack once', async () => {
    let total = 0;
    let read = 0;
    for (let n = 1; n <= 3; n++) {
      const summary = lastJson<{ ok: boolean; packs: number; packs_read: number }>((await ferryOk(['check', '-r', repo, '--read-data-subset', `${n}/3`, '--json'])).stdout);
      assert.ok(summary.ok && summary.packs_read < summary.packs, JSON.stringify(summary));
      total = summary.packs;
      read += summary.packs_read;
    }
    assert.ok(total >= 12, `${total} packs`);
    assert.equal(read, total);
    const text = await ferryOk(['check', '-r', repo, '--read-data-subset', '1/3']);
    assert.match(text.stdout, /read \d+ of them \(subset 1\/3\): no errors/);
    const refused = await ferry(['check', '-r', repo, '--read-data-subset', '0/3']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^ferry: --read-data-subset "0\/3" is not a subset/);
  });
});
