import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expandEnv, parsePatternFile } from './pattern-file.js';

describe('parsePatternFile (restic --exclude-file)', () => {
  const env = { HOME: '/home/ann', EMPTY: '', X: 'x' };
  it('skips blank lines and comments, trims, expands variables', () => {
    const text = '# caches\n\n  *.tmp  \n$HOME/cache\n\t# indented comment\n!${HOME}/cache/keep\r\nname#notacomment\n';
    assert.deepEqual(parsePatternFile(Buffer.from(text), env), ['*.tmp', '/home/ann/cache', '!/home/ann/cache/keep', 'name#notacomment']);
  });
  it('drops a UTF-8 byte order mark and decodes UTF-16', () => {
    assert.deepEqual(parsePatternFile(Buffer.from('\ufeffa\nb', 'utf8'), env), ['a', 'b']);
    assert.deepEqual(parsePatternFile(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('a\nb', 'utf16le')]), env), ['a', 'b']);
  });

  const cases: [string, string][] = [
    ['$X', 'x'],
    ['${X}y', 'xy'],
    ['$Xy', ''],
    ['$UNSET/a', '/a'],
    ['$$', '$'],
    ['a$', 'a$'],
    ['a$/b', 'a$/b'],
    ['${}', ''],
    ['${x', 'x'],
    ['$*.txt', '.txt'],
    ['${EMPTY}z', 'z'],
  ];
  for (const [input, output] of cases) it(`expands ${JSON.stringify(input)} to ${JSON.stringify(output)}`, () => assert.equal(expandEnv(input, env), output));
});
