import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BadPatternError, compileGlob } from './glob.js';
import { PatternList } from './pattern-list.js';
import { cleanPath, parsePattern, childMayMatch, splitPath } from './pattern.js';

describe('PatternList (restic semantics)', () => {
  // [patterns, path, matched]: one list, evaluated in order, the last pattern that matches decides.
  const cases: [patterns: string[], path: string, matched: boolean][] = [
    // The cases: a pattern without a leading / matches at any depth, also with / inside.
    [['src/mod1'], '/t/src/mod1', true],
    [['src/mod1'], '/t/src/mod1/f.c', true],
    [['src/mod1'], '/t/x/src/mod1', true],
    [['src/mod1'], '/t/src/mod10', false],
    [['bin/*.bin'], '/t/bin/x.bin', true],
    [['bin/*.bin'], '/t/deep/bin/y.bin', true],
    [['bin/*.bin'], '/t/bin/sub/x.bin', false],
    [['*/mod2'], '/t/a/b/mod2', true],
    [['*/mod2'], '/mod2', false],
    [['names/'], '/t/names', true],
    [['names/'], '/t/names/a', true],
    [['names/'], '/t/other/names', true],
    // Plain names and shell globs against whole components.
    [['*.tmp'], '/srv/data/a.tmp', true],
    [['*.tmp'], '/srv/data/sub/deeper/b.tmp', true],
    [['*.tmp'], '/srv/data/a.tmpx', false],
    [['node_modules'], '/srv/app/node_modules', true],
    [['node_modules'], '/srv/app/node_modules_old', false],
    [['foo'], '/dir1/foo/dir2/file', true],
    [['foo'], '/dir/foobar', false],
    [['foo'], '/dir/barfoo', false],
    [['.git'], '/srv/repo/.git', true],
    [['*'], '/srv/.hidden', true],
    [['.*'], '/srv/.hidden', true],
    [['.*'], '/srv/visible', false],
    [['file?.txt'], '/a/file1.txt', true],
    [['file?.txt'], '/a/file10.txt', false],
    [['[ab].txt'], '/a/b.txt', true],
    [['[ab].txt'], '/a/c.txt', false],
    [['[^ab].txt'], '/a/c.txt', true],
    [['[a-c]x'], '/a/bx', true],
    [['\\*'], '/a/*', true],
    [['\\*'], '/a/b', false],
    [['with space'], '/a/with space', true],
    [['\\[x\\]'], '/a/[x]', true],
    // A leading / anchors at the root.
    [['/bin'], '/bin/bash', true],
    [['/bin'], '/usr/bin/restic', false],
    [['/srv/*/cache'], '/srv/app/cache', true],
    [['/srv/*/cache'], '/srv/app/sub/cache', false],
    [['/srv/**/cache'], '/srv/app/sub/cache', true],
    [['/srv/**/cache'], '/srv/cache', true],
    [['/srv/**'], '/srv/a/b', true],
    [['/srv/**'], '/srv', true],
    [['/srv/**'], '/other', false],
    // ** crosses folders, also without an anchor.
    [['**/mod2'], '/t/a/b/mod2', true],
    [['a/**/mod2'], '/t/a/b/mod2', true],
    [['a/**/mod2'], '/t/a/mod2', true],
    [['a/**/mod2'], '/t/b/mod2', false],
    [['**'], '/anything/at/all', true],
    // Cleaned like a path: ./x, x/ and a//b.
    [['./src'], '/t/src', true],
    [['a//b/'], '/t/a/b', true],
    // ! re-includes what an earlier pattern matched; order matters; the last match wins.
    [['!x'], '/t/x', false],
    [['*.c', '!keep.c'], '/t/keep.c', false],
    [['*.c', '!keep.c'], '/t/drop.c', true],
    [['!keep.c', '*.c'], '/t/keep.c', true],
    [['*.c', '!keep.c', 'keep.c'], '/t/keep.c', true],
    [['/home/*', '!/home/ann'], '/home/ann/docs/x', false],
    [['/home/*', '!/home/ann'], '/home/bob/x', true],
    [['src', '!src/mod1'], '/t/src/mod1/a.c', false],
  ];
  for (const [patterns, path, matched] of cases) {
    it(`${JSON.stringify(patterns)} ${matched ? 'matches' : 'does not match'} ${path}`, () => {
      assert.equal(new PatternList(patterns).match(path).matched, matched);
    });
  }

  it('ignores case only when asked (both sides in lower case)', () => {
    assert.equal(new PatternList(['*.JPG']).match('/a/b.jpg').matched, false);
    assert.equal(new PatternList(['*.JPG'], true).match('/a/b.jpg').matched, true);
    assert.equal(new PatternList(['*.jpg'], true).match('/A/B.JPG').matched, true);
    assert.equal(new PatternList(['/DATA/x'], true).match('/data/X/y').matched, true);
  });

  it('ignores empty patterns', () => {
    assert.ok(new PatternList(['']).empty);
    assert.equal(new PatternList(['', 'a']).match('/a').matched, true);
  });

  it('child matches: relative patterns may match below anything; anchored ones only below their prefix', () => {
    const list = new PatternList(['/srv/data/*.txt']);
    assert.deepEqual(list.match('/srv', true), { matched: false, childMayMatch: true });
    assert.deepEqual(list.match('/home', true), { matched: false, childMayMatch: false });
    assert.deepEqual(new PatternList(['*.txt']).match('/home', true), { matched: false, childMayMatch: true });
    assert.equal(childMayMatch(parsePattern('/srv/**/x'), splitPath('/srv/a/b/c')), true);
    assert.equal(childMayMatch(parsePattern('/srv/**/x'), splitPath('/other/a')), false);
  });

  it('reports the patterns that matched nothing, and a ! pattern that re-included nothing', () => {
    const list = new PatternList(['*.c', 'never', '!keep.c', '!other.c']);
    for (const path of ['/t/keep.c', '/t/drop.c', '/t/other.h']) list.match(path);
    assert.deepEqual(list.unused(), ['never', '!other.c']);
    const lone = new PatternList(['!X']);
    lone.match('/t/X');
    assert.deepEqual(lone.unused(), ['!X'], 'a ! pattern with nothing excluded before it has no effect');
  });

  it('refuses malformed globs, naming the pattern', () => {
    for (const bad of ['[a', 'a[]', '[z-a]', 'x\\', '[-a]', '[^]']) {
      assert.throws(() => new PatternList([bad]), (err: unknown) => err instanceof BadPatternError && err.message.includes(JSON.stringify(bad)), bad);
    }
  });
});

