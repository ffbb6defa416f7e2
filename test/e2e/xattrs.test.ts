// Extended attributes and POSIX ACLs through bin/ferry, judged by rsync -aHAX (never by Ferry itself).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { removeTree } from '../fixtures/remove-tree.js';
import { buildXattrTree, decorateSystemCopy, missingXattrTools, rsyncDifferences, tool, type XattrEntry } from '../fixtures/xattr-tree.js';
import { ferry, ferryOk, lastJson, makeTempDir, type TempDir } from './harness.js';

const isRoot = process.getuid?.() === 0;
const USER = { uid: 1234, gid: 2345 };

interface Summary {
  files_skipped: number;
  files_changed: number;
  files_unmodified: number;
  snapshot_id: string;
}

/** The `warning: PATH: extended attribute NAME not set: …` lines of a restore, as "rel NAME" under `source`. */
function unsetAttributes(stderr: string, source: string): string[] {
  const found: string[] = [];
  for (const line of stderr.split('\n')) {
    const match = /^warning: (.*): extended attribute (.*) not set: (.*)$/.exec(line);
    if (!match) continue;
    const [, path, name] = match;
    if (path === source) found.push(`. ${name}`);
    else if (path!.startsWith(`${source}/`)) found.push(`${path!.slice(source.length + 1)} ${name}`);
  }
  return found.sort();
}

const expectedUnset = (entries: readonly XattrEntry[], keep: (name: string) => boolean): string[] =>
  entries.flatMap((e) => e.names.filter(keep).map((name) => `${e.rel} ${name}`)).sort();

