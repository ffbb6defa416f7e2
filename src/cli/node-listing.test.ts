import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TreeNode } from '../engine/snapshot/tree-format.js';
import { longListing, modeString, xattrMarker } from './node-listing.js';

const xattr = (name: string | Buffer, value = ''): { name: Buffer; value: Buffer } => ({ name: Buffer.isBuffer(name) ? name : Buffer.from(name), value: Buffer.from(value) });

describe('ls -l rendering', () => {
  const modes: [TreeNode['type'], number, string][] = [
    ['file', 0o644, '-rw-r--r--'],
    ['dir', 0o755, 'drwxr-xr-x'],
    ['dir', 0o1777, 'drwxrwxrwt'],
    ['dir', 0o1770, 'drwxrwx--T'],
    ['file', 0o4755, '-rwsr-xr-x'],
    ['file', 0o4644, '-rwSr--r--'],
    ['dir', 0o2775, 'drwxrwsr-x'],
    ['dir', 0o2765, 'drwxrwSr-x'],
    ['symlink', 0o777, 'lrwxrwxrwx'],
    ['fifo', 0o600, 'prw-------'],
    ['socket', 0o755, 'srwxr-xr-x'],
    ['chardev', 0o666, 'crw-rw-rw-'],
    ['blockdev', 0o660, 'brw-rw----'],
    ['file', 0, '----------'],
  ];
  for (const [type, mode, expected] of modes) {
    it(`shows ${type} ${mode.toString(8)} as ${expected}`, () => assert.equal(modeString({ type, mode }), expected));
  }

  const markers: [string, { name: Buffer; value: Buffer }[] | undefined, string][] = [
    ['no attributes', undefined, ' '],
    ['an empty list', [], ' '],
    ['user. attributes only', [xattr('user.a')], '@'],
    ['security.capability', [xattr('security.capability')], '@'],
    ['Samba security.NTACL', [xattr('security.NTACL')], '@'],
    ['an access ACL', [xattr('system.posix_acl_access')], '+'],
    ['a default ACL', [xattr('system.posix_acl_default')], '+'],
    ['an ACL and other attributes', [xattr('system.posix_acl_access'), xattr('user.a')], '+'],
  ];
  for (const [what, xattrs, expected] of markers) {
    it(`marks ${what} with "${expected}"`, () => assert.equal(xattrMarker(xattrs ? { xattrs } : {}), expected));
  }

  it('prints one aligned line per node, with the marker right after the mode', () => {
    const node: TreeNode = { name: Buffer.from('f'), type: 'file', mode: 0o640, uid: 1000, gid: 50, mtimeNs: 0n, ctimeNs: 0n, inode: 1n, device: 1n, links: 1, size: 1234, content: [], xattrs: [xattr('user.a')] };
    assert.match(longListing(node, '/srv/f', undefined), /^-rw-r-----@ {2}1000 {4}50 {7}1234 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \/srv\/f$/);
    assert.match(longListing({ ...node, xattrs: undefined }, '/srv/f', undefined), /^-rw-r----- {3}1000 /);
    assert.match(longListing({ ...node, type: 'symlink', mode: 0o777 }, '/l', 'f'), /^lrwxrwxrwx@ .* \/l -> f$/);
  });
});
