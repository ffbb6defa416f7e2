// Differential test against restic (the oracle, installed in CI): for a table of exclude options,
// `restic backup` and `ferry backup` of one tree must keep the same paths; for a table of include and
// exclude patterns, `restic restore` and `ferry restore` must write the same paths.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ferryOk, lastJson, makeTempDir, type TempDir } from './harness.js';
import { RESTIC, resticOk } from './restic-oracle.js';

/** Processes run side by side: the cases are independent, each tool's repository takes shared locks. */
const PARALLEL = 3;

/** Runs `work` over `items`, `PARALLEL` at a time, keeping the order of the results. */
async function pool<T, R>(items: readonly T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await work(items[i]!);
      }
    }),
  );
  return results;
}

/** Every path below `root` (folders included), relative to it. */
async function treePaths(root: string): Promise<string[]> {
  if (!existsSync(root)) return [];
  const entries = await readdir(root, { recursive: true });
  return entries.map((e) => e.toString()).sort();
}

/** The source tree: nested folders, dot files, spaces and brackets, case mixes, tag files, sizes. */
async function buildTree(src: string): Promise<void> {
  const files: Record<string, string> = {
    'a/b/mod2/f.txt': 'f',
    'a/b/c.txt': 'c',
    'a/mod2': 'a file named mod2',
    'a/x.dat': 'x',
    'a/b.dat': 'b',
    'bin/x.bin': 'x',
    'bin/y.txt': 'y',
    'bin/sub/z.bin': 'z',
    'src/mod1/m.c': 'm',
    'src/mod10/n.c': 'n',
    'src/main.c': 'main',
    'src/keep.c': 'keep',
    'src/file1.txt': '1',
    'src/file10.txt': '10',
    'names/a.txt': 'a',
    'other/names/b.txt': 'b',
    'other/names.txt': 'n',
    '.hidden/h.txt': 'h',
    '.dotfile': 'd',
    'with space/file one.txt': 'one',
    'brack[et]/[x].txt': 'x',
    'brackets/a[1].txt': 'a1',
    'Upper/CASE.TXT': 'C',
    'Upper/lower.txt': 'l',
    'upper2/Mixed.Txt': 'M',
    'deep/1/2/3/4/leaf.log': 'leaf',
    'deep/1/x.log': 'x',
    'deep/top.log': 't',
    'tagged/.nobackup': '',
    'tagged/inside.txt': 'i',
    'tagged/sub/deeper.txt': 'd',
    'cache/CACHEDIR.TAG': 'Signature: 8a477f597d28d172789f06886806bc55\n',
    'cache/blob': 'b',
    'fakecache/CACHEDIR.TAG': 'not the signature',
    'fakecache/blob': 'b',
    'big/large.bin': 'L'.repeat(4096),
    'big/small.bin': 's'.repeat(100),
  };
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(src, path, '..'), { recursive: true });
    await writeFile(join(src, path), content);
  }
  await mkdir(join(src, 'empty'), { recursive: true });
  await symlink('src/main.c', join(src, 'link-to-main'));
}