describe('extended attributes and ACLs round-trip (oracle: rsync -aHAX)', { skip: !isRoot && 'trusted. and security. attributes, setcap and chown need root (CI runs as root)' }, () => {
  let tmp: TempDir;
  let repo: string;
  let source: string;
  let entries: XattrEntry[];
  let first: string;

  before(async () => {
    const missing = missingXattrTools();
    if (missing.length > 0) throw new Error(`missing tools: ${missing.join(', ')}; install them (.ci/run lists them)`);
    tmp = await makeTempDir('ferry-xattr-');
    await chmod(tmp.path, 0o755);
    repo = join(tmp.path, 'repo');
    source = join(tmp.path, 'source');
    entries = await buildXattrTree(source);
    await ferryOk(['init', '-r', repo]);
    const summary = lastJson<Summary>((await ferryOk(['backup', '-r', repo, source, '--json'])).stdout);
    assert.equal(summary.files_skipped, 0);
    first = summary.snapshot_id;
  });
  after(async () => {
    if (tmp) await removeTree(tmp.path);
  });

  it('restores every namespace, ACLs and a capability on files, directories, a symlink and a FIFO', async () => {
    const target = join(tmp.path, 'restore-all');
    await ferryOk(['restore', '-r', repo, first, '--target', target]);
    assert.deepEqual(rsyncDifferences(source, join(target, source)), []);
    assert.match(tool('getcap', [join(target, source, 'files/cap')]), /cap_net_bind_service,cap_net_raw=ep/);
  });

  it('rsync does see attributes: a restore with --no-xattrs differs exactly where the source has them', async () => {
    const target = join(tmp.path, 'restore-none');
    await ferryOk(['restore', '-r', repo, first, '--target', target, '--no-xattrs']);
    const differing = rsyncDifferences(source, join(target, source)).map((line) => line.slice(12).replace(/\/$/, '').replace(/ -> .*$/, ''));
    const expected = entries.map((e) => e.rel).sort();
    assert.deepEqual(differing.map((p) => (p === '.' ? '.' : p)).sort(), expected);
    assert.equal(tool('getfattr', ['-R', '-h', '-d', '-m', '^(user|trusted|system)\\.', join(target, source)]), '');
  });

  it('ls -l marks ACLs with + and other attributes with @; ls --json carries them in base64', async () => {
    const long = (await ferryOk(['ls', '-r', repo, first, source, '--recursive', '-l'])).stdout;
    const mark = (rel: string): string => {
      const line = long.split('\n').find((l) => l.endsWith(` ${join(source, rel)}`) || l.includes(` ${join(source, rel)} -> `));
      assert.ok(line, `${rel} listed`);
      return line[10]!;
    };
    assert.equal(mark('files/acl'), '+');
    assert.equal(mark('files/acl-and-user'), '+');
    assert.equal(mark('dirs/acl'), '+');
    assert.equal(mark('files/user'), '@');
    assert.equal(mark('files/cap'), '@');
    assert.equal(mark('links/to-file'), '@');
    assert.equal(mark('hard'), ' ');
    const json = (await ferryOk(['ls', '-r', repo, first, join(source, 'files/user'), '--json'])).stdout;
    const node = JSON.parse(json.trim().split('\n').pop()!) as { extended_attributes: { name: string; value: string }[] };
    const byName = new Map(node.extended_attributes.map((x) => [x.name, Buffer.from(x.value, 'base64')]));
    assert.deepEqual([...byName.keys()], ['user.big', 'user.binary', 'user.empty', 'user.text']);
    assert.equal(byName.get('user.text')!.toString(), 'hello world');
    assert.deepEqual(byName.get('user.binary'), Buffer.from([0, 1, 0xff, 0, 0, 0x7e, 0x80]));
    assert.equal(byName.get('user.empty')!.length, 0);
  });

  it('an incremental backup picks up changes of attributes and ACLs alone (only the ctime moves)', async () => {
    tool('setfattr', ['-n', 'user.text', '-v', 'changed', join(source, 'files/user')]);
    tool('setfattr', ['-x', 'user.empty', join(source, 'files/user')]);
    tool('setfacl', ['-m', 'u:4321:r--', join(source, 'files/acl')]);
    tool('setcap', ['cap_chown+ep', join(source, 'files/cap')]);
    tool('setfattr', ['-h', '-n', 'trusted.link', '-v', 'new', join(source, 'links/to-file')]);
    tool('setfacl', ['-k', join(source, 'dirs/acl/subdir')]);
    const summary = lastJson<Summary>((await ferryOk(['backup', '-r', repo, source, '--json'])).stdout);
    assert.equal(summary.files_changed, 3);
    assert.ok(summary.files_unmodified > 5);
    const target = join(tmp.path, 'restore-incremental');
    await ferryOk(['restore', '-r', repo, 'latest', '--target', target]);
    assert.deepEqual(rsyncDifferences(source, join(target, source)), []);
  });

  it('on a file system without extended attributes (ramfs) every file is restored, each attribute named, exit 3', async (t) => {
    const ram = join(tmp.path, 'ramfs');
    await mkdir(ram);
    try {
      execFileSync('mount', ['-t', 'ramfs', 'ramfs', ram], { stdio: 'ignore' });
    } catch {
      t.skip('mounting a ramfs needs CAP_SYS_ADMIN (CI runs as root)');
      return;
    }
    try {
      const result = await ferry(['restore', '-r', repo, first, '--target', ram]);
      assert.equal(result.code, 3, result.stderr);
      // hard/b is a second name of hard/a's inode: its attributes are set (and refused) once, for hard/a.
      assert.deepEqual(unsetAttributes(result.stderr, source), expectedUnset(entries.filter((e) => e.rel !== 'hard/b'), () => true));
      assert.match(result.stderr, /: extended attribute security\.capability not set: EOPNOTSUPP: the file system does not support extended attributes/);
      assert.match(result.stderr, /^ferry: \d+ extended attributes or ACLs could not be set \(listed above\); everything else is restored\. .*--no-xattrs/m);
      assert.doesNotMatch(result.stderr, /\/proc\/self\/fd/);
      // Everything but the attributes is there: names, bytes, modes, owners, times, links, the FIFO.
      const content = execFileSync('rsync', ['-aH', '--checksum', '--dry-run', '--itemize-changes', `${source}/`, `${join(ram, source)}/`], { encoding: 'utf8' });
      assert.equal(content, '');
      const quiet = await ferry(['restore', '-r', repo, first, '--target', join(ram, 'again'), '--no-xattrs']);
      assert.equal(quiet.code, 0, quiet.stderr);
      const json = await ferry(['restore', '-r', repo, first, '--target', join(ram, 'json'), '--json']);
      assert.equal(json.code, 3, json.stderr);
      const warnings = json.stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { message_type: string; item?: string; attribute?: string; error?: { message: string } })
        .filter((m) => m.message_type === 'warning' && m.item === join(source, 'files/cap'));
      assert.deepEqual(warnings.map((w) => w.attribute), ['security.capability']);
      assert.match(warnings[0]!.error!.message, /^EOPNOTSUPP: /);
    } finally {
      execFileSync('umount', [ram]);
    }
  });

  it('a user who may not set trusted. and security. attributes gets the rest, each refused one named, exit 3', async () => {
    const userRepo = join(tmp.path, 'user-repo');
    const target = join(tmp.path, 'user-target');
    tool('cp', ['-a', repo, userRepo]);
    await mkdir(target);
    tool('chown', ['-R', `${USER.uid}:${USER.gid}`, userRepo, target]);
    const result = await ferry(['restore', '-r', userRepo, first, '--target', target], { asUser: USER });
    assert.equal(result.code, 3, result.stderr);
    const privileged = (name: string): boolean => name.startsWith('trusted.') || name.startsWith('security.');
    assert.deepEqual(unsetAttributes(result.stderr, source), expectedUnset(entries, privileged));
    assert.match(result.stderr, /files\/cap: extended attribute security\.capability not set: EPERM: setting trusted\. and security\. attributes needs root/);
    // What the owner may set is there: user. attributes and ACLs.
    assert.match(tool('getfattr', ['-n', 'user.text', '--only-values', join(target, source, 'files/user')]), /^hello world$/);
    assert.match(tool('getfacl', ['-c', join(target, source, 'dirs/acl')]), /default:user:1234:r-x/);
  });

  it('backup --no-xattrs leaves them out of the snapshot', async () => {
    const summary = lastJson<Summary>((await ferryOk(['backup', '-r', repo, source, '--no-xattrs', '--json'])).stdout);
    const listing = (await ferryOk(['ls', '-r', repo, summary.snapshot_id, '--json'])).stdout;
    assert.doesNotMatch(listing, /extended_attributes/);
    const target = join(tmp.path, 'restore-without');
    await ferryOk(['restore', '-r', repo, summary.snapshot_id, '--target', target]);
    assert.ok(rsyncDifferences(source, join(target, source)).length >= entries.length - 1);
  });
});

