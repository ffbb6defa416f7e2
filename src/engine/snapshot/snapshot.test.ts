import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertIntegrityError } from '../testing/arbitraries.js';
import { validateSnapshot } from './snapshot.js';

const ID = 'c'.repeat(64);
const VALID = {
  version: 1,
  time: '2024-05-06T07:08:09.010Z',
  tree: ID,
  paths: ['/home/user', '/etc'],
  hostname: 'host',
  username: 'user',
  uid: 1000,
  gid: 1000,
  tags: ['daily'],
  excludes: ['*.tmp'],
  skipped: [{ path: '/home/user/secret', error: 'EACCES' }],
};
const SUMMARY = {
  filesNew: 1, filesChanged: 2, filesUnmodified: 3, dirsNew: 4, dirsChanged: 5, dirsUnmodified: 6, dataBlobs: 7, treeBlobs: 8,
  dataAdded: 9, dataAddedPacked: 10, totalFilesProcessed: 11, totalBytesProcessed: 12, bytesRead: 13, filesSkipped: 14,
  backupStart: VALID.time, backupEnd: VALID.time,
};

describe('validateSnapshot', () => {
  const valid: [string, unknown][] = [
    ['a full snapshot', VALID],
    ['one with a parent and a summary', { ...VALID, parent: 'd'.repeat(64), summary: SUMMARY }],
    ['one with empty lists', { ...VALID, paths: [], tags: [], skipped: [] }],
    ['a time with an offset', { ...VALID, time: '2024-05-06T09:08:09.010+02:00' }],
    ['a time before 1970', { ...VALID, time: '1969-07-20T20:17:40Z' }],
    ['one that went through JSON', JSON.parse(JSON.stringify({ ...VALID, parent: 'd'.repeat(64) })) as unknown],
  ];
  for (const [name, value] of valid) {
    it(`accepts ${name}, returning it`, () => assert.equal(validateSnapshot(value), value));
  }

  const invalid: [string, unknown][] = [
    ['undefined', undefined],
    ['null', null],
    ['a string', 'snapshot'],
    ['an array', []],
    ['version 2', { ...VALID, version: 2 }],
    ['version "1"', { ...VALID, version: '1' }],
    ['no version', { ...VALID, version: undefined }],
    ['no time', { ...VALID, time: undefined }],
    ['a time that is not a date', { ...VALID, time: 'yesterday' }],
    ['a time as a number', { ...VALID, time: 1714979289010 }],
    ['no tree', { ...VALID, tree: undefined }],
    ['a short tree id', { ...VALID, tree: ID.slice(1) }],
    ['an uppercase tree id', { ...VALID, tree: ID.toUpperCase() }],
    ['a tree id with a non-hex digit', { ...VALID, tree: `${ID.slice(1)}g` }],
    ['paths that are not a list', { ...VALID, paths: '/home' }],
    ['a path that is not a string', { ...VALID, paths: ['/home', 5] }],
    ['no hostname', { ...VALID, hostname: undefined }],
    ['a hostname that is not a string', { ...VALID, hostname: 7 }],
    ['no tags', { ...VALID, tags: undefined }],
    ['tags that are not a list', { ...VALID, tags: 'daily' }],
    ['no skipped list', { ...VALID, skipped: undefined }],
    ['a malformed parent', { ...VALID, parent: 'parent' }],
    ['a null parent', { ...VALID, parent: null }],
  ];
  for (const [name, value] of invalid) {
    it(`refuses ${name}`, () => assertIntegrityError(() => validateSnapshot(value)));
  }
});
