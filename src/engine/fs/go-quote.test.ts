import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { displayPath, matchText } from './byte-path.js';
import { goQuote, goUnquote, isUtf8, lossyText, needsQuoting } from './go-quote.js';

const b = (hex: string): Buffer => Buffer.from(hex.replace(/ /g, ''), 'hex');
const t = (text: string): Buffer => Buffer.from(text, 'utf8');

describe('goQuote (what Go strconv.Quote writes; test/e2e/names.test.ts checks it against restic)', () => {
  const table: [string, Buffer, string][] = [
    ['plain ASCII', t('a.txt'), '"a.txt"'],
    ['a byte that is not UTF-8', b('636166 e9'), '"caf\\xe9"'],
    ['a real backslash escape', t('caf\\xe9'), '"caf\\\\xe9"'],
    ['a double quote', t('quo"te'), '"quo\\"te"'],
    ['short escapes', t('\x07\b\f\n\r\t\v'), '"\\a\\b\\f\\n\\r\\t\\v"'],
    ['other controls and DEL', t('\x01\x1b\x7f'), '"\\x01\\x1b\\x7f"'],
    ['printable non-ASCII as is', t('résumé 😀 日本'), '"résumé 😀 日本"'],
    ['a real U+FFFD is printable', t('caf\ufffd'), '"caf\ufffd"'],
    ['C1 control, no-break space, soft hyphen', t('\u0085\u00a0\u00ad'), '"\\u0085\\u00a0\\u00ad"'],
    ['format and private-use characters', t('\u200b\ue000\u{f0000}'), '"\\u200b\\ue000\\U000f0000"'],
    ['an encoded surrogate is three bad bytes', b('eda080'), '"\\xed\\xa0\\x80"'],
    ['an overlong form is two bad bytes', b('c080'), '"\\xc0\\x80"'],
    ['a truncated sequence', b('61 e282'), '"a\\xe2\\x82"'],
    ['above U+10FFFF', b('f4908080'), '"\\xf4\\x90\\x80\\x80"'],
    ['a bad byte before a good sequence', b('ff c3a9'), '"\\xffé"'],
  ];
  for (const [what, bytes, quoted] of table) it(what, () => assert.equal(goQuote(bytes), quoted));
});

describe('displayPath: unambiguous names', () => {
  it('shows printable UTF-8 as it is, and quotes the rest', () => {
    assert.equal(displayPath(t('/srv/résumé/a "b"')), '/srv/résumé/a "b"');
    assert.equal(displayPath(b('2f7372762f636166e9')), '"/srv/caf\\xe9"');
    assert.equal(displayPath(t('/srv/tab\there')), '"/srv/tab\\there"');
    assert.equal(displayPath(t('/srv/caf\ufffd')), '"/srv/caf\ufffd"');
  });

  it('never shows two different paths the same way', () => {
    const paths = [b('636166e9'), t('caf\\xe9'), t('"caf\\xe9"'), t('caf\ufffd'), b('636166efbfbd'), t('"caf'), t('caf"'), t('caf\t'), t('caf\\t'), t('"')];
    const shown = paths.map((p) => displayPath(p));
    assert.equal(new Set(shown).size, new Set(paths.map((p) => p.toString('hex'))).size, shown.join(' | '));
  });

  it('a leading quote forces quoting, so a quoted form is never a real name', () => {
    assert.equal(needsQuoting(t('"caf\\xe9"')), true);
    assert.equal(displayPath(t('"caf\\xe9"')), '"\\"caf\\\\xe9\\""');
    assert.equal(needsQuoting(t('a"b')), false);
  });
});

describe('lossyText and matchText', () => {
  it('replaces each bad byte by one U+FFFD, as Go does', () => {
    assert.equal(lossyText(b('61 e282 62')), 'a\ufffd\ufffdb');
    assert.equal(lossyText(b('eda080')), '\ufffd\ufffd\ufffd');
    assert.equal(matchText(b('2f636166e9')), '/caf\ufffd');
    assert.equal(lossyText(t('résumé')), 'résumé');
  });

  it('isUtf8 accepts what Go accepts', () => {
    assert.equal(isUtf8(t('résumé 😀')), true);
    assert.equal(isUtf8(b('eda080')), false);
    assert.equal(isUtf8(b('f0908080')), true);
    assert.equal(isUtf8(b('e0 80 80')), false);
  });
});

describe('goUnquote', () => {
  it('gives back the bytes of every quoted form', () => {
    for (const hex of ['636166e9', '6361665c786539', '0708 0c0a0d09 0b 011b7f', 'c285c2a0c2ad e2808b f3b08080', 'eda080 c080 61e282 ff c3a9', '22 5c 22', '']) {
      const bytes = b(hex);
      assert.deepEqual(goUnquote(goQuote(bytes)), bytes, hex);
    }
  });

  it('reads octal and upper-case hex escapes as Go does, and refuses what is not a Go string literal', () => {
    assert.deepEqual(goUnquote('"caf\\351\\xE9"'), b('636166e9e9'));
    for (const bad of ['caf', '"caf', '"a"b"', '"\\q"', '"\\x4"', '"\\ud800"', '"\\400"', '"\\U00110000"', '"a\\"']) assert.equal(goUnquote(bad), undefined, bad);
  });
});