describe('a real system folder with attributes and ACLs, backed up as root (oracle: rsync -aHAX)', { skip: !isRoot && 'reading every file of /etc and setting trusted./security. attributes needs root (CI runs as root)' }, () => {
  let tmp: TempDir;
  before(async () => {
    const missing = missingXattrTools();
    if (missing.length > 0) throw new Error(`missing tools: ${missing.join(', ')}; install them (.ci/run lists them)`);
    tmp = await makeTempDir('ferry-xattr-etc-');
  });
  after(async () => {
    if (tmp) await removeTree(tmp.path);
  });

  it('a copy of /etc (cp -a keeps what it has) decorated like a file server restores identically', async () => {
    const source = join(tmp.path, 'etc');
    tool('cp', ['-a', '/etc', source]);
    assert.ok(decorateSystemCopy(source) > 20);
    const repo = join(tmp.path, 'repo');
    await ferryOk(['init', '-r', repo]);
    const summary = lastJson<Summary>((await ferryOk(['backup', '-r', repo, source, '--json'])).stdout);
    assert.equal(summary.files_skipped, 0);
    const target = join(tmp.path, 'restore');
    await ferryOk(['restore', '-r', repo, 'latest', '--target', target]);
    assert.deepEqual(rsyncDifferences(source, join(target, source)), []);
  });
});
