import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { assertIntegrityError, idArb } from '../testing/arbitraries.js';
import { decodeTree, encodeTree, isSafeName, type NodeType, type TreeNode, type Xattr } from './tree-format.js';

fc.configureGlobal({ seed: 42, numRuns: 100 });

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** Bytes without NUL (and, for names, without `/`). */
const bytesWithout = (banned: readonly number[], minLength: number, maxLength: number): fc.Arbitrary<Buffer> =>
  fc
    .uint8Array({ minLength, maxLength })
    .map((bytes) => Buffer.from(bytes.map((b) => (banned.includes(b) ? b + 1 : b))));

/** Names of 1–255 bytes: raw bytes (mostly not UTF-8) or UTF-8 text; never `.` or `..`. */
const nameArb: fc.Arbitrary<Buffer> = fc
  .oneof(
    bytesWithout([0, 0x2f], 1, 255),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }).map((s) => Buffer.from(s.replace(/[/\0]/g, '_'))),
    fc.constantFrom('...', '.hidden', '..a', 'a.', '\u00e9', 'e\u0301', '\ufffd').map((s) => Buffer.from(s)),
  )
  .filter((name) => name.length >= 1 && name.length <= 255 && name.toString('latin1') !== '.' && name.toString('latin1') !== '..');

const targetArb = fc.oneof(bytesWithout([0], 1, 300), fc.string({ minLength: 1, maxLength: 100 }).map((s) => Buffer.from(s.replace(/\0/g, '/'))));
const timeArb = fc.oneof(fc.bigInt({ min: INT64_MIN, max: INT64_MAX }), fc.bigInt({ min: -(10n ** 18n), max: 0n }), fc.constantFrom(INT64_MIN, -1n, 0n, INT64_MAX));
const u64Arb = fc.oneof(fc.bigInt({ min: 0n, max: UINT64_MAX }), fc.constantFrom(0n, UINT64_MAX));

/** The fields every node has, for a given name. */
const baseArb = fc.record(
  {
    mode: fc.integer({ min: 0, max: 0o7777 }),
    uid: fc.nat({ max: 2 ** 32 - 1 }),
    gid: fc.nat({ max: 2 ** 32 - 1 }),
    mtimeNs: timeArb,
    ctimeNs: timeArb,
    inode: u64Arb,
    device: u64Arb,
    links: fc.nat({ max: 2 ** 32 - 1 }),
    size: fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER)),
  },
  { noNullPrototype: true },
);

/** Extended attributes: none (no key at all), or a non-empty list with unique names, sorted by name bytes. */
const xattrsArb: fc.Arbitrary<{ xattrs?: Xattr[] }> = fc.oneof(
  fc.constant({}),
  fc
    .uniqueArray(
      fc.record({
        name: fc.oneof(bytesWithout([0], 1, 255), fc.constantFrom('user.a', 'trusted.b', 'security.capability', 'security.NTACL', 'system.posix_acl_access').map((s) => Buffer.from(s))),
        value: fc.uint8Array({ maxLength: 300 }).map((v) => Buffer.from(v)),
      }, { noNullPrototype: true }),
      { selector: (x) => x.name.toString('hex'), minLength: 1, maxLength: 5 },
    )
    .map((list) => ({ xattrs: list.sort((a, b) => Buffer.compare(a.name, b.name)) })),
);

/** A node of any type with exactly the type-specific fields it needs (no undefined-valued keys). */
const nodeArb: fc.Arbitrary<TreeNode> = fc
  .tuple(nameArb, baseArb, fc.constantFrom<NodeType>('file', 'dir', 'symlink', 'fifo', 'socket', 'chardev', 'blockdev'), xattrsArb)
  .chain(([name, base, type, xattrs]): fc.Arbitrary<TreeNode> => {
    const node = { name, type, ...base, ...xattrs };
    switch (type) {
      case 'file':
        return fc.array(idArb, { maxLength: 6 }).map((content) => ({ ...node, content }));
      case 'dir':
        return idArb.map((subtree) => ({ ...node, subtree }));
      case 'symlink':
        return targetArb.map((linkTarget) => ({ ...node, linkTarget }));
      case 'chardev':
      case 'blockdev':
        return u64Arb.map((rdev) => ({ ...node, rdev }));
      default:
        return fc.constant(node);
    }
  });

const nodesArb = fc.uniqueArray(nodeArb, { selector: (n) => n.name.toString('hex'), maxLength: 25 });
const byName = (a: TreeNode, b: TreeNode): number => Buffer.compare(a.name, b.name);

