// Smoke test of `npm run bench` (bench/run-bench.mjs) on a tiny dataset, so the benchmark cannot rot: it must
// run end to end against restic, verify its restores, and write a complete table between the markers. It is
// also the CI check of CPU per byte (issue 13): the run fails when Ferry's CPU time (user + system) per byte of
// the full backup exceeds restic's in the same run (--max-cpu-ratio 1). Per byte = beyond the no-change
// backup's CPU time, which both tools spend on start-up, key derivation and the walk. The limit was 1.5 while
// the smoke measured 1.00–1.29 (docs/PERFORMANCE.md); writes past the page cache, zstd level 2, fused opens
// and one encoder worker until it falls behind took it to ~0.75 on a busy machine (2026-12-06, evening).
// Needs restic (or root, to install it; .ci/run installs it in CI) and a built dist/ (npm test builds it).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '..');
const STEPS = [
  'init',
  'full backup',
  'no-change backup',
  'incremental backup',
  'incremental bytes added',
  'full restore',
  'CPU time per GB, full backup',
  'CPU time per GB, full backup beyond no-change',
  'CPU time per GB, full restore',
  'system-time share, full backup',
  'system-time share, full restore',
  'repository size after incremental',
  'peak RSS, full backup',
  'peak RSS, no-change backup',
  'peak RSS, incremental backup',
  'peak RSS, full restore',
  'peak RSS, max over all steps',
];
const TARGETED = STEPS.filter((s) => s !== 'init' && !s.startsWith('system-time share'));
const DISKPREP_STEPS = [
  'diskprep vs cp -r + sync',
  'diskprep vs cp -r',
  'diskprep copy phase vs cp -r + sync',
  'diskprep verify phase (read-back)',
  'CPU time, user + system',
  'peak RSS, diskprep',
];

function runBench(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bench', 'run-bench.mjs'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, output }));
  });
}

