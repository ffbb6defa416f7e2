// `ferry ls` against restic 0.14 (the oracle, installed in CI) on one tree: how names that are not
// printable UTF-8 are quoted (restic stores every tree name as Go's strconv.Quote without the outer quotes),
// the fields and values of `ls --json`, and which entries `ls SNAPSHOT FOLDER` lists.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { mkdir, readdir, rename, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ferry, ferryOk, lastJson, makeTempDir, type RunResult, type TempDir } from './harness.js';

const RESTIC = '/usr/bin/restic';
const isRoot = process.getuid?.() === 0;
/** Both tools print times in UTC then, so restic's strings can be compared with Ferry's. */
const UTC = { TZ: 'UTC' };

function restic(args: readonly string[]): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const env = { ...process.env, ...UTC, RESTIC_PASSWORD: 'restic-oracle' };
    const child = spawn(RESTIC, ['--no-cache', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`restic ${args.join(' ')} exited ${code}: ${stderr}`));
      else resolvePromise({ code: 0, stdout, stderr });
    });
  });
}

const utf8 = (text: string): Buffer => Buffer.from(text, 'utf8');
/** The names of the `names` folder: [bytes, shown quoted by ls?]. The content of the n-th is n+1 bytes, so names restic's JSON writes alike can be told apart by size. */
const NAMES: [Buffer, boolean][] = [
  [Buffer.from([0x63, 0x61, 0x66, 0xe9]), true],
  [utf8('caf\\xe9'), false],
  [utf8('caf\ufffd'), true],
  [utf8('"caf\\xe9"'), false], // a leading " forces quotes only at the start of a whole path
  [utf8('tab\there'), true],
  [utf8('new\nline'), true],
  [utf8('esc\x1b[31m del\x7f'), true],
  [utf8('nbsp\u00a0zwsp\u200b'), true],
  [Buffer.from([0x62, 0x61, 0x64, 0xed, 0xa0, 0x80, 0xc0, 0xaf, 0xff]), true],
  [utf8('quo"te'), false],
  [utf8('résumé 😀'), false],
  [utf8('plain.txt'), false],
];

async function buildTree(src: string): Promise<void> {
  await mkdir(join(src, 'names'), { recursive: true });
  for (const [i, [name]] of NAMES.entries()) await writeFile(Buffer.concat([utf8(`${src}/names/`), name]), 'x'.repeat(i + 1));
  await mkdir(join(src, 'sub/deeper'), { recursive: true });
  await writeFile(join(src, 'sub/a.txt'), 'hello');
  await writeFile(join(src, 'sub/empty'), '');
  await writeFile(join(src, 'sub/deeper/b'), 'b');
  await symlink(Buffer.from([0x74, 0x67, 0x74, 0xff]), utf8(join(src, 'sub/link')));
  await writeFile(join(src, 'modes-setuid'), '#!/bin/sh\n');
  chmodSync(join(src, 'modes-setuid'), 0o4755);
  await mkdir(join(src, 'modes-setgid'));
  chmodSync(join(src, 'modes-setgid'), 0o2775);
  await mkdir(join(src, 'modes-sticky'));
  chmodSync(join(src, 'modes-sticky'), 0o1777);
  const fifo = spawn('mkfifo', [join(src, 'fifo')]);
  await new Promise((resolve) => fifo.on('close', resolve));
  if (isRoot) await new Promise((resolve) => spawn('mknod', [join(src, 'null-device'), 'c', '1', '3']).on('close', resolve));
  // Node unlinks the socket it bound when the listener closes: bind, rename into place, close.
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(join(src, '.s'), resolve));
  await rename(join(src, '.s'), join(src, 'socket'));
  await new Promise((resolve) => server.close(resolve));
}

interface JsonLine {
  struct_type?: string;
  path?: string;
  path_raw?: string;
  name?: string;
  name_raw?: string;
  size?: number;
  [key: string]: unknown;
}

const parseLines = (stdout: string): JsonLine[] => stdout.trim().split('\n').map((l) => JSON.parse(l) as JsonLine);

