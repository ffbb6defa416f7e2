import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Id } from '../../core/ids.js';
import type { SnapshotRecord } from '../repository/repository.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import { findParent, normalizePaths } from './backup.js';
import { PathTrie } from './path-trie.js';

describe('PathTrie', () => {
  const names = (trie: PathTrie): string[] => trie.children().map(([name]) => name.toString());
  it('shares ancestors and drops paths covered by another', () => {
    const trie = new PathTrie(['/srv/b', '/srv/a/x', '/srv/a', '/home/ann']);
    assert.deepEqual(names(trie), ['home', 'srv']);
    const srv = trie.children()[1]![1];
    assert.deepEqual(names(srv), ['a', 'b']);
    const a = srv.children()[0]![1];
    assert.ok(a.isTarget);
    assert.deepEqual(names(a), [], 'the nested path is covered by /srv/a');
  });
  it('the root itself', () => {
    assert.ok(new PathTrie(['/']).isTarget);
  });
});

describe('parent selection', () => {
  const record = (id: string, time: string, hostname: string, paths: string[]): SnapshotRecord => ({
    id: id.padEnd(64, '0') as Id,
    snapshot: { version: 1, time, tree: '0'.repeat(64) as Id, paths, hostname, username: 'u', uid: 0, gid: 0, tags: [], excludes: [], skipped: [] } satisfies Snapshot,
  });
  const all = [
    record('a', '2026-01-01T00:00:00Z', 'h1', ['/srv', '/home']),
    record('b', '2026-01-03T00:00:00Z', 'h1', ['/home', '/srv']),
    record('c', '2026-01-04T00:00:00Z', 'h2', ['/home', '/srv']),
    record('d', '2026-01-05T00:00:00Z', 'h1', ['/srv']),
  ];
  it('is the latest snapshot of the same host and the same set of paths', () => {
    assert.equal(findParent(all, 'h1', ['/srv', '/home'])?.id.slice(0, 1), 'b');
    assert.equal(findParent(all, 'h1', ['/srv/'])?.id.slice(0, 1), 'd');
    assert.equal(findParent(all, 'h3', ['/srv']), undefined);
  });
  it('paths are made absolute, sorted and deduplicated', () => {
    assert.deepEqual(normalizePaths(['/b/', '/a', '/b']), ['/a', '/b']);
  });
});