test('npm run bench: scale 0.05, one repetition, table written between the markers', { timeout: 240_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-smoke-'));
  try {
    const out = join(dir, 'PERFORMANCE.md');
    const work = join(dir, 'work');
    // A stub with an old generated section: only the part between the markers may change.
    const before = '# Performance\n\nHand-written notes stay.\n\n<!-- bench:start -->\nOLD TABLE\n<!-- bench:end -->\n\n## After\n\nAlso stays.\n';
    await writeFile(out, before);

    // --no-build: dist/ is built by `npm test` (or by hand with `npx tsc -p tsconfig.build.json`); rebuilding it
    // here would race with the end-to-end tests that run bin/ferry concurrently.
    const { code, output } = await runBench(['--scale', '0.05', '--reps', '1', '--out', out, '--work', work, '--no-build', '--max-cpu-ratio', '1']);
    assert.doesNotMatch(output, /CPU CHECK FAILED/, 'Ferry needs more CPU per byte than restic for the full backup');
    assert.equal(code, 0, `bench exited with ${code}:\n${output}`);
    assert.match(output, /CPU check passed: CPU per byte, full backup beyond no-change: Ferry [\d.]+ s\/GB, restic [\d.]+ s\/GB, ratio \d+\.\d\d \(limit 1\.00\); whole process: /);
    assert.match(output, /Ferry\s+restore verified with diff -r: identical/);
    assert.match(output, /restic\s+restore verified with diff -r: identical/);
    assert.equal(existsSync(work), false, 'the work dir is removed without --keep');

    const text = await readFile(out, 'utf8');
    assert.ok(text.startsWith('# Performance\n\nHand-written notes stay.\n\n<!-- bench:start -->\n'), 'text before the markers is kept');
    assert.ok(text.endsWith('<!-- bench:end -->\n\n## After\n\nAlso stays.\n'), 'text after the markers is kept');
    assert.equal(text.split('<!-- bench:start -->').length, 2, 'exactly one start marker');
    assert.doesNotMatch(text, /OLD TABLE/);
    const section = text.slice(text.indexOf('<!-- bench:start -->'), text.indexOf('<!-- bench:end -->'));

    for (const item of ['machine', 'Node', 'restic', 'dataset', 'page cache', 'date']) {
      assert.match(section, new RegExp(`^\\| ${item} \\| .+ \\|$`, 'm'), `machine info "${item}"`);
    }
    assert.match(section, /^\| step \| Ferry \| restic \| ratio \| ratio is \| target \| result \|$/m);
    const rows = new Map<string, string[]>();
    for (const line of section.split('\n')) {
      const cells = line.split('|').slice(1, -1).map((c) => c.trim());
      if (cells.length === 7 && STEPS.includes(cells[0]!)) rows.set(cells[0]!, cells);
    }
    assert.deepEqual([...rows.keys()], STEPS, 'every step, in order');
    for (const [step, [, ferry, restic, ratio, ratioIs, target, result]] of rows) {
      assert.match(ferry!, /^\d+(\.\d+)? (s|MB|MiB|s\/GB|%)( |$)/, `${step}: Ferry value`);
      assert.match(restic!, /^\d+(\.\d+)? (s|MB|MiB|s\/GB|%)( |$)/, `${step}: restic value`);
      assert.match(ratio!, /^\d+\.\d\d$/, `${step}: ratio is a number`);
      assert.ok(Number.isFinite(Number(ratio)) && Number(ratio) > 0, `${step}: ratio ${ratio} is a positive number`);
      assert.match(ratioIs!, /Ferry÷restic/, `${step}: ratio is labelled`);
      if (TARGETED.includes(step)) {
        assert.match(target!, /^[≥≤] \d+\.\d\d$/, `${step}: target`);
        assert.match(result!, /^(met|missed)$/, `${step}: met/missed`);
      }
    }
    assert.match(rows.get('full backup')![4]!, /throughput/);
    assert.match(rows.get('full restore')![4]!, /throughput/);
    for (const step of ['CPU time per GB, full backup', 'CPU time per GB, full restore']) {
      assert.match(rows.get(step)![1]!, /^\d+\.\d\d s\/GB$/, `${step}: seconds per GB`);
      assert.equal(rows.get(step)![5], '≤ 0.70', `${step}: target`);
    }
    assert.equal(rows.get('CPU time per GB, full backup beyond no-change')![5], '≤ 1.00', 'the CI check\'s limit');
    for (const step of ['system-time share, full backup', 'system-time share, full restore']) {
      const share = Number(/^([\d.]+) %$/.exec(rows.get(step)![1]!)?.[1]);
      assert.ok(share > 0 && share < 100, `${step}: a share in percent`);
    }

    // The diskprep step: its own table, after the Ferry-vs-restic one.
    assert.match(output, /\[rep 1\/1\] diskprep +[\d.]+ s \(copy [\d.]+ s, verify [\d.]+ s, CPU [\d.]+ s\)/);
    assert.match(output, /\[rep 1\/1\] cp +[\d.]+ s \(\+ sync [\d.]+ s\)/);
    const diskprepSection = section.slice(section.indexOf('### diskprep vs cp'));
    assert.ok(diskprepSection.length > 0, 'a diskprep section');
    assert.match(diskprepSection, /^Staging repository of the dataset: \d+ files, [\d.]+ MB under data\/, index\/ and snapshots\//m);
    assert.match(diskprepSection, /^\| step \| diskprep \| cp \| ratio \| ratio is \| target \| result \|$/m);
    const diskprepRows = new Map<string, string[]>();
    for (const line of diskprepSection.split('\n')) {
      const cells = line.split('|').slice(1, -1).map((c) => c.trim());
      if (cells.length === 7 && DISKPREP_STEPS.includes(cells[0]!)) diskprepRows.set(cells[0]!, cells);
    }
    assert.deepEqual([...diskprepRows.keys()], DISKPREP_STEPS, 'every diskprep row, in order');
    const [, diskprep, cpSync, ratio, , target, result] = diskprepRows.get('diskprep vs cp -r + sync')!;
    assert.match(diskprep!, /^\d+\.\d\d s \([\d.]+ MB\/s\)$/);
    assert.match(cpSync!, /^\d+\.\d\d s \([\d.]+ MB\/s\)$/);
    assert.ok(Number(ratio) > 0, `ratio ${ratio}`);
    assert.equal(target, '≥ 0.50');
    assert.match(result!, /^(met|missed)$/);
    assert.match(diskprepRows.get('diskprep verify phase (read-back)')![1]!, /^\d+\.\d\d s \([\d.]+ MB\/s\)$/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
