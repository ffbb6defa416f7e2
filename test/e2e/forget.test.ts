import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ferry, ferryOk, lastJson, makeTempDir, type TempDir } from './harness.js';

interface JsonSnapshot { id: string; hostname: string; tags?: string[] }
/** restic's `forget --json`: one element per group, snapshots newest first, null for an empty list. */
interface ForgetGroup {
  tags: string[] | null;
  host: string;
  paths: string[] | null;
  keep: JsonSnapshot[] | null;
  remove: JsonSnapshot[] | null;
  reasons: { snapshot: Record<string, unknown>; matches: string[]; counters: Record<string, number> }[] | null;
}

/** `ferry prune` is another module; the --prune case runs once it exists. */

describe('ferry forget', () => {
  let tmp: TempDir;
  let repo: string;
  let src1: string;
  let src2: string;
  /** Snapshot ids by name: a1..a3 alpha:src1 (a1 tagged nightly), b1..b2 beta:src1, c1 alpha:src2. */
  const snap: Record<string, string> = {};

  const backup = async (name: string, host: string, path: string, tags: string[] = []): Promise<void> => {
    const args = ['backup', '-r', repo, path, '--json', ...tags.flatMap((t) => ['--tag', t])];
    snap[name] = lastJson<{ snapshot_id: string }>((await ferryOk(args, { env: { FERRY_HOSTNAME: host } })).stdout).snapshot_id;
  };
  const remaining = async (): Promise<string[]> => {
    const list = JSON.parse((await ferryOk(['snapshots', '-r', repo, '--json'])).stdout) as { id: string }[];
    return list.map((s) => nameOf(s.id)).sort();
  };
  const nameOf = (id: string): string => Object.keys(snap).find((n) => snap[n] === id) ?? id;
  const names = (list: readonly JsonSnapshot[] | null): string[] => (list ?? []).map((d) => nameOf(d.id)).sort();
  const forgetJson = async (args: string[]): Promise<ForgetGroup[]> => JSON.parse((await ferryOk(['forget', '-r', repo, '--json', ...args])).stdout) as ForgetGroup[];

  before(async () => {
    tmp = await makeTempDir();
    repo = join(tmp.path, 'repo');
    src1 = join(tmp.path, 'src1');
    src2 = join(tmp.path, 'src2');
    await mkdir(src1);
    await mkdir(src2);
    await writeFile(join(src2, 'b.txt'), 'other');
    await ferryOk(['init', '-r', repo]);
    for (const [i, name] of ['a1', 'a2', 'a3'].entries()) {
      await writeFile(join(src1, 'a.txt'), `version ${i + 1}\n`);
      await backup(name, 'alpha', src1, name === 'a1' ? ['nightly'] : []);
    }
    await backup('b1', 'beta', src1);
    await backup('b2', 'beta', src1);
    await backup('c1', 'alpha', src2);
  });
  after(() => tmp.cleanup());

  it('refuses to run without a policy, before touching the repository', async () => {
    for (const args of [[], ['--host', 'alpha'], ['--keep-last', '0']]) {
      const result = await ferry(['forget', '-r', repo, ...args]);
      assert.equal(result.code, 1);
      assert.equal(result.stderr, 'ferry: no policy given: pass at least one --keep-* option\n');
    }
    const bad = await ferry(['forget', '-r', repo, '--keep-last', 'two']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--keep-last/);
    const badDuration = await ferry(['forget', '-r', repo, '--keep-within', '7 days']);
    assert.equal(badDuration.code, 1);
    assert.match(badDuration.stderr, /^ferry: invalid duration "7 days"/);
    assert.equal((await remaining()).length, 6);
  });

  it('--dry-run shows per group what would go, and removes nothing', async () => {
    const result = await forgetJson(['--keep-last', '1', '--keep-tag', 'nightly', '--dry-run']);
    assert.deepEqual(result.map((g) => [g.tags, g.host, g.paths]), [[null, 'alpha', [src1]], [null, 'alpha', [src2]], [null, 'beta', [src1]]]);
    assert.deepEqual(result.map((g) => [names(g.keep), names(g.remove)]), [[['a1', 'a3'], ['a2']], [['c1'], []], [['b2'], ['b1']]]);
    assert.equal(result[1]!.remove, null, 'an empty list is null, as restic prints it');
    // Newest first, and one reason per kept snapshot in the same order, with restic's words.
    assert.deepEqual(result[0]!.keep!.map((d) => nameOf(d.id)), ['a3', 'a1']);
    assert.deepEqual(result[0]!.reasons!.map((r) => r.matches), [['last snapshot'], ['has tags [nightly]']]);
    assert.deepEqual(result[0]!.reasons!.map((r) => r.counters), [{}, {}]);
    assert.deepEqual(result[0]!.reasons![1]!.snapshot.tags, ['nightly']);
    assert.ok(!('id' in result[0]!.reasons![0]!.snapshot), 'restic leaves the id out of a reason');
    assert.deepEqual(await remaining(), ['a1', 'a2', 'a3', 'b1', 'b2', 'c1']);
    const text = await ferryOk(['forget', '-r', repo, '--keep-last', '1', '--keep-tag', 'nightly', '--dry-run']);
    assert.match(text.stdout, new RegExp(`snapshots of host beta, paths ${src1}:\\nkeep 1 snapshot:\\n`));
    assert.match(text.stdout, new RegExp(`${snap.a3!.slice(0, 8)} .* last 1; ${src1}\\n`));
    assert.match(text.stdout, /would remove 2 snapshots \(dry run: nothing was changed\)\n$/);
    assert.deepEqual(await remaining(), ['a1', 'a2', 'a3', 'b1', 'b2', 'c1']);
  });

  it('removes only what the --host filter considers; check passes and a kept snapshot restores', async () => {
    const result = await forgetJson(['--keep-last', '1', '--keep-tag', 'nightly', '--host', 'alpha']);
    assert.deepEqual(result.flatMap((g) => names(g.remove)), ['a2']);
    assert.deepEqual(await remaining(), ['a1', 'a3', 'b1', 'b2', 'c1']);
    await ferryOk(['check', '-r', repo, '--read-data']);
    const target = join(tmp.path, 'restore-a1');
    await ferryOk(['restore', '-r', repo, snap.a1!, '--target', target]);
    assert.equal(await readFile(join(target, src1, 'a.txt'), 'utf8'), 'version 1\n');
  });

  it('a --tag filter and --group-by host', async () => {
    const none = await forgetJson(['--keep-last', '1', '--tag', 'weekly']);
    assert.deepEqual(none, []);
    const result = await forgetJson(['--keep-last', '2', '--group-by', 'host', '--dry-run']);
    assert.deepEqual(result.map((g) => [g.host, g.paths, names(g.keep), names(g.remove)]), [
      ['alpha', null, ['a3', 'c1'], ['a1']],
      ['beta', null, ['b1', 'b2'], []],
    ]);
    assert.deepEqual(result[0]!.reasons!.map((r) => r.counters), [{ last: 1 }, {}]);
  });

  it('--prune deletes the data of forgotten snapshots; the rest still restores', async () => {
    const run = await ferryOk(['forget', '-r', repo, '--json', '--keep-last', '1', '--group-by', '', '--prune']);
    const [groupsLine, pruneLine, ...rest] = run.stdout.trim().split('\n');
    assert.deepEqual(rest, [], 'restic\'s array, then the prune summary line');
    const groups = JSON.parse(groupsLine!) as ForgetGroup[];
    assert.deepEqual(groups.map((g) => [g.tags, g.host, g.paths, names(g.keep)]), [[null, '', null, ['c1']]]);
    const prune = JSON.parse(pruneLine!) as Record<string, unknown>;
    assert.equal(prune.message_type, 'summary');
    assert.equal(prune.dry_run, false);
    for (const field of ['packs_deleted', 'packs_repacked', 'packs_kept', 'bytes_freed', 'blobs_removed', 'index_files_rewritten']) {
      assert.equal(typeof prune[field], 'number', field);
    }
    assert.ok((prune.blobs_removed as number) > 0, 'the versions of a.txt are no longer used');
    assert.deepEqual(await remaining(), ['c1']);
    await ferryOk(['check', '-r', repo, '--read-data']);
    const target = join(tmp.path, 'restore-c1');
    await ferryOk(['restore', '-r', repo, 'latest', '--target', target]);
    assert.equal(await readFile(join(target, src2, 'b.txt'), 'utf8'), 'other');
  });

  it('exits 11 while another process holds a lock', async () => {
    // A backup from another host killed mid-run leaves its lock, which this host cannot judge by PID.
    await writeFile(join(src2, 'new.txt'), 'new');
    const crashed = await ferry(['backup', '-r', repo, src2], { env: { FERRY_HOSTNAME: 'gamma', FERRY_FAILPOINT: 'pack-saved' } });
    assert.notEqual(crashed.code, 0);
    assert.equal((await readdir(join(repo, 'locks'))).length, 1);
    const result = await ferry(['forget', '-r', repo, '--keep-last', '1']);
    assert.equal(result.code, 11);
    assert.match(result.stderr, /^ferry: .*locked.* on gamma/);
    await rm(join(repo, 'locks'), { recursive: true });
  });
});