describe('patterns select what restic selects (restic is the oracle)', () => {
  let tmp: TempDir;
  let src: string;
  let ferryRepo: string;
  let resticRepo: string;
  let excludeFile: string;
  let iexcludeFile: string;
  const env = { PATTERN_DIR: 'src' };

  before(async () => {
    assert.ok(existsSync(RESTIC), `${RESTIC} is needed (apt-get install restic; .ci/run installs it)`);
    tmp = await makeTempDir('ferry-restic-patterns-');
    src = join(tmp.path, 'tree');
    ferryRepo = join(tmp.path, 'ferry-repo');
    resticRepo = join(tmp.path, 'restic-repo');
    await buildTree(src);
    excludeFile = join(tmp.path, 'excludes');
    await writeFile(excludeFile, `# build output\n\n  *.bin  \n$PATTERN_DIR/mod1\n\t# an indented comment\n\${PATTERN_DIR}/*.c\n!keep.c\n.hidden\n`);
    iexcludeFile = join(tmp.path, 'iexcludes');
    await writeFile(iexcludeFile, '# case does not matter here\nUPPER\n*.TXT\n');
    await Promise.all([ferryOk(['init', '-r', ferryRepo]), resticOk(['init', '-r', resticRepo])]);
  });
  after(() => tmp?.cleanup());

  it('backup: the same paths in both snapshots for each exclude option', async () => {
    // Each case is one backup; unrelated patterns share a case to keep the run short (any difference shows).
    const cases: string[][] = [
      ['--exclude', 'src/mod1'],
      ['--exclude', 'bin/*.bin', '--exclude', 'names/'],
      ['--exclude', '*/mod2', '--exclude', '/src'],
      ['--exclude', '*.txt', '--exclude', '.*'],
      ['--exclude', `${src}/src`, '--exclude', `${src}/a/*/mod2`],
      ['--exclude', '**/b', '--exclude', `${src}/**/*.log`],
      ['--exclude', 'deep/**/leaf.log', '--exclude', 'a/**'],
      ['--exclude', 'file?.txt', '--exclude', '[ab].dat'],
      ['--exclude', '[^ab].dat', '--exclude', 'brack\\[et\\]', '--exclude', '*[[]1].txt', '--exclude', 'with space'],
      ['--exclude', '*.c', '--exclude', '!keep.c'],
      ['--exclude', '!keep.c', '--exclude', '*.c'],
      ['--exclude', '!src'],
      ['--exclude', `${src}/*`, '--exclude', `!${src}/src`, '--exclude', `!${src}/deep`],
      ['--exclude', 'deep/1', '--exclude', '!deep/1/2', '--exclude', 'src', '--iexclude', '!SRC'],
      ['--iexclude', 'upper', '--exclude', '*.TXT'],
      ['--iexclude', '*.TXT'],
      ['--exclude', 'src/', '--exclude', './bin', '--exclude', 'a//b/'],
      ['--exclude-file', excludeFile],
      ['--iexclude-file', iexcludeFile, '--exclude', 'deep'],
      ['--exclude-if-present', '.nobackup', '--exclude-larger-than', '1k'],
      ['--exclude-if-present', 'CACHEDIR.TAG:Signature: 8a477f597d28d172789f06886806bc55'],
      ['--exclude-caches', '--one-file-system', '--exclude', 'link-to-main'],
    ];
    const ferryIds = await pool(cases, async (args) => {
      const summary = lastJson<{ snapshot_id: string }>((await ferryOk(['backup', '-r', ferryRepo, src, ...args, '--json'], { env })).stdout);
      return summary.snapshot_id;
    });
    const resticIds = await pool(cases, async (args) => lastJson<{ snapshot_id: string }>((await resticOk(['-r', resticRepo, 'backup', src, ...args, '--json'], { env })).stdout).snapshot_id);
    const inSource = (path: string): string | undefined => (path === src || path.startsWith(`${src}/`) ? relative(src, path) || '.' : undefined);
    const ferryPaths = await pool(ferryIds, async (id) => {
      const lines = (await ferryOk(['ls', '-r', ferryRepo, id, '--json'])).stdout.trim().split('\n');
      const nodes = lines.map((l) => JSON.parse(l) as { struct_type?: string; path?: string }).filter((n) => n.struct_type !== 'snapshot' && typeof n.path === 'string');
      return nodes.map((n) => inSource(n.path!)).filter((p): p is string => p !== undefined).sort();
    });
    const found = JSON.parse((await resticOk(['-r', resticRepo, 'find', '--json', '*'])).stdout) as { snapshot: string; matches: { path: string }[] }[];
    const differences: string[] = [];
    for (const [i, args] of cases.entries()) {
      const hit = found.find((f) => f.snapshot.startsWith(resticIds[i]!));
      const expected = (hit?.matches ?? []).map((m) => inSource(m.path)).filter((p): p is string => p !== undefined).sort();
      const actual = ferryPaths[i]!;
      if (JSON.stringify(actual) !== JSON.stringify(expected)) {
        const missing = expected.filter((p) => !actual.includes(p));
        const extra = actual.filter((p) => !expected.includes(p));
        differences.push(`${JSON.stringify(args)}: ferry lacks ${JSON.stringify(missing)}, has extra ${JSON.stringify(extra)}`);
      }
      assert.ok(expected.length > 0, `restic kept something for ${JSON.stringify(args)}`);
    }
    assert.deepEqual(differences, []);
  });

  it('restore: the same paths restored for each include or exclude pattern', async () => {
    const ferryId = lastJson<{ snapshot_id: string }>((await ferryOk(['backup', '-r', ferryRepo, src, '--json'])).stdout).snapshot_id;
    const resticId = lastJson<{ snapshot_id: string }>((await resticOk(['-r', resticRepo, 'backup', src, '--json'])).stdout).snapshot_id;
    const cases: string[][] = [
      ['--include', '*.txt'],
      ['--include', 'src/mod1', '--include', 'names/'],
      ['--include', `${src}/bin/`],
      ['--include', '*.c', '--include', '!keep.c'],
      ['--include', '**/mod2', '--include', 'empty'],
      ['--include', `${src}/a/**/*.txt`, '--include', 'deep/1/2/3'],
      ['--include', '[ab].dat', '--include', 'file?.txt', '--include', 'brack[[]et]', '--include', 'with space/*'],
      ['--iinclude', 'UPPER'],
      ['--iinclude', '*.txt'],
      ['--include', 'src', '--include', '!src/mod1'],
      ['--exclude', '*.txt', '--exclude', `${src}/deep/1`],
      ['--exclude', 'src', '--exclude', '!src/mod1', '--exclude', '.*'],
      ['--iexclude', '*.TXT', '--iexclude', '*.BIN'],
    ];
    const differences: string[] = [];
    await pool([...cases.entries()], async ([i, args]) => {
      const ferryTarget = join(tmp.path, `ferry-restore-${i}`);
      const resticTarget = join(tmp.path, `restic-restore-${i}`);
      await Promise.all([ferryOk(['restore', '-r', ferryRepo, ferryId, '--target', ferryTarget, ...args]), resticOk(['-r', resticRepo, 'restore', resticId, '--target', resticTarget, ...args])]);
      const [actual, expected] = await Promise.all([treePaths(ferryTarget), treePaths(resticTarget)]);
      if (JSON.stringify(actual) !== JSON.stringify(expected)) {
        const missing = expected.filter((p) => !actual.includes(p));
        const extra = actual.filter((p) => !expected.includes(p));
        differences.push(`${JSON.stringify(args)}: ferry lacks ${JSON.stringify(missing)}, has extra ${JSON.stringify(extra)}`);
      }
    });
    assert.deepEqual(differences, []);
  });
});
