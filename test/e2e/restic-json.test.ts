// Differential test against restic (the oracle): `backup --json`, `snapshots --json` and `forget --json`
// of one small tree, run by both tools, must carry restic's field names, in restic's order where restic
// has one, with the same values where the two repositories hold the same facts. Ferry's own fields are
// exactly the ones listed here and in the README ("Differences from restic kept on purpose").
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SeededRandom } from '../fixtures/seeded-random.js';
import { ferry, ferryOk, makeTempDir, type RunOptions, type RunResult, type TempDir } from './harness.js';
import { RESTIC, restic, resticOk } from './restic-oracle.js';

type Json = Record<string, unknown>;

/** restic 0.14's status line fields (its `statusUpdate`); Ferry prints no others. */
const STATUS_FIELDS = ['message_type', 'seconds_elapsed', 'seconds_remaining', 'percent_done', 'total_files', 'files_done', 'total_bytes', 'bytes_done', 'error_count', 'current_files'];
/** Fields of Ferry's backup summary that restic 0.14's lacks. */
const SUMMARY_EXTRAS = ['files_skipped', 'data_added_packed', 'bytes_read', 'backup_start', 'backup_end'];
/** Summary values both tools must agree on for the same tree. */
const SUMMARY_COUNTS = ['files_new', 'files_changed', 'files_unmodified', 'dirs_new', 'dirs_changed', 'dirs_unmodified', 'data_blobs', 'total_files_processed', 'total_bytes_processed'];
/** Fields of Ferry's snapshots restic 0.14's lack (`program_version` and `summary` are restic 0.17's). */
const SNAPSHOT_EXTRAS = ['program_version', 'summary', 'skipped'];
/** restic 0.17's snapshot summary fields, then Ferry's own. */
const SNAPSHOT_SUMMARY_FIELDS = [
  'backup_start', 'backup_end', 'files_new', 'files_changed', 'files_unmodified', 'dirs_new', 'dirs_changed', 'dirs_unmodified',
  'data_blobs', 'tree_blobs', 'data_added', 'data_added_packed', 'total_files_processed', 'total_bytes_processed', 'bytes_read', 'files_skipped',
];

const jsonLines = (text: string): Json[] => text.trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Json);
const without = (keys: readonly string[], drop: readonly string[]): string[] => keys.filter((k) => !drop.includes(k));

/** One run of each tool: the same arguments, each against its own repository. */
interface Pair {
  readonly ferry: RunResult;
  readonly restic: RunResult;
}

