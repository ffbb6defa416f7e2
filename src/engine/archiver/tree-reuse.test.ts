import assert from 'node:assert/strict';
import { rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Id } from '../../core/ids.js';
import { newRepository, seededBytes, tempDir, writeFiles, type TempDir } from '../repair/testing/repair-fixture.js';
import type { Repository } from '../repository/repository.js';
import { decodeTree, type TreeNode } from '../snapshot/tree-format.js';
import { backup, type BackupResult } from './backup.js';
import { sameNode } from '../snapshot/node-equality.js';
import { setXattr } from '../os/posix-extras.js';

/** The subtree ids along `names` from `tree` (the first is `tree` itself). */
async function treesAlong(repo: Repository, tree: Id, names: string[]): Promise<Id[]> {
  const ids = [tree];
  for (const name of names) {
    const node = decodeTree(await repo.loadBlob('tree', ids[ids.length - 1]!)).find((n) => n.name.toString() === name);
    assert.ok(node?.subtree, `no directory ${name}`);
    ids.push(node.subtree);
  }
  return ids;
}

describe('a backup keeps the parent tree of a directory recorded exactly as before', () => {
  let tmp: TempDir;
  let repo: Repository;
  let dir: string;
  let last: BackupResult;
  const run = async (): Promise<BackupResult> => {
    const listing = await repo.readSnapshots();
    const parent = listing.snapshots.at(-1);
    last = await backup(repo, { paths: [dir], uid: 0, gid: 0, ...(parent ? { parent } : {}) });
    return last;
  };
  const parts = (): string[] => dir.split('/').filter(Boolean);

  before(async () => {
    tmp = await tempDir();
    dir = join(tmp.path, 'src');
    ({ repo } = await newRepository());
    await writeFiles(dir, { 'a/one': seededBytes(1, 3000), 'a/two': seededBytes(2, 100), 'b/three': seededBytes(3, 5000), top: seededBytes(4, 10) });
    await run();
  });
  after(() => tmp.cleanup());

  it('stores no tree for a folder where nothing changed', async () => {
    const before = last;
    const again = await run();
    const treeOfDir = async (result: BackupResult): Promise<Id> => (await treesAlong(repo, result.snapshot.tree, parts())).at(-1)!;
    assert.equal(await treeOfDir(again), await treeOfDir(before));
    // The folders above it (the temp dir's parent is shared with whatever else runs) may have changed meanwhile.
    assert.ok(again.summary.treeBlobs <= parts().length, `${again.summary.treeBlobs} trees stored`);
    assert.ok(again.summary.dirsChanged <= parts().length, `${again.summary.dirsChanged} folders changed`);
  });

  it('a changed file changes its directory and the ones above, not its sibling directory', async () => {
    const a0 = (await treesAlong(repo, last.snapshot.tree, [...parts(), 'a'])).at(-1)!;
    const b0 = (await treesAlong(repo, last.snapshot.tree, [...parts(), 'b'])).at(-1)!;
    await utimes(join(dir, 'a', 'one'), new Date(2020, 1, 1), new Date(2020, 1, 1));
    await run();
    const a1 = (await treesAlong(repo, last.snapshot.tree, [...parts(), 'a'])).at(-1)!;
    const b1 = (await treesAlong(repo, last.snapshot.tree, [...parts(), 'b'])).at(-1)!;
    assert.notEqual(a1, a0);
    assert.equal(b1, b0);
    const one = decodeTree(await repo.loadBlob('tree', a1)).find((n) => n.name.toString() === 'one')!;
    assert.equal(one.mtimeNs, BigInt(new Date(2020, 1, 1).getTime()) * 1_000_000n);
  });

  it('a removed or an added entry changes the tree even when every remaining entry is as before', async () => {
    const b = join(dir, 'b');
    const listB = async (): Promise<string[]> => decodeTree(await repo.loadBlob('tree', (await treesAlong(repo, last.snapshot.tree, [...parts(), 'b'])).at(-1)!)).map((n) => n.name.toString());
    await writeFile(join(b, 'four'), 'new');
    await run();
    assert.deepEqual(await listB(), ['four', 'three']);
    await rm(join(b, 'four'));
    await run();
    assert.deepEqual(await listB(), ['three']);
  });

  it('an entry with extended attributes keeps its tree while unchanged, and a changed attribute is seen', async () => {
    const top = join(dir, 'top');
    // The backed-up folder's own tree: the trees above it change whenever another process touches /tmp.
    const folderTree = async (): Promise<Id> => (await treesAlong(repo, last.snapshot.tree, parts())).at(-1)!;
    const topNode = async (): Promise<TreeNode> => decodeTree(await repo.loadBlob('tree', await folderTree())).find((n) => n.name.toString() === 'top')!;
    setXattr(top, Buffer.from('user.ferry'), Buffer.from('v'));
    await run();
    assert.equal((await topNode()).xattrs?.[0]?.value.toString(), 'v');
    const treeBefore = await folderTree();
    await run();
    assert.equal(await folderTree(), treeBefore, 'the folder holding the unchanged entry keeps its tree');
    assert.equal((await topNode()).xattrs?.length, 1);
    setXattr(top, Buffer.from('user.ferry'), Buffer.from('w'));
    await run();
    assert.equal((await topNode()).xattrs?.[0]?.value.toString(), 'w');
  });

});

describe('sameNode', () => {
  const base: TreeNode = {
    name: Buffer.from('f'),
    type: 'file',
    mode: 0o644,
    uid: 1,
    gid: 2,
    mtimeNs: 3n,
    ctimeNs: 4n,
    inode: 5n,
    device: 6n,
    links: 1,
    size: 7,
    content: ['a'.repeat(64) as Id],
    subtree: 'b'.repeat(64) as Id,
    linkTarget: Buffer.from('t'),
    rdev: 8n,
    xattrs: [{ name: Buffer.from('user.x'), value: Buffer.from('v') }],
  };
  const changed: Record<keyof TreeNode, unknown> = {
    name: Buffer.from('g'),
    type: 'dir',
    mode: 0o600,
    uid: 9,
    gid: 9,
    mtimeNs: 9n,
    ctimeNs: 9n,
    inode: 9n,
    device: 9n,
    links: 2,
    size: 9,
    content: ['c'.repeat(64)],
    subtree: 'c'.repeat(64),
    linkTarget: Buffer.from('u'),
    rdev: 9n,
    xattrs: [{ name: Buffer.from('user.x'), value: Buffer.from('w') }],
  };
  it('is true for equal values in new objects, and when one attribute list is absent and the other empty', () => {
    assert.ok(sameNode(base, { ...base, name: Buffer.from('f'), content: ['a'.repeat(64) as Id], xattrs: [{ name: Buffer.from('user.x'), value: Buffer.from('v') }] }));
    const { xattrs: _, ...none } = base;
    assert.ok(sameNode(none, { ...none, xattrs: [] }));
  });
  for (const key of Object.keys(changed) as (keyof TreeNode)[]) {
    it(`is false when ${key} differs or is missing on one side`, () => {
      assert.equal(sameNode(base, { ...base, [key]: changed[key] }), false);
      if (key !== 'name' && key !== 'type' && key !== 'xattrs') {
        const { [key]: _, ...without } = base;
        assert.equal(sameNode(base, without as TreeNode), false);
      }
    });
  }
  it('covers every field a test node can have', () => {
    assert.deepEqual(Object.keys(changed).sort(), Object.keys(base).sort());
  });
});