describe('encodeTree/decodeTree', () => {
  it('round trips arbitrary node lists, returning them sorted by name bytes', () => {
    fc.assert(
      fc.property(nodesArb, (nodes) => {
        assert.deepEqual(decodeTree(encodeTree(nodes)), [...nodes].sort(byName));
      }),
    );
  });

  it('is canonical: the same nodes in any order give identical bytes', () => {
    fc.assert(
      fc.property(
        nodesArb.chain((nodes) => fc.tuple(fc.constant(nodes), fc.shuffledSubarray(nodes, { minLength: nodes.length, maxLength: nodes.length }))),
        ([nodes, shuffled]) => {
          const bytes = encodeTree(nodes);
          assert.ok(bytes.equals(encodeTree(shuffled)));
          assert.ok(bytes.equals(encodeTree(decodeTree(bytes))), 're-encoding a decoded tree gives the same bytes');
        },
      ),
    );
  });

  it('keeps names and link targets that are not UTF-8 byte for byte', () => {
    const name = Buffer.from([0xff, 0xfe, 0x80, 0x41, 0xc3]);
    const linkTarget = Buffer.from([0x2f, 0xed, 0xa0, 0x80, 0x2f]);
    const node = { name, type: 'symlink' as const, mode: 0o777, uid: 0, gid: 0, mtimeNs: -1n, ctimeNs: 0n, inode: 1n, device: 2n, links: 1, size: 5, linkTarget };
    const [decoded] = decodeTree(encodeTree([node]));
    assert.ok(decoded!.name.equals(name));
    assert.ok(decoded!.linkTarget!.equals(linkTarget));
  });

  it('keeps times before 1970 and at the ends of the 64-bit range', () => {
    const at = (mtimeNs: bigint, name: string): TreeNode => ({ name: Buffer.from(name), type: 'fifo', mode: 0o644, uid: 1, gid: 2, mtimeNs, ctimeNs: -mtimeNs - 1n, inode: UINT64_MAX, device: 0n, links: 1, size: 0 });
    const nodes = [at(INT64_MIN, 'a'), at(-1_000_000_000n * 86_400n * 365n * 50n, 'b'), at(-1n, 'c'), at(INT64_MAX, 'd')];
    assert.deepEqual(decodeTree(encodeTree(nodes)), nodes);
  });

  it('stores extended attributes sorted by name, with any bytes, and only when there are some', () => {
    const node = (xattrs?: Xattr[]): TreeNode => ({ name: Buffer.from('f'), type: 'fifo', mode: 0o644, uid: 0, gid: 0, mtimeNs: 1n, ctimeNs: 2n, inode: 3n, device: 4n, links: 1, size: 0, ...(xattrs ? { xattrs } : {}) });
    const acl = Buffer.from('AgAAAAEABgD/////BAAEAP////8QAAYA/////yAABAD/////', 'base64');
    const rawName = Buffer.from([0x75, 0x73, 0x65, 0x72, 0x2e, 0xff]);
    const xattrs = [
      { name: Buffer.from('user.b'), value: Buffer.from([0, 1, 0xff]) },
      { name: Buffer.from('system.posix_acl_access'), value: acl },
      { name: rawName, value: Buffer.alloc(0) },
    ];
    const bytes = encodeTree([node(xattrs)]);
    const json = JSON.parse(bytes.toString()) as { nodes: { xattrs: unknown }[] };
    assert.deepEqual(json.nodes[0]!.xattrs, [
      { name: 'system.posix_acl_access', value: acl.toString('base64') },
      { name: 'user.b', value: 'AAH/' },
      { name_raw: rawName.toString('base64'), value: '' },
    ]);
    assert.deepEqual(decodeTree(bytes)[0]!.xattrs, [xattrs[1], xattrs[0], xattrs[2]]);
    // No attributes: no key, so trees of files without them keep the bytes (and ids) they had before.
    assert.ok(!encodeTree([node([])]).toString().includes('xattrs'));
    assert.ok(encodeTree([node([])]).equals(encodeTree([node()])));
  });

  it('reads trees written before extended attributes were stored, byte for byte', () => {
    const old = '{"nodes":[{"name":"a","type":"file","mode":420,"uid":1000,"gid":1000,"mtime_ns":"1700000000123456789","ctime_ns":"1700000000123456789","inode":"1234","device":"2049","links":1,"size":0,"content":[]}]}';
    const [node] = decodeTree(Buffer.from(old));
    assert.equal(node!.xattrs, undefined);
    assert.equal(encodeTree([node!]).toString(), old);
  });

  it('writes the same bytes as the first encoder (spread objects), for any nodes', () => {
    // The encoder as it was before nodes were built from fixed literals: the tree's id is the hash of its
    // bytes, so the rewrite must not change one byte (the same directory keeps its tree id across versions).
    const bytesJson = (value: Buffer, plain: string): Record<string, string> => {
      const text = value.toString('utf8');
      return Buffer.from(text, 'utf8').equals(value) ? { [plain]: text } : { [`${plain}_raw`]: value.toString('base64') };
    };
    const reference = (nodes: readonly TreeNode[]): string =>
      JSON.stringify({
        nodes: [...nodes].sort(byName).map((n) => {
          const json: Record<string, unknown> = {
            ...bytesJson(n.name, 'name'), type: n.type, mode: n.mode, uid: n.uid, gid: n.gid, mtime_ns: n.mtimeNs.toString(), ctime_ns: n.ctimeNs.toString(),
            inode: n.inode.toString(), device: n.device.toString(), links: n.links, size: n.size,
          };
          if (n.content) json.content = [...n.content];
          if (n.subtree) json.subtree = n.subtree;
          if (n.linkTarget) Object.assign(json, bytesJson(n.linkTarget, 'link_target'));
          if (n.rdev !== undefined) json.rdev = n.rdev.toString();
          if (n.xattrs && n.xattrs.length > 0) json.xattrs = [...n.xattrs].sort((a, b) => Buffer.compare(a.name, b.name)).map((x) => ({ ...bytesJson(x.name, 'name'), value: x.value.toString('base64') }));
          return json;
        }),
      });
    fc.assert(fc.property(nodesArb, (nodes) => assert.equal(encodeTree(nodes).toString('latin1'), Buffer.from(reference(nodes)).toString('latin1'))));
  });

  it('encodes an empty directory', () => {
    assert.deepEqual(decodeTree(encodeTree([])), []);
  });
});

