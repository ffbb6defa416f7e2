import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ListingFilter } from './listing-filter.js';

const tree = ['/srv', '/srv/a', '/srv/a/x', '/srv/a/x/deep', '/srv/ab', '/srv/b.txt', '/tmp', '/tmp/t'];

/** The paths listed, walking like ls: an entry's children are visited only when it says descend. */
function walk(folders: string[], recursive: boolean): { listed: string[]; notFound: string[] } {
  const filter = new ListingFilter(folders.map((f) => Buffer.from(f)), recursive);
  const listed: string[] = [];
  const blocked: string[] = [];
  for (const path of tree) {
    if (blocked.some((b) => path.startsWith(`${b}/`))) continue;
    const { list, descend } = filter.visit(Buffer.from(path));
    if (list) listed.push(path);
    if (!descend) blocked.push(path);
  }
  return { listed, notFound: filter.notFound().map((f) => Buffer.from(f).toString()) };
}

describe('ls folder selection (as restic 0.14 on the same tree)', () => {
  it('without folders lists everything', () => assert.deepEqual(walk([], false).listed, tree));
  it('a folder: itself and its direct entries', () => assert.deepEqual(walk(['/srv/a'], false).listed, ['/srv/a', '/srv/a/x']));
  it('trailing and doubled slashes do not matter', () => assert.deepEqual(walk(['//srv//a/'], false).listed, ['/srv/a', '/srv/a/x']));
  it('--recursive: everything below', () => assert.deepEqual(walk(['/srv/a'], true).listed, ['/srv/a', '/srv/a/x', '/srv/a/x/deep']));
  it('a file: itself', () => assert.deepEqual(walk(['/srv/b.txt'], false).listed, ['/srv/b.txt']));
  it('/: the top entries, or with --recursive everything', () => {
    assert.deepEqual(walk(['/'], false).listed, ['/srv', '/tmp']);
    assert.deepEqual(walk(['/'], true).listed, tree);
  });
  it('compares whole components', () => assert.deepEqual(walk(['/srv/a'], true).listed.includes('/srv/ab'), false));
  it('several folders', () => assert.deepEqual(walk(['/tmp', '/srv/a'], false).listed, ['/srv/a', '/srv/a/x', '/tmp', '/tmp/t']));
  it('names the folders that are not there', () => assert.deepEqual(walk(['/srv/a', '/nope', '/srv/a/x/deep/more'], false).notFound, ['/nope', '/srv/a/x/deep/more']));
});