describe('compileGlob (Go filepath.Match)', () => {
  const cases: [glob: string, name: string, matched: boolean][] = [
    ['abc', 'abc', true],
    ['*', '', true],
    ['*', '.dot', true],
    ['a*', 'ab\nc', true],
    ['a*b*c', 'axxbyyc', true],
    ['a?c', 'abc', true],
    ['a?c', 'aäc', true],
    ['[a-z]', 'q', true],
    ['[^a-z]', 'Q', true],
    ['[\\]]', ']', true],
    ['[!a]', '!', true],
    ['[!a]', 'b', false],
    ['a]', 'a]', true],
    ['.*', '.', true],
  ];
  for (const [glob, name, matched] of cases) {
    it(`${glob} ${matched ? 'matches' : 'does not match'} ${JSON.stringify(name)}`, () => {
      assert.equal(compileGlob(glob).test(name), matched);
    });
  }
});

describe('cleanPath (Go filepath.Clean)', () => {
  const cases: [string, string][] = [
    ['', '.'],
    ['a/', 'a'],
    ['/a//b/./c/', '/a/b/c'],
    ['a/../b', 'b'],
    ['/../a', '/a'],
    ['../a', '../a'],
    ['/', '/'],
  ];
  for (const [input, output] of cases) it(`${JSON.stringify(input)} → ${output}`, () => assert.equal(cleanPath(input), output));
});