describe('decodeTree refuses what a restore could be tricked by', () => {
  const ID = '1'.repeat(64);
  const base = { mode: 0o644, uid: 1000, gid: 1000, mtime_ns: '-1', ctime_ns: '0', inode: '5', device: '7', links: 1, size: 0 };
  const file = (name: string): Record<string, unknown> => ({ name, type: 'file', ...base, content: [] });
  const tree = (...nodes: unknown[]): Buffer => Buffer.from(JSON.stringify({ nodes }));
  const b64 = (bytes: string | number[]): string => Buffer.from(bytes as string).toString('base64');

  it('accepts the well-formed baseline the table alters', () => {
    assert.equal(decodeTree(tree(file('a'), { name_raw: b64([0xff]), type: 'dir', ...base, subtree: ID })).length, 2);
  });

  const refused: [string, Buffer][] = [
    ['the name ".."', tree(file('..'))],
    ['the name "."', tree(file('.'))],
    ['the name "a/b"', tree(file('a/b'))],
    ['the name "/"', tree(file('/'))],
    ['an absolute name', tree(file('/etc'))],
    ['an empty name', tree(file(''))],
    ['a name with NUL', tree(file('a\u0000b'))],
    ['a name of 256 bytes', tree(file('x'.repeat(256)))],
    ['a raw name ".."', tree({ ...file(''), name: undefined, name_raw: b64('..') })],
    ['a raw name "a/b"', tree({ ...file(''), name: undefined, name_raw: b64('a/b') })],
    ['a raw name with NUL', tree({ ...file(''), name: undefined, name_raw: b64([0x61, 0, 0x62]) })],
    ['a raw name that is empty', tree({ ...file(''), name: undefined, name_raw: '' })],
    ['no name', tree({ ...file(''), name: undefined })],
    ['a name that is not a string', tree({ ...file(''), name: 5 })],
    ['duplicate names', tree(file('a'), file('a'))],
    ['duplicate names, one raw', tree(file('a'), { ...file(''), name: undefined, name_raw: b64('a') })],
    ['unsorted names', tree(file('b'), file('a'))],
    ['names sorted as UTF-16, not as bytes', tree(file('\u{10000}'), file('\uffff'))],
    ['an unknown type', tree({ ...file('a'), type: 'door' })],
    ['no type', tree({ ...file('a'), type: undefined })],
    ['a file without content', tree({ ...file('a'), content: undefined })],
    ['a file whose content is not a list', tree({ ...file('a'), content: ID })],
    ['a file with a malformed content id', tree({ ...file('a'), content: ['xyz'] })],
    ['a file with an uppercase content id', tree({ ...file('a'), content: ['A'.repeat(64)] })],
    ['a dir without subtree', tree({ ...file('a'), type: 'dir', content: undefined })],
    ['a dir with a malformed subtree', tree({ ...file('a'), type: 'dir', subtree: ID.slice(1) })],
    ['a symlink without target', tree({ ...file('a'), type: 'symlink' })],
    ['a symlink with an empty target', tree({ ...file('a'), type: 'symlink', link_target: '' })],
    ['a symlink whose target has NUL', tree({ ...file('a'), type: 'symlink', link_target: 'x\u0000y' })],
    ['a symlink whose raw target has NUL', tree({ ...file('a'), type: 'symlink', link_target_raw: b64([0xff, 0]) })],
    ['a negative mode', tree({ ...file('a'), mode: -1 })],
    ['a fractional uid', tree({ ...file('a'), uid: 1.5 })],
    ['a size beyond 2^53', tree({ ...file('a'), size: 2 ** 53 })],
    ['a size as a string', tree({ ...file('a'), size: '0' })],
    ['an mtime that is a number', tree({ ...file('a'), mtime_ns: 0 })],
    ['an mtime that is not a decimal integer', tree({ ...file('a'), mtime_ns: '1e9' })],
    ['no ctime', tree({ ...file('a'), ctime_ns: undefined })],
    ['an rdev that is not an integer', tree({ ...file('a'), type: 'chardev', content: undefined, rdev: 'x' })],
    ['xattrs that are not a list', tree({ ...file('a'), xattrs: {} })],
    ['an xattr that is not an object', tree({ ...file('a'), xattrs: ['user.a'] })],
    ['an xattr without a name', tree({ ...file('a'), xattrs: [{ value: '' }] })],
    ['an xattr with an empty name', tree({ ...file('a'), xattrs: [{ name: '', value: '' }] })],
    ['an xattr name with NUL', tree({ ...file('a'), xattrs: [{ name: 'user.a\u0000b', value: '' }] })],
    ['an xattr raw name with NUL', tree({ ...file('a'), xattrs: [{ name_raw: b64([0x61, 0]), value: '' }] })],
    ['an xattr name of 256 bytes', tree({ ...file('a'), xattrs: [{ name: 'u'.repeat(256), value: '' }] })],
    ['an xattr without a value', tree({ ...file('a'), xattrs: [{ name: 'user.a' }] })],
    ['an xattr value that is not base64', tree({ ...file('a'), xattrs: [{ name: 'user.a', value: 'a b!' }] })],
    ['an xattr value over 64 KiB', tree({ ...file('a'), xattrs: [{ name: 'user.a', value: Buffer.alloc(65537).toString('base64') }] })],
    ['duplicate xattr names', tree({ ...file('a'), xattrs: [{ name: 'user.a', value: '' }, { name: 'user.a', value: '' }] })],
    ['unsorted xattr names', tree({ ...file('a'), xattrs: [{ name: 'user.b', value: '' }, { name: 'user.a', value: '' }] })],
    ['a node that is null', tree(null)],
    ['a node that is a string', tree('a')],
    ['a tree without a node list', Buffer.from('{}')],
    ['a node list that is not an array', Buffer.from('{"nodes":{}}')],
    ['invalid JSON', Buffer.from('{"nodes":[')],
    ['bytes that are not text', Buffer.from([0xff, 0x00, 0xfe])],
    ['empty bytes', Buffer.alloc(0)],
    ['JSON null', Buffer.from('null')],
    ['a JSON number', Buffer.from('1')],
    ['a JSON array', Buffer.from('[]')],
  ];
  for (const [name, bytes] of refused) {
    it(`refuses ${name}`, () => assertIntegrityError(() => decodeTree(bytes)));
  }
});

