import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TreeNode } from '../engine/snapshot/tree-format.js';
import { bytesFields, goFileMode, goModeString, jsonLine, nodeJson, rfc3339Nano, xattrsJson } from './node-json.js';

const node = (over: Partial<TreeNode>): TreeNode => ({
  name: Buffer.from('f'),
  type: 'file',
  mode: 0o644,
  uid: 1000,
  gid: 50,
  mtimeNs: 1_700_000_000_123_456_789n,
  ctimeNs: 1_700_000_001_000_000_000n,
  inode: 42n,
  device: 2049n,
  links: 1,
  size: 5,
  ...over,
});

describe('restic-shaped node JSON', () => {
  // Numbers and strings as restic 0.14 prints them (test/e2e/ls.test.ts compares with restic itself).
  const modes: [TreeNode['type'], number, number, string][] = [
    ['file', 0o644, 420, '-rw-r--r--'],
    ['dir', 0o755, 2147484141, 'drwxr-xr-x'],
    ['symlink', 0o777, 134218239, 'Lrwxrwxrwx'],
    ['fifo', 0o644, 33554852, 'prw-r--r--'],
    ['socket', 0o755, 16777709, 'Srwxr-xr-x'],
    ['chardev', 0o666, 69206454, 'Dcrw-rw-rw-'],
    ['blockdev', 0o660, 67109296, 'Drw-rw----'],
    ['file', 0o4755, 8389101, 'urwxr-xr-x'],
    ['dir', 0o2775, 2151678461, 'dgrwxrwxr-x'],
    ['dir', 0o1777, 2148532735, 'dtrwxrwxrwx'],
  ];
  for (const [type, mode, go, text] of modes) {
    it(`mode ${type} ${mode.toString(8)} is Go's ${go} (${text})`, () => {
      assert.equal(goFileMode({ type, mode }), go);
      assert.equal(goModeString(go), text);
    });
  }

  it('times are RFC 3339 in UTC with the nanoseconds Go keeps (no trailing zeros)', () => {
    assert.equal(rfc3339Nano(1_700_000_000_123_456_789n), '2023-11-14T22:13:20.123456789Z');
    assert.equal(rfc3339Nano(1_700_000_000_120_000_000n), '2023-11-14T22:13:20.12Z');
    assert.equal(rfc3339Nano(1_700_000_000_000_000_000n), '2023-11-14T22:13:20Z');
    assert.equal(rfc3339Nano(-1n), '1969-12-31T23:59:59.999999999Z');
  });

  it('names that are UTF-8 are plain strings; others get a readable form and the exact bytes in base64', () => {
    assert.deepEqual(bytesFields('name', Buffer.from('résumé\t"x"')), { name: 'résumé\t"x"' });
    const raw = Buffer.from([0x63, 0x61, 0x66, 0xe9]);
    assert.deepEqual(bytesFields('path', raw), { path: 'caf\ufffd', path_raw: raw.toString('base64') });
    assert.deepEqual(xattrsJson([{ name: Buffer.from('user.a'), value: Buffer.from('1') }, { name: Buffer.from([0x75, 0x2e, 0xff]), value: Buffer.from([0, 0xff]) }]), [
      { name: 'user.a', value: 'MQ==' },
      { name: 'u.\ufffd', name_raw: 'dS7/', value: 'AP8=' },
    ]);
  });

  it("a node has restic's fields in restic's order; size only for files; linktarget for symlinks", () => {
    const fields = nodeJson(node({}), Buffer.from('/srv/f'));
    assert.deepEqual(Object.keys(fields), ['name', 'type', 'path', 'uid', 'gid', 'size', 'mode', 'permissions', 'mtime', 'ctime', 'inode', 'device_id', 'links', 'message_type', 'struct_type']);
    assert.deepEqual(JSON.parse(jsonLine(fields)), {
      name: 'f', type: 'file', path: '/srv/f', uid: 1000, gid: 50, size: 5, mode: 420, permissions: '-rw-r--r--',
      mtime: '2023-11-14T22:13:20.123456789Z', ctime: '2023-11-14T22:13:21Z', inode: 42, device_id: 2049, links: 1, message_type: 'node', struct_type: 'node',
    });
    const link = nodeJson(node({ type: 'symlink', mode: 0o777, size: 0, linkTarget: Buffer.from([0x74, 0xff]) }), Buffer.from('/l'));
    assert.equal('size' in link, false);
    assert.equal(link.linktarget, 't\ufffd');
    assert.equal(link.linktarget_raw, 'dP8=');
  });

  it('writes 64-bit inodes exactly', () => {
    const line = jsonLine(nodeJson(node({ inode: 18446744073709551557n }), Buffer.from('/f')));
    assert.match(line, /"inode":18446744073709551557,/);
    assert.ok(line.endsWith('}\n'));
  });
});
