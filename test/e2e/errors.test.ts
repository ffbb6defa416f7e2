import assert from 'node:assert/strict';
import { chmod, chown, mkdir, readdir, readFile, rm, stat, writeFile, symlink, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { ferry, ferryOk, lastJson, makeTempDir, type TempDir } from './harness.js';

/** Every file below `dir` with its size, to prove a command wrote nothing. */
async function snapshotOfFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    out.push(`${path} ${entry.isFile() ? (await stat(path)).size : 'dir'}`);
  }
  return out.sort();
}

async function packs(repo: string): Promise<{ id: string; path: string; size: number }[]> {
  const found = [];
  for (const sub of await readdir(join(repo, 'data'))) {
    for (const name of await readdir(join(repo, 'data', sub))) {
      const path = join(repo, 'data', sub, name);
      found.push({ id: name, path, size: (await stat(path)).size });
    }
  }
  return found.sort((a, b) => b.size - a.size);
}

describe('errors: one clear line, the documented exit code, nothing lost', () => {
  let tmp: TempDir;
  let repo: string;
  let source: string;
  let snapshotId: string;

  before(async () => {
    tmp = await makeTempDir();
    repo = join(tmp.path, 'repo');
    source = join(tmp.path, 'src');
    await mkdir(join(source, 'docs'), { recursive: true });
    await writeFile(join(source, 'big.bin'), randomBytes(3 * 1024 * 1024));
    await writeFile(join(source, 'docs', 'note.txt'), 'hello\n'.repeat(1000));
    await ferryOk(['init', '-r', repo]);
    snapshotId = lastJson<{ snapshot_id: string }>((await ferryOk(['backup', '-r', repo, source, '--json'])).stdout).snapshot_id;
  });
  after(() => tmp.cleanup());

  it('FERRY_ENCODER_WORKERS: a bad value is one line naming it, before anything is written; a good one is used', async () => {
    const beforeFiles = await snapshotOfFiles(repo);
    const bad = await ferry(['backup', '-r', repo, source], { env: { FERRY_ENCODER_WORKERS: '0' } });
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /^ferry: FERRY_ENCODER_WORKERS=0 is not a number of encoder workers.*1 to 64/);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
    assert.deepEqual(await snapshotOfFiles(repo), beforeFiles);
    // One worker (the default is one per core), in a repository of its own: 6 MiB of content starts it
    // (beyond the first 4 MiB), and its two pack buffers carry the whole backup.
    const more = join(tmp.path, 'more');
    const workersRepo = join(tmp.path, 'workers-repo');
    await mkdir(more);
    await writeFile(join(more, 'six.bin'), randomBytes(6 * 1024 * 1024));
    await ferryOk(['init', '-r', workersRepo]);
    await ferryOk(['backup', '-r', workersRepo, more], { env: { FERRY_ENCODER_WORKERS: '1' } });
    await ferryOk(['check', '--read-data', '-r', workersRepo]);
  });

  it('wrong password: exit 12, one line, nothing written, no lock left', async () => {
    const beforeFiles = await snapshotOfFiles(repo);
    for (const args of [['snapshots'], ['backup', source], ['restore', 'latest', '--target', join(tmp.path, 'never')], ['check']]) {
      const result = await ferry([...args, '-r', repo], { env: { FERRY_PASSWORD: 'not the password' } });
      assert.equal(result.code, 12, result.stderr);
      assert.match(result.stderr, /^ferry: wrong password.*FERRY_PASSWORD/);
      assert.equal(result.stderr.trim().split('\n').length, 1);
    }
    assert.deepEqual(await snapshotOfFiles(repo), beforeFiles);
    await assert.rejects(stat(join(tmp.path, 'never')));
  });

  it('missing repository: exit 10 and a hint', async () => {
    const result = await ferry(['snapshots', '-r', join(tmp.path, 'nowhere')]);
    assert.equal(result.code, 10);
    assert.match(result.stderr, /no repository at .*nowhere.*ferry init/);
    await assert.rejects(stat(join(tmp.path, 'nowhere')), 'opening must not create the location');
  });

  it('no password at all: a clear error before anything happens', async () => {
    const result = await ferry(['snapshots', '-r', repo], { env: { FERRY_PASSWORD: undefined } });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /no password: set FERRY_PASSWORD or pass --password-file/);
  });

  it('password file works and init refuses an existing repository', async () => {
    const file = join(tmp.path, 'pw');
    await writeFile(file, 'correct horse battery staple\n');
    await ferryOk(['snapshots', '-r', repo, '--password-file', file], { env: { FERRY_PASSWORD: undefined } });
    const again = await ferry(['init', '-r', repo]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists/);
  });

  it('backup of a path that does not exist: clear error, no snapshot', async () => {
    const result = await ferry(['backup', '-r', repo, join(tmp.path, 'no-such-dir')]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /cannot back up .*no-such-dir: it does not exist/);
  });

  it('unreadable source file: warns, keeps going, exit 3, the snapshot records the skip', { skip: process.getuid?.() !== 0 && 'needs root to switch users' }, async () => {
    const userTmp = join(tmp.path, 'as-nobody');
    const userRepo = join(userTmp, 'repo');
    const userSource = join(userTmp, 'src');
    await mkdir(userSource, { recursive: true });
    await writeFile(join(userSource, 'readable.txt'), 'fine\n');
    await writeFile(join(userSource, 'secret.txt'), 'locked\n');
    await mkdir(join(userSource, 'closed'));
    await writeFile(join(userSource, 'closed', 'inside.txt'), 'x');
    await chown(userTmp, 65534, 65534);
    await chown(userSource, 65534, 65534);
    await chmod(tmp.path, 0o755);
    await chmod(join(userSource, 'secret.txt'), 0o000);
    await chmod(join(userSource, 'closed'), 0o000);
    const asUser = { uid: 65534, gid: 65534 };
    await ferryOk(['init', '-r', userRepo], { asUser });
    const result = await ferry(['backup', '-r', userRepo, userSource, '--json'], { asUser });
    assert.equal(result.code, 3, result.stderr + result.stdout);
    // restic's error lines go to stderr; stdout keeps status lines and the summary.
    const errorLines = result.stderr.split('\n').filter((l) => l.includes('"message_type":"error"'));
    assert.equal(errorLines.length, 2, result.stderr);
    assert.ok(!result.stdout.includes('"message_type":"error"'), result.stdout);
    const summary = lastJson<{ files_skipped: number; snapshot_id: string }>(result.stdout);
    assert.equal(summary.files_skipped, 2);
    const listed = JSON.parse((await ferryOk(['snapshots', '-r', userRepo, '--json'], { asUser })).stdout) as { skipped: { path: string }[] }[];
    assert.deepEqual(listed[0]!.skipped.map((s) => s.path).sort(), [join(userSource, 'closed'), join(userSource, 'secret.txt')]);
    const plain = await ferry(['backup', '-r', userRepo, userSource], { asUser });
    assert.equal(plain.code, 3);
    assert.match(plain.stderr, /warning: cannot read .*secret\.txt: .*EACCES/);
    // Each unreadable entry by its real path and what is wrong, never the handle path it was reached by.
    assert.ok(plain.stderr.includes(`cannot read ${join(userSource, 'secret.txt')}: permission denied (EACCES)`), plain.stderr);
    assert.ok(plain.stderr.includes(`cannot read ${join(userSource, 'closed')}: permission denied (EACCES)`), plain.stderr);
    assert.doesNotMatch(plain.stderr + result.stdout, /\/proc\/self\/fd/);
  });

  it('restore with a directory where the snapshot has a file: names the directory and the remedy, restores the rest, exit 1', async () => {
    const target = join(tmp.path, 'dir-in-the-way');
    const blocker = join(target, source, 'big.bin');
    await mkdir(blocker, { recursive: true });
    await writeFile(join(blocker, 'mine.txt'), 'the user data\n');
    const result = await ferry(['restore', '-r', repo, snapshotId, '--target', target]);
    assert.equal(result.code, 1, result.stderr);
    assert.ok(result.stderr.includes(`the directory ${blocker} is in the way (the snapshot has a file there)`), result.stderr);
    assert.match(result.stderr, /move those away and restore again, or restore into an empty folder with --target/);
    assert.doesNotMatch(result.stderr, /check --read-data|\/proc\/self\/fd/);
    assert.equal(await readFile(join(blocker, 'mine.txt'), 'utf8'), 'the user data\n', 'the directory in the way is left as it was');
    assert.equal(await readFile(join(target, source, 'docs', 'note.txt'), 'utf8'), 'hello\n'.repeat(1000), 'the rest is restored');
  });

  it('a corrupt pack: check --read-data names the pack and the snapshot; restore names the file and writes no wrong bytes', async () => {
    const r = join(tmp.path, 'corrupt-repo');
    await ferryOk(['init', '-r', r]);
    const id = lastJson<{ snapshot_id: string }>((await ferryOk(['backup', '-r', r, source, '--json'])).stdout).snapshot_id;
    const [dataPack] = await packs(r);
    const bytes = await readFile(dataPack!.path);
    bytes[1000] = bytes[1000]! ^ 0xff;
    await writeFile(dataPack!.path, bytes);

    const quick = await ferry(['check', '-r', r]);
    assert.equal(quick.code, 0, 'a structural check does not read pack contents');
    const check = await ferry(['check', '-r', r, '--read-data']);
    assert.equal(check.code, 1);
    assert.match(check.stderr, new RegExp(`pack ${dataPack!.id} is damaged.*affects snapshots ${id.slice(0, 8)}`));

    const target = join(tmp.path, 'restore-corrupt');
    const restore = await ferry(['restore', '-r', r, 'latest', '--target', target]);
    assert.equal(restore.code, 1);
    assert.match(restore.stderr, /big\.bin: .*damaged/);
    await assert.rejects(stat(join(target, source, 'big.bin')), 'a file with damaged data is not left behind');
    assert.equal(await readFile(join(target, source, 'docs', 'note.txt'), 'utf8'), 'hello\n'.repeat(1000), 'undamaged files are restored');
  });

  it('a missing pack: check names it and the snapshots; restore exits non-zero', async () => {
    const r = join(tmp.path, 'missing-repo');
    await ferryOk(['init', '-r', r]);
    const first = lastJson<{ snapshot_id: string }>((await ferryOk(['backup', '-r', r, source, '--json'])).stdout).snapshot_id;
    await writeFile(join(source, 'docs', 'later.txt'), 'added later\n');
    const second = lastJson<{ snapshot_id: string }>((await ferryOk(['backup', '-r', r, source, '--json'])).stdout).snapshot_id;
    await rm(join(source, 'docs', 'later.txt'));
    const [dataPack] = await packs(r);
    await rm(dataPack!.path);
    const check = await ferry(['check', '-r', r]);
    assert.equal(check.code, 1);
    assert.match(check.stderr, new RegExp(`pack ${dataPack!.id} is missing`));
    assert.match(check.stderr, new RegExp(first.slice(0, 8)));
    assert.match(check.stderr, new RegExp(second.slice(0, 8)));
    const restore = await ferry(['restore', '-r', r, first, '--target', join(tmp.path, 'restore-missing')]);
    assert.equal(restore.code, 1);
    assert.match(restore.stderr, /big\.bin: pack [0-9a-f]{8} is missing/);
  });

  it('restore into a target given through a symlink works (the user chose it)', async () => {
    const real = join(tmp.path, 'real-target');
    await mkdir(real);
    await symlink(real, join(tmp.path, 'target-link'));
    await ferryOk(['restore', '-r', repo, snapshotId, '--target', join(tmp.path, 'target-link')]);
    assert.equal(await readFile(join(real, source, 'docs', 'note.txt'), 'utf8'), 'hello\n'.repeat(1000));
  });

  it('restore does not follow a symlink that was in the target before', async () => {
    const target = join(tmp.path, 'trap-target');
    const outside = join(tmp.path, 'outside');
    await mkdir(outside);
    // The snapshot holds <source>/docs; plant a symlink where its first component will be restored.
    const first = source.split('/').filter(Boolean)[0]!;
    await mkdir(target);
    await symlink(outside, join(target, first));
    await ferryOk(['restore', '-r', repo, snapshotId, '--target', target]);
    assert.deepEqual(await readdir(outside), []);
    assert.ok((await lstat(join(target, first))).isDirectory());
    assert.equal(await readFile(join(target, source, 'docs', 'note.txt'), 'utf8'), 'hello\n'.repeat(1000));
  });

  it('a vault service that cannot be reached: one line saying to run the command again, exit 1', async () => {
    // A port nothing listens on: bind one, note it, close it.
    const server = createServer();
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const { port } = server.address() as AddressInfo;
    await new Promise((done) => server.close(done));
    const result = await ferry(['snapshots', '-r', `http://127.0.0.1:${port}/v1/vaults/v_unreachable`], { env: { FERRY_TOKEN: 'fry_agt_unreachable' } });
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /^ferry: .*the connection failed.*ECONNREFUSED.*run the command again once the service is reachable\n$/);
    assert.doesNotMatch(result.stderr, /unexpected error|\n\s+at /);
  });
});