describe('isSafeName', () => {
  const cases: [string, Buffer, boolean][] = [
    ['a', Buffer.from('a'), true],
    ['...', Buffer.from('...'), true],
    ['.a', Buffer.from('.a'), true],
    ['a.', Buffer.from('a.'), true],
    ['..a', Buffer.from('..a'), true],
    ['a..', Buffer.from('a..'), true],
    ['a space', Buffer.from(' '), true],
    ['a backslash', Buffer.from('a\\b'), true],
    ['non-UTF-8 bytes', Buffer.from([0xff, 0xfe]), true],
    ['UTF-8 text', Buffer.from('été 🎉'), true],
    ['255 bytes', Buffer.alloc(255, 0x61), true],
    ['a newline', Buffer.from('a\nb'), true],
    ['empty', Buffer.alloc(0), false],
    ['.', Buffer.from('.'), false],
    ['..', Buffer.from('..'), false],
    ['a/b', Buffer.from('a/b'), false],
    ['/', Buffer.from('/'), false],
    ['a trailing slash', Buffer.from('a/'), false],
    ['NUL alone', Buffer.of(0), false],
    ['NUL inside', Buffer.from('a\0b'), false],
    ['256 bytes', Buffer.alloc(256, 0x61), false],
  ];
  for (const [name, bytes, safe] of cases) {
    it(`${safe ? 'accepts' : 'refuses'} ${name}`, () => assert.equal(isSafeName(bytes), safe));
  }

  it('agrees with its definition on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const text = Buffer.from(bytes).toString('latin1');
        const expected = bytes.length >= 1 && bytes.length <= 255 && !bytes.includes(0) && !bytes.includes(0x2f) && text !== '.' && text !== '..';
        assert.equal(isSafeName(bytes), expected);
      }),
    );
  });
});