describe('restic-compatible JSON (restic is the oracle)', () => {
  let tmp: TempDir;
  let src: string;
  let ferryRepo: string;
  let resticRepo: string;
  const backups: Pair[] = [];
  /** Each tool's snapshot ids, oldest first, as `snapshots --json` lists them. */
  const ids = { ferry: [] as string[], restic: [] as string[] };
  const lists = { ferry: [] as Json[], restic: [] as Json[] };

  const both = async (args: readonly string[], options: RunOptions = {}, expected = 0): Promise<Pair> => {
    const [f, r] = await Promise.all([ferryOk([...args, '-r', ferryRepo], options, expected), resticOk([...args, '-r', resticRepo], options, expected)]);
    return { ferry: f, restic: r };
  };
  /** Replaces each tool's snapshot ids by `first`/`second` so the two outputs can be compared. */
  const named = (tool: 'ferry' | 'restic', id: unknown): string => ['first', 'second'][ids[tool].indexOf(id as string)] ?? `unknown ${String(id)}`;

  before(async () => {
    assert.ok(existsSync(RESTIC), `${RESTIC} is needed (apt-get install restic; .ci/run installs it)`);
    tmp = await makeTempDir('ferry-restic-json-');
    src = join(tmp.path, 'src');
    ferryRepo = join(tmp.path, 'ferry-repo');
    resticRepo = join(tmp.path, 'restic-repo');
    await mkdir(join(src, 'docs'), { recursive: true });
    await mkdir(join(src, 'data'));
    await writeFile(join(src, 'docs', 'a.txt'), 'the same words\n');
    await writeFile(join(src, 'docs', 'b.txt'), 'the same words\n');
    await writeFile(join(src, 'data', 'blob.bin'), new SeededRandom(12).bytes(5000));
    await writeFile(join(src, 'data', 'skip.tmp'), 'left out');
    await writeFile(join(src, 'top.txt'), 'top\n');
    await both(['init']);
    backups.push(await both(['backup', '--json', '--tag', 'a,b', '--exclude', '*.tmp', src]));
    await writeFile(join(src, 'top.txt'), 'top, changed\n');
    await writeFile(join(src, 'docs', 'new.txt'), 'new\n');
    backups.push(await both(['backup', '--json', src]));
    const [f, r] = await Promise.all([ferryOk(['snapshots', '--json', '-r', ferryRepo]), resticOk(['snapshots', '--json', '-r', resticRepo])]);
    lists.ferry = JSON.parse(f.stdout) as Json[];
    lists.restic = JSON.parse(r.stdout) as Json[];
    ids.ferry = lists.ferry.map((s) => s.id as string);
    ids.restic = lists.restic.map((s) => s.id as string);
  });
  after(() => tmp?.cleanup());

  it('backup --json: status lines, then the summary last, with restic\'s fields and the same counts', () => {
    for (const [n, run] of backups.entries()) {
      const [f, r] = [jsonLines(run.ferry.stdout), jsonLines(run.restic.stdout)];
      const [fSummary, rSummary] = [f.at(-1)!, r.at(-1)!];
      assert.equal(fSummary.message_type, 'summary');
      assert.equal(rSummary.message_type, 'summary');
      assert.deepEqual(without(Object.keys(fSummary), SUMMARY_EXTRAS), Object.keys(rSummary), `backup ${n + 1}: restic's summary fields, in its order`);
      for (const field of SUMMARY_COUNTS) assert.equal(fSummary[field], rSummary[field], `backup ${n + 1}: ${field}`);
      assert.match(fSummary.snapshot_id as string, /^[0-9a-f]{64}$/, 'the full id (restic 0.14 printed 8 digits)');
      assert.equal(typeof fSummary.total_duration, 'number');
      // Everything before the summary is a status line with restic's fields only; the last says 100%.
      for (const line of [...f.slice(0, -1), ...r.slice(0, -1)]) {
        assert.equal(line.message_type, 'status', JSON.stringify(line));
        assert.deepEqual(without(Object.keys(line), STATUS_FIELDS), [], JSON.stringify(line));
      }
      assert.ok(f.length >= 2, 'at least one status line');
      // seconds_elapsed is left out while 0, as restic does: present or not depends on the machine's speed.
      const { seconds_elapsed: _elapsed, ...lastStatus } = f.at(-2)!;
      assert.deepEqual(lastStatus, { message_type: 'status', percent_done: 1, total_files: fSummary.total_files_processed, files_done: fSummary.total_files_processed, total_bytes: fSummary.total_bytes_processed, bytes_done: fSummary.total_bytes_processed });
    }
    assert.deepEqual(backups.map((b) => [b.ferry.stderr, b.restic.stderr]), [['', ''], ['', '']], 'nothing on stderr');
  });

  it('snapshots --json: restic\'s fields in restic\'s order, with the same values', () => {
    assert.equal(lists.ferry.length, 2);
    assert.equal(lists.restic.length, 2);
    for (const [i, fs] of lists.ferry.entries()) {
      const rs = lists.restic[i]!;
      assert.deepEqual(without(Object.keys(fs), SNAPSHOT_EXTRAS), Object.keys(rs), `snapshot ${i + 1}`);
      for (const field of ['paths', 'hostname', 'username', 'uid', 'gid', 'excludes', 'tags']) assert.deepEqual(fs[field], rs[field], field);
      assert.equal(named('ferry', fs.parent), named('restic', rs.parent), 'parent');
      assert.equal(fs.short_id, (fs.id as string).slice(0, 8));
      assert.match(fs.tree as string, /^[0-9a-f]{64}$/);
      assert.ok(Date.parse(fs.time as string) <= Date.now());
      assert.equal(fs.program_version, 'ferry 0.1.0');
      assert.deepEqual(Object.keys(fs.summary as Json), SNAPSHOT_SUMMARY_FIELDS);
      assert.equal((fs.summary as Json).files_new, (jsonLines(backups[i]!.ferry.stdout).at(-1)!).files_new);
      assert.equal(fs.skipped, undefined, 'left out when empty');
    }
    assert.deepEqual(lists.ferry.map((s) => s.tags), [['a', 'b'], undefined], '--tag a,b is two tags; no tags, no field');
    assert.equal(lists.ferry[1]!.parent, ids.ferry[0]);
  });

  /** A forget --json answer with each tool's ids replaced by first/second and Ferry's extras dropped. */
  const normalizedForget = (tool: 'ferry' | 'restic', stdout: string): unknown => {
    const snap = (s: Json): Json => ({ name: named(tool, s.id), keys: without(Object.keys(s), SNAPSHOT_EXTRAS) });
    const groups = (JSON.parse(stdout) as Json[]).map((g) => ({
      keys: Object.keys(g),
      tags: g.tags,
      host: g.host,
      paths: g.paths,
      keep: g.keep === null ? null : (g.keep as Json[]).map(snap),
      remove: g.remove === null ? null : (g.remove as Json[]).map(snap),
      reasons: g.reasons === null ? null : (g.reasons as Json[]).map((why) => ({
        keys: Object.keys(why),
        snapshot: without(Object.keys(why.snapshot as Json), SNAPSHOT_EXTRAS),
        matches: why.matches,
        counters: why.counters,
      })),
    }));
    return groups.sort((a, b) => JSON.stringify([a.tags, a.host, a.paths]).localeCompare(JSON.stringify([b.tags, b.host, b.paths])));
  };

  it('forget --json: restic\'s array of groups, with the same snapshots, matches and counters', async () => {
    const policies = [
      ['--keep-last', '1', '--keep-daily', '5', '--keep-within', '1h', '--keep-tag', 'a'],
      ['--keep-last', '1', '--group-by', 'tags'],
      ['--keep-last', '1', '--group-by', ''],
    ];
    for (const policy of policies) {
      const run = await both(['forget', '--json', '--dry-run', ...policy]);
      assert.deepEqual(normalizedForget('ferry', run.ferry.stdout), normalizedForget('restic', run.restic.stdout), policy.join(' '));
    }
    const removal = await both(['forget', '--json', '--keep-last', '1']);
    const removed = normalizedForget('ferry', removal.ferry.stdout);
    assert.deepEqual(removed, normalizedForget('restic', removal.restic.stdout));
    assert.deepEqual((removed as { remove: { name: string }[] }[]).map((g) => g.remove.map((s) => s.name)), [['first']]);
    const left = JSON.parse((await ferryOk(['snapshots', '--json', '-r', ferryRepo])).stdout) as Json[];
    assert.deepEqual(left.map((s) => named('ferry', s.id)), ['second']);
  });

  it('backup --json: an unreadable file is restic\'s error line on stderr, and exit 3', async () => {
    const user = { uid: 65534, gid: 65534 };
    const home = join(tmp.path, 'user');
    const source = join(home, 'src');
    await mkdir(source, { recursive: true });
    await writeFile(join(source, 'readable.txt'), 'fine\n');
    await writeFile(join(source, 'secret.txt'), 'locked\n');
    await chown(home, user.uid, user.gid);
    await chown(source, user.uid, user.gid);
    await chmod(tmp.path, 0o755);
    await chmod(join(source, 'secret.txt'), 0o000);
    const repos = { ferry: join(home, 'ferry-repo'), restic: join(home, 'restic-repo') };
    await Promise.all([ferryOk(['init', '-r', repos.ferry], { asUser: user }), resticOk(['init', '-r', repos.restic], { asUser: user })]);
    const [f, r] = await Promise.all([
      ferry(['backup', '--json', '-r', repos.ferry, source], { asUser: user }),
      restic(['backup', '--json', '-r', repos.restic, source], { asUser: user }),
    ]);
    assert.deepEqual([f.code, r.code], [3, 3], f.stderr + r.stderr);
    const errorLines = (stderr: string): Json[] => stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Json);
    const [fErrors, rErrors] = [errorLines(f.stderr), errorLines(r.stderr)];
    const shape = (e: Json): unknown => [Object.keys(e), e.message_type, e.during, e.item];
    assert.deepEqual(fErrors.map(shape), rErrors.map(shape));
    assert.deepEqual(fErrors.map((e) => e.item), [join(source, 'secret.txt')]);
    assert.match((fErrors[0]!.error as { message: string }).message, /EACCES|permission denied/i);
    for (const stdout of [f.stdout, r.stdout]) assert.ok(!stdout.includes('"message_type":"error"'), 'stdout has no error lines');
    assert.equal(jsonLines(f.stdout).at(-1)!.message_type, 'summary');
    const [fStatus] = jsonLines(f.stdout).slice(-2);
    assert.equal(fStatus!.error_count, 1);
  });
});