describe('ls against restic (restic 0.14 is the oracle)', () => {
  let tmp: TempDir;
  let src: string;
  let repo: string;
  let resticRepo: string;
  let snapshot: string;
  let resticSnapshot: string;

  before(async () => {
    tmp = await makeTempDir('ferry-ls-');
    src = join(tmp.path, 'src');
    repo = join(tmp.path, 'repo');
    resticRepo = join(tmp.path, 'restic-repo');
    await buildTree(src);
    await ferryOk(['init', '-r', repo]);
    snapshot = lastJson<{ snapshot_id: string }>((await ferryOk(['backup', '-r', repo, src, '--json'])).stdout).snapshot_id;
    await restic(['-r', resticRepo, 'init']);
    resticSnapshot = lastJson<{ snapshot_id: string }>((await restic(['-r', resticRepo, 'backup', src, '--json'])).stdout).snapshot_id;
  });
  after(async () => {
    await tmp.cleanup();
  });


  it("quotes exactly the names that are not printable UTF-8, as Go's strconv.Quote writes them", async () => {
    const tree = async (id: string): Promise<{ nodes: { name: string; subtree?: string }[] }> =>
      JSON.parse((await restic(['-r', resticRepo, 'cat', 'blob', id])).stdout) as { nodes: { name: string; subtree?: string }[] };
    const root = JSON.parse((await restic(['-r', resticRepo, 'cat', 'snapshot', resticSnapshot])).stdout) as { tree: string };
    const srcTree = await tree(root.tree);
    let dir = srcTree;
    for (const part of src.split('/').filter(Boolean)) dir = await tree(dir.nodes.find((n) => n.name === part)!.subtree!);
    const namesTree = await tree(dir.nodes.find((n) => n.name === 'names')!.subtree!);
    // restic's stored names are strconv.Quote(name) without its quotes, in the order of the raw bytes.
    const sorted = [...NAMES].sort((a, b) => Buffer.compare(a[0], b[0]));
    assert.equal(namesTree.nodes.length, NAMES.length);
    const lines = (await ferryOk(['ls', '-r', repo, snapshot, join(src, 'names')])).stdout.split('\n').slice(1, -1);
    assert.equal(lines.length, NAMES.length);
    for (const [i, [name, quoted]] of sorted.entries()) {
      const goQuoted = `"${join(src, 'names')}/${namesTree.nodes[i]!.name}"`;
      const shown = lines[i]!;
      if (quoted) assert.equal(shown, goQuoted, `${name.toString('hex')} is shown as Go quotes it`);
      else assert.equal(shown, `${join(src, 'names')}/${name.toString()}`, `${name.toString('hex')} is shown as it is`);
    }
    assert.equal(new Set(lines).size, lines.length, 'no two names are shown alike');
  });

  it('ls --json: a snapshot line and node lines with the fields and values restic prints', async () => {
    const ours = parseLines((await ferryOk(['ls', '-r', repo, snapshot, '--json'], { env: UTC })).stdout);
    const theirs = parseLines((await restic(['-r', resticRepo, 'ls', resticSnapshot, '--json'])).stdout);
    const [ourSnapshot, theirSnapshot] = [ours[0]!, theirs[0]!];
    assert.equal(ourSnapshot.struct_type, 'snapshot');
    for (const key of Object.keys(theirSnapshot)) assert.ok(key in ourSnapshot, `snapshot line has ${key}`);
    for (const key of ['paths', 'hostname', 'username', 'struct_type']) assert.deepEqual(ourSnapshot[key], theirSnapshot[key], key);
    assert.equal(ourSnapshot.short_id, snapshot.slice(0, 8));
    assert.equal(ourSnapshot.id, snapshot);

    // restic 0.14 leaves sockets out of its snapshots; Ferry keeps them.
    const byKey = new Map(ours.slice(1).filter((n) => n.type !== 'socket').map((n) => [`${n.path}|${n.size}`, n]));
    const compared = ['name', 'type', 'path', 'uid', 'gid', 'size', 'mode', 'permissions', 'mtime', 'ctime', 'struct_type'];
    let count = 0;
    for (const node of theirs.slice(1)) {
      const mine = byKey.get(`${node.path!}|${node.size}`);
      assert.ok(mine, `ferry lists ${node.path}`);
      for (const key of Object.keys(node)) if (key !== 'atime') assert.ok(key in mine, `${node.path}: ${key}`);
      // The folders above the source change while the test runs (the repositories are made in one, /tmp is shared).
      const above = !node.path!.startsWith(src);
      for (const key of compared) if (!(above && (key === 'mtime' || key === 'ctime'))) assert.deepEqual(mine[key], node[key], `${node.path}: ${key}`);
      count++;
    }
    assert.equal(count, byKey.size, 'the same entries');
    assert.equal(count, theirs.length - 1);
    if (isRoot) assert.match(byKey.get(`${join(src, 'null-device')}|undefined`)!.permissions as string, /^Dc/, 'a character device, as Go writes its mode');
  });

  it('--json carries names that are not UTF-8 exactly, in name_raw and path_raw', async () => {
    const nodes = parseLines((await ferryOk(['ls', '-r', repo, snapshot, join(src, 'names'), join(src, 'sub/link'), '--json'])).stdout).slice(1);
    const onDisk = (await readdir(utf8(join(src, 'names')), { encoding: 'buffer' })).map((n) => n.toString('hex')).sort();
    const named = nodes.filter((n) => n.path !== join(src, 'names') && n.type !== 'symlink');
    const exact = named.map((n) => (n.name_raw !== undefined ? Buffer.from(n.name_raw, 'base64') : utf8(n.name!)).toString('hex')).sort();
    assert.deepEqual(exact, onDisk);
    const bad = named.find((n) => n.size === 1)!; // the first name: caf\xe9
    assert.equal(bad.name, 'caf\ufffd');
    assert.deepEqual(Buffer.from(bad.path_raw!, 'base64'), Buffer.concat([utf8(`${src}/names/`), Buffer.from([0x63, 0x61, 0x66, 0xe9])]));
    assert.equal(named.find((n) => n.size === 3)!.name_raw, undefined, 'a real U+FFFD is plain UTF-8');
    const link = nodes.find((n) => n.type === 'symlink')!;
    assert.equal(link.linktarget, 'tgt\ufffd');
    assert.deepEqual(Buffer.from(link.linktarget_raw as string, 'base64'), Buffer.from([0x74, 0x67, 0x74, 0xff]));
  });

  it('ls SNAPSHOT FOLDER lists what restic lists: the folder and its entries, or with --recursive its subtree', async () => {
    const cases = [[`${src}/sub/`], [`${src}/sub`, '--recursive'], [`${src}/sub/a.txt`, `${src}/modes-setgid`], ['/']];
    for (const args of cases) {
      const [theirs, ours] = await Promise.all([
        restic(['-r', resticRepo, 'ls', resticSnapshot, '--json', ...args]),
        ferryOk(['ls', '-r', repo, snapshot, '--json', ...args]),
      ]);
      const paths = (stdout: string): string[] => parseLines(stdout).slice(1).filter((n) => n.type !== 'socket').map((n) => n.path!).sort();
      assert.deepEqual(paths(ours.stdout), paths(theirs.stdout), args.join(' '));
    }
    const text = (await ferryOk(['ls', '-r', repo, snapshot, join(src, 'sub')])).stdout;
    assert.equal(text, [`${src}/sub/`, `${src}/sub/a.txt`, `${src}/sub/deeper/`, `${src}/sub/empty`, `${src}/sub/link -> "tgt\\xff"`, ''].join('\n'));
  });

  it('a quoted path as ls prints it selects that entry; a missing or relative folder is a one-line error', async () => {
    const quoted = `"${src}/names/caf\\xe9"`;
    assert.equal((await ferryOk(['ls', '-r', repo, snapshot, quoted])).stdout, `${quoted}\n`);
    const literal = `${src}/names/caf\\xe9`;
    assert.equal((await ferryOk(['ls', '-r', repo, snapshot, literal])).stdout, `${literal}\n`, 'the real backslash name is another entry');
    const missing = await ferry(['ls', '-r', repo, snapshot, join(src, 'nope')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, new RegExp(`^ferry: ${join(src, 'nope')} is not in snapshot ${snapshot.slice(0, 8)}; its paths are ${src} `));
    const relative = await ferry(['ls', '-r', repo, snapshot, 'src/sub']);
    assert.equal(relative.code, 1);
    assert.match(relative.stderr, /src\/sub is not an absolute path; give the path as the snapshot lists it, starting with \//);
  });

  it('restore names an entry it cannot write in the quoted form, and exactly in --json', async () => {
    const target = join(tmp.path, 'restore');
    const bad = Buffer.concat([utf8(`${target}${src}/names/`), Buffer.from([0x63, 0x61, 0x66, 0xe9])]);
    await mkdir(bad, { recursive: true });
    await writeFile(Buffer.concat([bad, utf8('/keep')]), 'in the way');
    const text = await ferry(['restore', '-r', repo, snapshot, '--target', target, '--include', join(src, 'names')]);
    assert.equal(text.code, 1);
    // Named by its snapshot path and by the real path in the target, both quoted.
    assert.match(text.stderr, new RegExp(`^error: "${src}/names/caf\\\\xe9": not restored: the directory "${target}${src}/names/caf\\\\xe9" is in the way \\(the snapshot has a file there\\)`, 'm'));
    const json = await ferry(['restore', '-r', repo, snapshot, '--target', target, '--include', join(src, 'names'), '--json']);
    const error = parseLines(json.stdout).find((l) => l.message_type === 'error')!;
    assert.equal(error.item, `${src}/names/caf\ufffd`);
    assert.deepEqual(Buffer.from(error.item_raw as string, 'base64'), Buffer.concat([utf8(`${src}/names/`), Buffer.from([0x63, 0x61, 0x66, 0xe9])]));
  });
});
