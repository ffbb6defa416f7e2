import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { matchText } from '../fs/byte-path.js';
import { RestoreSelection } from './restore-selection.js';

describe('RestoreSelection (restic restore)', () => {
  it('selects everything without patterns', () => {
    const all = new RestoreSelection();
    assert.ok(all.all);
    assert.deepEqual(all.select('/a', true), { selected: true, walk: true });
  });

  it('--include: the match, everything below a matched folder, and folders on the way are walked', () => {
    const s = new RestoreSelection({ include: ['/srv/data/proj'] });
    assert.deepEqual(s.select('/srv', true), { selected: false, walk: true });
    assert.deepEqual(s.select('/home', true), { selected: false, walk: false }, 'an anchored pattern cannot match below /home');
    assert.deepEqual(s.select('/srv/data/proj', true), { selected: true, walk: true });
    assert.deepEqual(s.select('/srv/data/proj/deep/file', false), { selected: true, walk: false });
    assert.deepEqual(s.select('/srv/data/other', false), { selected: false, walk: false });
  });

  it('--include without a leading / may match at any depth, so every folder is walked', () => {
    const s = new RestoreSelection({ include: ['*.txt'] });
    assert.deepEqual(s.select('/any/folder', true), { selected: false, walk: true });
    assert.equal(s.select('/any/folder/a.txt', false).selected, true);
  });

  it('--include with a ! pattern takes back part of a match and does not walk it', () => {
    const s = new RestoreSelection({ include: ['src', '!src/mod1'] });
    assert.deepEqual(s.select('/t/src/mod1', true), { selected: false, walk: false });
    assert.equal(s.select('/t/src/main.c', false).selected, true);
  });

  it('--iinclude ignores case', () => {
    assert.equal(new RestoreSelection({ iinclude: ['UPPER'] }).select('/t/Upper/x', false).selected, true);
  });

  it('--exclude: everything but the match; a left-out folder is not walked', () => {
    const s = new RestoreSelection({ exclude: ['cache'], iexclude: ['*.TMP'] });
    assert.deepEqual(s.select('/t/cache', true), { selected: false, walk: false });
    assert.deepEqual(s.select('/t/keep', true), { selected: true, walk: true });
    assert.equal(s.select('/t/keep/a.tmp', false).selected, false);
  });

  it('refuses include and exclude patterns together', () => {
    assert.throws(() => new RestoreSelection({ include: ['a'], iexclude: ['b'] }), /not both/);
  });

  it('names the patterns that matched nothing', () => {
    const s = new RestoreSelection({ include: ['*.txt', 'never'] });
    s.select('/a.txt', false);
    assert.deepEqual(s.unmatched(), ['--include never']);
  });

  it('patterns see a byte that is not UTF-8 as one character, as restic (Go strings) does', () => {
    const path = matchText(Buffer.from([0x2f, 0x63, 0x61, 0x66, 0xe9]));
    assert.equal(new RestoreSelection({ include: ['caf?'] }).select(path, false).selected, true);
    assert.equal(new RestoreSelection({ include: ['caf\\\\xe9'] }).select(path, false).selected, false, 'the escape is not the byte');
  });
});
