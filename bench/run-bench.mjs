#!/usr/bin/env node
// Ferry vs restic on the deterministic bench dataset: init, full backup, no-change backup, incremental
// backup after one "day of work", full restore, repository size. Medians over repetitions, written as a
// markdown table between <!-- bench:start --> and <!-- bench:end --> in --out.
//
//   node bench/run-bench.mjs [--scale 1] [--reps 3] [--out docs/PERFORMANCE.md] [--work DIR] [--keep]
//                            [--seed 42] [--no-build] [--json FILE] [--diskprep-only] [--ingest-only]
//                            [--transport-only] [--no-diskprep] [--max-cpu-ratio R]
//
// Scheme (also printed into the generated section):
// * The dataset is generated once per run into WORK/pristine (make-dataset.mjs, --seed, --scale).
// * Per repetition and per tool (the tool order alternates between repetitions), with a fresh repository:
//   `cp -a --reflink=auto` WORK/pristine to WORK/data; init; full backup of WORK/data; no-change backup;
//   mutate-dataset.mjs --day 1 in place on WORK/data; incremental backup; full restore of "latest" into an
//   empty WORK/restore. Both tools always back up the same absolute path, so both find their parent
//   snapshot, and the mutation is deterministic; a digest of the mutated tree (names, sizes, modes, mtimes,
//   contents) is compared across runs, so both tools provably see identical data.
// * Timed steps: `sync`, then `echo 3 > /proc/sys/vm/drop_caches` when allowed (whether it was is recorded),
//   then the tool under `/usr/bin/time -f '%e %M %U %S'`: wall time is taken around the process with hrtime
//   (ms resolution; %e agrees to 10 ms), peak RSS from %M, CPU time from %U (user) + %S (system) of the process
//   and its waited-for children (both tools do all their work in one process). Untimed: copies, mutation, du, diff.
// * CPU per GB = (user + system seconds) / dataset GB, for both tools in the same run; the system-time share
//   (system / (user + system)) is printed too, so allocation and page-fault regressions are seen. CPU time holds
//   on a busy machine where wall time does not. The per-byte part of a full backup is its CPU time beyond the
//   no-change backup's (both start the process, derive the key and walk the same tree), per GB.
//   `--max-cpu-ratio R` fails the run (exit 3) when Ferry's per-byte CPU for the full backup exceeds R times
//   restic's (CI: R = 1 on the --scale 0.05 smoke, where the whole-process figure is mostly start-up).
// * Bytes added by the incremental = `du -sb` of the repository after minus before; repository size = `du -sb`
//   after the incremental. The first repetition's restores are compared with `diff -r` to the mutated tree;
//   a mismatch fails the bench.
// * Ferry: bin/ferry (dist/, rebuilt first unless --no-build), FERRY_PASSWORD, default KDF. restic: default
//   settings, RESTIC_PASSWORD; its local cache stays on but lives in WORK/cache-restic (wiped per run).
// * Then the diskprep step (diskprep-bench.mjs): `ferry diskprep` of a staging repository of the dataset
//   against `cp -r` (+ `sync`) of the same files, in its own table; `--diskprep-only` runs just that.
// * Then the ingest step (ingest-bench.mjs): `ferry datacenter ingest` of a prepared disk into a filesystem
//   storage account of a `ferry serve` against `cp -r` (+ `sync`) of the disk's files into the same account's
//   folder, in its own table; `--ingest-only` runs just that (with the staging repository it needs).
// * `--transport-only` runs the diskprep and the ingest steps, without restic.
// * Deletes wait for the end when there is room: a working copy, repository or restore target that is done
//   with is renamed into WORK/discarded and deleted with the work dir. ext4 skips recently freed inodes for
//   minutes after a large delete, which slowed file creation (the restores) by up to a third when each step
//   followed the previous repetition's deletes. Without the room (~(3 + 5.2 x reps) x the dataset), each is
//   deleted when done, and the report says so.
// * Free space needed: ~4x the dataset (pristine + working copy + repository + restore), more for the above.

import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createReadStream, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync,
  statfsSync, writeFileSync,
} from 'node:fs';
import { availableParallelism, cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchDiskprep, diskprepMarkdown, diskprepRows } from './diskprep-bench.mjs';
import { benchIngest, ingestMarkdown, ingestRows } from './ingest-bench.mjs';
import { median, rate, secs } from './bench-util.mjs';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(BENCH_DIR, '..');
const FERRY_BIN = join(ROOT, 'bin', 'ferry');
const TIME_BIN = '/usr/bin/time';
const START_MARK = '<!-- bench:start -->';
const END_MARK = '<!-- bench:end -->';
/** Bytes of the dataset at --scale 1 (bench/README.md); used only to estimate the space needed up front. */
const DATASET_BYTES_SCALE1 = 2_099_099_403;
const PASSWORD = 'ferry-bench correct horse battery staple';
const TOOLS = ['ferry', 'restic'];
const LABEL = { ferry: 'Ferry', restic: 'restic' };

const USAGE = `usage: node bench/run-bench.mjs [options]
  --scale N     dataset scale (1 = ~2 GiB, 24.5k files; 0.05 = ~100 MiB)   [1]
  --reps N      repetitions; medians are reported                         [3]
  --out FILE    markdown file to update between the bench markers        [docs/PERFORMANCE.md]
  --work DIR    work directory (must be missing or empty)                [a new dir under ${tmpdir()}]
  --keep        keep the work directory (dataset, logs) afterwards
  --seed S      dataset seed                                             [42]
  --no-build    do not run tsc before (bin/ferry runs dist/)
  --json FILE   also write every raw measurement as JSON
  --diskprep-only  only the diskprep step (diskprep vs cp -r), no restic
  --ingest-only    only the ingest step (datacenter ingest vs cp -r), no restic, no diskprep step
  --transport-only the diskprep and the ingest steps, no restic
  --max-cpu-ratio R  exit 3 when Ferry's CPU time per byte of the full backup (beyond a no-change
                   backup's) exceeds R x restic's
  --no-diskprep    skip the diskprep and ingest steps (only Ferry vs restic)`;

function parseArgs(argv) {
  const o = { scale: 1, reps: 3, out: join(ROOT, 'docs', 'PERFORMANCE.md'), work: null, keep: false, seed: '42', build: true, json: null };
  const value = (i, name) => {
    if (i >= argv.length || argv[i].startsWith('--')) throw new Error(`${name} needs a value`);
    return argv[i];
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--scale') o.scale = Number(value(++i, a));
    else if (a === '--reps') o.reps = Number(value(++i, a));
    else if (a === '--out') o.out = resolve(value(++i, a));
    else if (a === '--work') o.work = resolve(value(++i, a));
    else if (a === '--seed') o.seed = value(++i, a);
    else if (a === '--json') o.json = resolve(value(++i, a));
    else if (a === '--keep') o.keep = true;
    else if (a === '--no-build') o.build = false;
    else if (a === '--diskprep-only') o.diskprepOnly = true;
    else if (a === '--ingest-only') o.ingestOnly = true;
    else if (a === '--transport-only') o.transportOnly = true;
    else if (a === '--no-diskprep') o.noDiskprep = true;
    else if (a === '--max-cpu-ratio') o.maxCpuRatio = Number(value(++i, a));
    else if (a === '-h' || a === '--help') o.help = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!(o.scale > 0) || o.scale > 64) throw new Error('--scale must be a number in (0, 64]');
  if (!Number.isInteger(o.reps) || o.reps < 1) throw new Error('--reps must be an integer >= 1');
  if (o.maxCpuRatio !== undefined && !(o.maxCpuRatio > 0)) throw new Error('--max-cpu-ratio must be a positive number');
  if (o.maxCpuRatio !== undefined && (o.diskprepOnly || o.ingestOnly)) throw new Error('--max-cpu-ratio needs the Ferry-vs-restic steps');
  return o;
}

class BenchError extends Error {}

// ---------------------------------------------------------------------------------------------------------
// small process helpers

function log(msg) {
  process.stdout.write(`${msg}\n`);
}

/** Runs a command to completion (untimed helper steps); throws with its output when it fails. */
function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...opts });
  if (r.error) throw new BenchError(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new BenchError(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}\n${tail(r.stdout)}\n${tail(r.stderr)}`);
  }
  return r.stdout ?? '';
}

function tail(text, lines = 20) {
  return String(text ?? '').trimEnd().split('\n').slice(-lines).join('\n');
}

function commandExists(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

const isRoot = () => process.getuid?.() === 0;

/** Installs a Debian package when `probe()` fails; needs root. */
function ensureDebianPackage(pkg, probe, what) {
  if (probe()) return false;
  if (!isRoot()) {
    throw new BenchError(`${what} is missing and this is not root, so it cannot be installed here. ` +
      `Install it first: sudo apt-get install -y ${pkg}`);
  }
  log(`installing ${pkg} (apt-get)…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    run('apt-get', ['update', '-qq'], { env });
    run('apt-get', ['install', '-y', '-qq', pkg], { env });
  } catch (err) {
    throw new BenchError(`could not install ${pkg} with apt-get: ${err.message}`);
  }
  if (!probe()) throw new BenchError(`${pkg} was installed but ${what} is still not usable`);
  return true;
}

/** Ferry's settings that only tune speed and memory: `npm run bench` passes them on for A/B runs. */
const TUNING_VARIABLES = new Set(['FERRY_RESTORE_WRITERS', 'FERRY_RESTORE_WRITE_BEHIND', 'FERRY_RESTORE_CREATE', 'FERRY_ENCODER_WORKERS', 'FERRY_ENCODER_STALL_MS', 'FERRY_LARGE_FILE_READS', 'FERRY_GC_MARKING', 'FERRY_YOUNG_GENERATION_MIB']);

/** Environment for the tools: nothing inherited that changes their behaviour, plus their own settings. */
function toolEnv(tool, work) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    // The backup's and restore's tuning settings pass (to compare them on a quiet machine); other FERRY_ settings do not.
    const tuning = TUNING_VARIABLES.has(k);
    if (!tuning && (k.startsWith('FERRY_') || k.startsWith('RESTIC_') || k === 'GOMAXPROCS' || k === 'GOGC' || k === 'NODE_OPTIONS')) continue;
    env[k] = v;
  }
  if (tool === 'ferry') {
    env.FERRY_PASSWORD = PASSWORD; // default KDF: FERRY_INSECURE_TEST_KDF is not passed on
    env.FERRY_REPOSITORY = join(work, 'repo-ferry');
  } else {
    env.RESTIC_PASSWORD = PASSWORD;
    env.RESTIC_REPOSITORY = join(work, 'repo-restic');
    // restic's default local cache stays on; it is only moved into the work dir so it is removed with it
    env.RESTIC_CACHE_DIR = join(work, 'cache-restic');
  }
  return env;
}

function toolCommand(tool, args) {
  return tool === 'ferry' ? [process.execPath, [FERRY_BIN, ...args]] : ['restic', args];
}

// ---------------------------------------------------------------------------------------------------------
// page cache, timing, sizes

const cacheState = { allowed: null, reason: '', drops: 0, failures: 0 };

/** sync, then drop the page cache when the kernel lets us; remembers whether it could. */
function dropCaches() {
  spawnSync('sync', [], { stdio: 'ignore' });
  if (cacheState.allowed === false) return;
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3\n');
    cacheState.allowed = true;
    cacheState.drops++;
  } catch (err) {
    if (cacheState.allowed === null) {
      cacheState.allowed = false;
      cacheState.reason = err.code ?? err.message;
    } else {
      cacheState.failures++;
    }
  }
}

/**
 * Runs one timed step under /usr/bin/time -f '%e %M %U %S' (its report goes to a file, not mixed with the
 * tool's stderr). Wall time is also taken around the spawn with hrtime, for millisecond resolution.
 */
function timed(tool, args, { work, name, logDir }) {
  const [cmd, argv] = toolCommand(tool, args);
  return timedProcess(cmd, argv, { env: toolEnv(tool, work), cwd: work, name, logDir, label: LABEL[tool] });
}

/** {@link timed} for any command; `dropCache: false` skips the cache drop before it. */
function timedProcess(cmd, argv, { env, cwd, name, logDir, label, dropCache = true }) {
  const timeFile = join(logDir, `${name}.time`);
  const outFile = join(logDir, `${name}.log`);
  if (dropCache) dropCaches();
  return new Promise((resolvePromise, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(TIME_BIN, ['-f', '%e %M %U %S', '-o', timeFile, cmd, ...argv], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      writeFileSync(outFile, out);
      if (code !== 0) {
        reject(new BenchError(`${label} ${name} failed (${[cmd, ...argv].join(' ')}) with exit ${code ?? signal}:\n${tail(out)}`));
        return;
      }
      const report = readFileSync(timeFile, 'utf8').trim().split('\n').pop() ?? '';
      const m = /^([\d.]+) (\d+) ([\d.]+) ([\d.]+)$/.exec(report);
      if (!m) {
        reject(new BenchError(`cannot parse /usr/bin/time output for ${name}: ${JSON.stringify(report)}`));
        return;
      }
      resolvePromise({ wall, timeWall: Number(m[1]), rssKiB: Number(m[2]), user: Number(m[3]), sys: Number(m[4]), output: out });
    });
  });
}

/** Apparent size of a directory tree in bytes (`du -sb`). */
function duBytes(path) {
  const out = run('du', ['-sb', path]);
  return Number(out.split(/\s/)[0]);
}

/** "Files: N new, N changed, N unmodified" — printed by both tools' backup. */
function fileCounts(output) {
  const m = /Files:\s+(\d+) new,\s+(\d+) changed,\s+(\d+) unmodified/.exec(output);
  return m ? { new: Number(m[1]), changed: Number(m[2]), unmodified: Number(m[3]) } : null;
}

/**
 * A digest of a tree: relative path, type, size, mode, mtime (ms) and content hash of every entry, in
 * sorted order. Used to prove both tools backed up identical data.
 */
async function treeDigest(root) {
  const h = createHash('sha256');
  const entries = [];
  const walk = (rel) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(root, r));
      entries.push([r, st]);
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  for (const [rel, st] of entries) {
    const type = st.isDirectory() ? 'd' : st.isFile() ? 'f' : st.isSymbolicLink() ? 'l' : 'o';
    h.update(`${rel}\0${type}\0${st.size}\0${st.mode}\0${Math.round(st.mtimeMs)}\0`);
    if (type === 'l') h.update(readlinkSync(join(root, rel)));
    if (type === 'f') {
      for await (const chunk of createReadStream(join(root, rel), { highWaterMark: 1 << 20 })) h.update(chunk);
    }
  }
  return h.digest('hex');
}

// ---------------------------------------------------------------------------------------------------------
// the benchmark

function prepare(o) {
  if (!existsSync(join(ROOT, 'bench', 'make-dataset.mjs'))) throw new BenchError('bench/make-dataset.mjs not found');
  ensureDebianPackage('time', () => existsSync(TIME_BIN), TIME_BIN);
  if (!o.diskprepOnly && !o.ingestOnly && !o.transportOnly) ensureDebianPackage('restic', () => commandExists('restic'), 'restic');
  if (o.build) {
    log('building Ferry (tsc -b tsconfig.build.json)…');
    run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT });
  }
  if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) {
    throw new BenchError('dist/cli/main.js is missing: bin/ferry runs dist/, build it with `npm run build` (or drop --no-build)');
  }
}

function makeWorkDir(o) {
  if (o.work) {
    if (existsSync(o.work) && readdirSync(o.work).length > 0) {
      throw new BenchError(`--work ${o.work} exists and is not empty; give a missing or empty directory (it is deleted afterwards unless --keep)`);
    }
    mkdirSync(o.work, { recursive: true });
    return o.work;
  }
  return mkdtempSync(join(tmpdir(), 'ferry-bench-'));
}

function checkSpace(work, scale) {
  const need = Math.ceil(4 * DATASET_BYTES_SCALE1 * scale);
  const st = statfsSync(work);
  const free = st.bavail * st.bsize;
  if (free < need) {
    throw new BenchError(`not enough free space in ${work}: ${mb(free)} free, the bench needs ~${mb(need)} ` +
      `(4x the dataset: pristine copy, working copy, repository, restore). Use --work on a bigger filesystem or a smaller --scale.`);
  }
  return free;
}

/**
 * Deletes what a step is done with: at once, or (when `deferred`) by renaming it into WORK/discarded, whose
 * contents go with the work dir at the end, so no timed step follows a large delete.
 */
function makeDiscarder(work, deferred) {
  const bin = join(work, 'discarded');
  let count = 0;
  return {
    deferred,
    discard(path) {
      if (!existsSync(path)) return;
      if (!deferred) return rmSync(path, { recursive: true, force: true });
      mkdirSync(bin, { recursive: true });
      renameSync(path, join(bin, String(++count)));
    },
  };
}

/**
 * Room to keep every repetition's working copy, repository and restore until the end (see the scheme), and
 * each ingest repetition's three disks, two imports and copy (about 3.5 datasets).
 */
const roomToDeferDeletes = (free, scale, reps, ingestReps) => free >= (3 + 5.2 * reps + 3.5 * ingestReps) * DATASET_BYTES_SCALE1 * scale;

function makeDataset(o, work) {
  const dir = join(work, 'pristine');
  log(`generating the dataset (seed ${o.seed}, scale ${o.scale}) in ${dir}…`);
  const out = run(process.execPath, [join(BENCH_DIR, 'make-dataset.mjs'), dir, '--seed', o.seed, '--scale', String(o.scale), '--quiet']);
  const m = /total\s+(\d+) files\s+[\d.]+ MiB \((\d+) bytes\) in (\d+) dirs/.exec(out);
  if (!m) throw new BenchError(`cannot parse make-dataset output:\n${out}`);
  return { dir, files: Number(m[1]), bytes: Number(m[2]), dirs: Number(m[3]) };
}

/** A fresh working copy of the pristine dataset at WORK/data (same path for every tool and repetition). */
function freshData(work, pristine, discarder) {
  const data = join(work, 'data');
  discarder.discard(data);
  run('cp', ['-a', '--reflink=auto', pristine, data]);
  return data;
}

function mutate(o, data) {
  const out = run(process.execPath, [join(BENCH_DIR, 'mutate-dataset.mjs'), data, '--seed', o.seed, '--day', '1']);
  const changed = /new or changed bytes: (\d+)/.exec(out);
  const after = /after: (\d+) files (\d+) B/.exec(out);
  if (!changed || !after) throw new BenchError(`cannot parse mutate-dataset output:\n${out}`);
  return { changedBytes: Number(changed[1]), files: Number(after[1]), bytes: Number(after[2]) };
}

/** One tool, one repetition: every step on a fresh repository and a fresh copy of the dataset. */
async function benchTool(o, tool, rep, ctx) {
  const { work, pristine } = ctx;
  const logDir = join(work, 'logs', `rep${rep + 1}-${tool}`);
  mkdirSync(logDir, { recursive: true });
  const repo = toolEnv(tool, work)[tool === 'ferry' ? 'FERRY_REPOSITORY' : 'RESTIC_REPOSITORY'];
  ctx.discarder.discard(repo);
  ctx.discarder.discard(join(work, 'cache-restic'));
  const data = freshData(work, pristine, ctx.discarder);
  const step = async (name, args) => {
    const r = await timed(tool, args, { work, name, logDir });
    log(`  [rep ${rep + 1}/${o.reps}] ${LABEL[tool].padEnd(6)} ${name.padEnd(12)} ${r.wall.toFixed(2).padStart(7)} s ${(r.rssKiB / 1024).toFixed(0).padStart(5)} MiB ` +
      `CPU ${(r.user + r.sys).toFixed(2).padStart(6)} s (system ${r.sys.toFixed(2)} s)`);
    return r;
  };
  const res = { tool, rep: rep + 1 };

  const init = await step('init', ['init']);
  res.init = { wall: init.wall, rssKiB: init.rssKiB, user: init.user, sys: init.sys };
  const full = await step('full', ['backup', data]);
  res.full = { wall: full.wall, rssKiB: full.rssKiB, user: full.user, sys: full.sys, files: fileCounts(full.output) };
  res.fullRepoBytes = duBytes(repo);
  const noChangeBefore = res.fullRepoBytes;
  const none = await step('no-change', ['backup', data]);
  res.noChange = { wall: none.wall, rssKiB: none.rssKiB, user: none.user, sys: none.sys, files: fileCounts(none.output), bytesAdded: duBytes(repo) - noChangeBefore };
  if (res.noChange.files && res.noChange.files.new + res.noChange.files.changed > 0) {
    ctx.warnings.push(`${LABEL[tool]} rep ${rep + 1}: the no-change backup saw ${res.noChange.files.new} new and ${res.noChange.files.changed} changed files (parent snapshot not used?)`);
  }

  const mutation = mutate(o, data);
  const digest = await treeDigest(data);
  if (ctx.digest === undefined) {
    ctx.digest = digest;
    ctx.mutation = mutation;
  } else if (digest !== ctx.digest) {
    throw new BenchError(`the mutated dataset differs between runs (${digest} vs ${ctx.digest}): the tools would not see identical data`);
  }

  const before = duBytes(repo);
  const inc = await step('incremental', ['backup', data]);
  const after = duBytes(repo);
  res.incremental = { wall: inc.wall, rssKiB: inc.rssKiB, user: inc.user, sys: inc.sys, files: fileCounts(inc.output), bytesAdded: after - before };
  res.repoBytes = after;

  const target = join(work, 'restore');
  ctx.discarder.discard(target);
  mkdirSync(target);
  const rest = await step('restore', ['restore', 'latest', '--target', target]);
  res.restore = { wall: rest.wall, rssKiB: rest.rssKiB, user: rest.user, sys: rest.sys };
  if (rep === 0) {
    // both tools restore an absolute source path below the target
    const restored = join(target, data);
    if (!existsSync(restored)) throw new BenchError(`${LABEL[tool]} restore: ${restored} does not exist`);
    const diff = spawnSync('diff', ['-r', '--no-dereference', data, restored], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (diff.status !== 0) {
      throw new BenchError(`RESTORE MISMATCH: ${LABEL[tool]}'s restore differs from the mutated dataset (diff -r exit ${diff.status}):\n${tail(diff.stdout, 30)}\n${tail(diff.stderr)}`);
    }
    res.restoreVerified = true;
    log(`  [rep ${rep + 1}/${o.reps}] ${LABEL[tool].padEnd(6)} restore verified with diff -r: identical`);
  }
  ctx.discarder.discard(target);
  ctx.discarder.discard(repo);
  return res;
}

// ---------------------------------------------------------------------------------------------------------
// report

const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;
const mib = (kib) => `${(kib / 1024).toFixed(0)} MiB`;
const perGB = (s) => `${s.toFixed(2)} s/GB`;
const percent = (p) => `${p.toFixed(1)} %`;
/** CPU seconds (user + system) of a step per 10^9 bytes of data. */
const cpuPerGB = (step, bytes) => (step.user + step.sys) / (bytes / 1e9);
/**
 * CPU seconds per GB of a full backup beyond those of the no-change backup of the same tree: both start
 * the process, derive the key and walk the tree, so what is left is the per-byte work (read, chunk, hash,
 * compress, encrypt, write). On a small dataset the whole-process figure is mostly start-up.
 */
const marginalCpuPerGB = (full, noChange, bytes) => (full.user + full.sys - noChange.user - noChange.sys) / (bytes / 1e9);
/** The share of a step's CPU time spent in the kernel, in percent. */
const systemShare = (step) => (100 * step.sys) / (step.user + step.sys);

/**
 * The CI check (--max-cpu-ratio): Ferry's CPU time per byte of the full backup against restic's, from
 * the medians of the same run. Returns a message when the ratio exceeds `limit`.
 */
function cpuCheck(rows, limit) {
  const row = rows.find((r) => r.step === 'CPU time per GB, full backup beyond no-change');
  const whole = rows.find((r) => r.step === 'CPU time per GB, full backup');
  if (!row || !(row.ratio > 0) || !whole) return 'CPU CHECK FAILED: no CPU time measured for the full backup';
  const line = `CPU per byte, full backup beyond no-change: Ferry ${row.ferry}, restic ${row.restic}, ratio ${row.ratio.toFixed(2)} (limit ${limit.toFixed(2)}); ` +
    `whole process: Ferry ${whole.ferry}, restic ${whole.restic}, ratio ${whole.ratio.toFixed(2)}`;
  return row.ratio > limit ? `CPU CHECK FAILED: ${line}` : `CPU check passed: ${line}`;
}

/**
 * The table rows. `ratio` is Ferry/restic of the shown quantity for times, sizes and memory (lower is
 * better), and Ferry/restic of throughput (= restic time / Ferry time, higher is better) where the target
 * is about throughput.
 */
function buildRows(results, dataset, mutated) {
  const med = (tool, pick) => median(results.filter((r) => r.tool === tool).map(pick));
  const both = (pick) => ({ ferry: med('ferry', pick), restic: med('restic', pick) });
  const rows = [];
  const add = (step, values, show, kind, target) => {
    const ratio = kind === 'throughput' ? values.restic / values.ferry : values.ferry / values.restic;
    let result = '';
    if (target) result = (target.op === '>=' ? ratio >= target.value : ratio <= target.value) ? 'met' : 'missed';
    rows.push({
      step,
      ferry: show(values.ferry),
      restic: show(values.restic),
      ferryValue: values.ferry,
      resticValue: values.restic,
      ratio,
      ratioIs: kind === 'throughput' ? 'throughput Ferry÷restic (higher is better)' : `${kind} Ferry÷restic (lower is better)`,
      target: target ? `${target.op === '>=' ? '≥' : '≤'} ${target.value.toFixed(2)}` : '',
      result,
    });
  };
  const wallRss = (pick) => both(pick);
  add('init', wallRss((r) => r.init.wall), secs, 'time', null);
  add('full backup', wallRss((r) => r.full.wall), (s) => `${secs(s)} (${rate(dataset.bytes, s)})`, 'throughput', { op: '>=', value: 1.5 });
  add('no-change backup', wallRss((r) => r.noChange.wall), secs, 'time', { op: '<=', value: 1 });
  add('incremental backup', wallRss((r) => r.incremental.wall), secs, 'time', { op: '<=', value: 1 });
  add('incremental bytes added', both((r) => r.incremental.bytesAdded), mb, 'size', { op: '<=', value: 1 });
  add('full restore', wallRss((r) => r.restore.wall), (s) => `${secs(s)} (${rate(mutated.bytes, s)})`, 'throughput', { op: '>=', value: 1.5 });
  add('CPU time per GB, full backup', both((r) => cpuPerGB(r.full, dataset.bytes)), perGB, 'CPU time', { op: '<=', value: 0.7 });
  add('CPU time per GB, full backup beyond no-change', both((r) => marginalCpuPerGB(r.full, r.noChange, dataset.bytes)), perGB, 'CPU time', { op: '<=', value: 1 });
  add('CPU time per GB, full restore', both((r) => cpuPerGB(r.restore, mutated.bytes)), perGB, 'CPU time', { op: '<=', value: 0.7 });
  add('system-time share, full backup', both((r) => systemShare(r.full)), percent, 'share', null);
  add('system-time share, full restore', both((r) => systemShare(r.restore)), percent, 'share', null);
  add('repository size after incremental', both((r) => r.repoBytes), mb, 'size', { op: '<=', value: 1.02 });
  add('peak RSS, full backup', both((r) => r.full.rssKiB), mib, 'memory', { op: '<=', value: 1.25 });
  add('peak RSS, no-change backup', both((r) => r.noChange.rssKiB), mib, 'memory', { op: '<=', value: 1.25 });
  add('peak RSS, incremental backup', both((r) => r.incremental.rssKiB), mib, 'memory', { op: '<=', value: 1.25 });
  add('peak RSS, full restore', both((r) => r.restore.rssKiB), mib, 'memory', { op: '<=', value: 1.25 });
  add('peak RSS, max over all steps', both((r) => Math.max(r.init.rssKiB, r.full.rssKiB, r.noChange.rssKiB, r.incremental.rssKiB, r.restore.rssKiB)), mib, 'memory', { op: '<=', value: 1.25 });
  return rows;
}

function gitDescribe() {
  const rev = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  if (rev.status !== 0) return 'unknown';
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' });
  return `${rev.stdout.trim()}${dirty.stdout && dirty.stdout.trim() ? ' + uncommitted changes' : ''}`;
}

function markdown(o, info, rows, warnings, diskprep, ingest) {
  const L = [];
  L.push(o.transportOnly ? '## diskprep and ingest vs cp: `npm run bench -- --transport-only`' : o.ingestOnly ? '## ingest vs cp: `npm run bench -- --ingest-only`' : o.diskprepOnly ? '## diskprep vs cp: `npm run bench -- --diskprep-only`' : `## Ferry vs restic: \`npm run bench\``);
  L.push('');
  L.push(`Generated by \`bench/run-bench.mjs\` (do not edit between the markers by hand; re-run the bench). ` +
    `Medians over ${o.reps} repetition${o.reps > 1 ? 's' : ''}; 1 MB = 10^6 bytes; MB/s = dataset bytes per wall-clock second.`);
  L.push('');
  L.push('| item | value |');
  L.push('| --- | --- |');
  for (const [k, v] of info) L.push(`| ${k} | ${v} |`);
  L.push('');
  if (rows.length > 0) {
    L.push('| step | Ferry | restic | ratio | ratio is | target | result |');
    L.push('| --- | --- | --- | --- | --- | --- | --- |');
    for (const r of rows) L.push(`| ${r.step} | ${r.ferry} | ${r.restic} | ${r.ratio.toFixed(2)} | ${r.ratioIs} | ${r.target} | ${r.result} |`);
    L.push('');
    const met = rows.filter((r) => r.result === 'met').length;
    const targets = rows.filter((r) => r.result).length;
    L.push(`Targets met: ${met} of ${targets}.`);
    L.push('');
    L.push('Scheme: each repetition, each tool gets a fresh repository and a fresh `cp -a` of the pristine dataset at the ' +
      'same path (`WORK/data`, so both tools find their parent snapshot), then: init; full backup; no-change backup; ' +
      '`mutate-dataset.mjs --day 1` on `WORK/data` (deterministic; a digest of the mutated tree proves both tools saw ' +
      'identical data); incremental backup (bytes added = `du -sb` of the repository after minus before); full restore ' +
      'of the latest snapshot into an empty dir (checked with `diff -r` against the mutated tree in the first repetition). ' +
      'The tool order alternates between repetitions. Every timed step runs after `sync` and, when allowed, ' +
      '`echo 3 > /proc/sys/vm/drop_caches`; wall time is measured around the process, peak RSS by `/usr/bin/time -f %M`, CPU time (user + system) by `%U` and `%S`; ' +
      'CPU per GB divides it by the dataset bytes (the mutated tree\'s for the restore); "beyond no-change" subtracts the no-change backup\'s CPU time ' +
      '(start-up, key derivation and the walk) first, leaving the per-byte work; the system-time share is system ÷ (user + system). ' +
      'Ferry runs `bin/ferry` with the default KDF; restic runs with default settings (its local cache in the work dir).');
    L.push('');
  }
  if (diskprep) L.push(...diskprepMarkdown(diskprep, o.reps));
  if (ingest) {
    if (diskprep) L.push('');
    L.push(...ingestMarkdown(ingest, o.reps));
  }
  if (warnings.length) {
    L.push('');
    L.push('Warnings:');
    for (const w of warnings) L.push(`* ${w}`);
  }
  return L.join('\n');
}

function writeSection(file, section) {
  const block = `${START_MARK}\n${section}\n${END_MARK}`;
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const start = text.indexOf(START_MARK);
  if (start < 0) {
    text = `${text}${text && !text.endsWith('\n') ? '\n' : ''}${text ? '\n' : ''}${block}\n`;
  } else {
    const end = text.indexOf(END_MARK, start);
    if (end < 0) throw new BenchError(`${file} has ${START_MARK} but no ${END_MARK} after it; fix the markers by hand`);
    text = text.slice(0, start) + block + text.slice(end + END_MARK.length);
  }
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
}

function printTable(rows, head = ['step', 'Ferry', 'restic', 'ratio', 'target', 'result']) {
  const body = rows.map((r) => [r.step, r.ferry, r.restic, `${r.ratio.toFixed(2)}${r.ratioIs.startsWith('throughput') ? ' (thr)' : ''}`, r.target, r.result]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  log('');
  log(line(head));
  log(line(widths.map((w) => '-'.repeat(w))));
  for (const b of body) log(line(b));
  log(head[1] === 'Ferry'
    ? 'ratio = Ferry÷restic of time/size/memory (lower is better); "(thr)" = Ferry÷restic throughput = restic time ÷ Ferry time (higher is better)'
    : `ratio = ${head[1]}÷cp throughput (higher is better), or ${head[1]}÷cp CPU time`);
}

// ---------------------------------------------------------------------------------------------------------

async function main() {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`run-bench: ${err.message}\n${USAGE}`);
    return 2;
  }
  if (o.help) {
    log(USAGE);
    return 0;
  }
  const started = new Date();
  const load = loadavg()[0];
  prepare(o);
  const work = makeWorkDir(o);
  let cleaned = false;
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    if (o.keep) log(`work dir kept: ${work}`);
    else rmSync(work, { recursive: true, force: true });
  };
  const onSignal = (sig) => {
    cleanup();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const free = checkSpace(work, o.scale);
    log(`work dir ${work} (${mb(free)} free)`);
    const dataset = makeDataset(o, work);
    const onlyStep = o.diskprepOnly || o.ingestOnly || o.transportOnly;
    const discarder = makeDiscarder(work, roomToDeferDeletes(free, o.scale, onlyStep ? 0 : o.reps, o.diskprepOnly || o.noDiskprep ? 0 : o.reps));
    const ctx = { work, pristine: dataset.dir, digest: undefined, mutation: undefined, warnings: [], discarder };
    const results = [];
    for (let rep = 0; rep < (onlyStep ? 0 : o.reps); rep++) {
      const order = rep % 2 === 0 ? TOOLS : [...TOOLS].reverse();
      for (const tool of order) results.push(await benchTool(o, tool, rep, ctx));
    }
    const helpers = { timedProcess, run, log, ferryBin: FERRY_BIN, env: toolEnv('ferry', work), discard: (path) => discarder.discard(path) };
    const diskprep = o.ingestOnly || o.noDiskprep ? null : await benchDiskprep({ reps: o.reps, work, pristine: dataset.dir, h: helpers });
    const ingest = o.diskprepOnly || o.noDiskprep ? null : await benchIngest({ reps: o.reps, work, pristine: dataset.dir, h: helpers });
    const mutated = ctx.mutation;
    const resticVersion = onlyStep ? `not run (--${o.transportOnly ? 'transport' : o.ingestOnly ? 'ingest' : 'diskprep'}-only)` : run('restic', ['version']).trim();
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    const caches = cacheState.allowed
      ? `dropped before every timed step (\`sync; echo 3 > /proc/sys/vm/drop_caches\`, ${cacheState.drops} times${cacheState.failures ? `, ${cacheState.failures} failed` : ''})`
      : `**not dropped** (writing /proc/sys/vm/drop_caches failed: ${cacheState.reason}); steps ran with a warm cache after \`sync\``;
    const info = [
      ['date', started.toISOString()],
      ['machine', `${availableParallelism()} CPUs (nproc), ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${release()}, load average ${load.toFixed(2)} at start, ${loadavg()[0].toFixed(2)} at end`],
      ['Node', process.version],
      ['Ferry', `${pkg.version} (git ${gitDescribe()}), \`bin/ferry\`, default KDF`],
      ['restic', resticVersion],
      ['dataset', `\`make-dataset.mjs --seed ${o.seed} --scale ${o.scale}\`: ${dataset.files.toLocaleString('en-US')} files, ${dataset.dirs.toLocaleString('en-US')} dirs, ${mb(dataset.bytes)} (${dataset.bytes} B)`],
      ...(mutated ? [['day-1 mutation', `${mb(mutated.changedBytes)} new or changed; tree after: ${mutated.files.toLocaleString('en-US')} files, ${mb(mutated.bytes)}`]] : []),
      ['page cache', caches],
      ['disk', `dataset, repositories and restore target in one work dir (${work.startsWith(tmpdir()) ? 'under the temp dir' : work}), same filesystem; ` +
        (discarder.deferred ? 'deletes deferred to the end (no timed step follows a large delete)' : '**deleted as the bench goes** (too little room to defer: restore times may suffer from ext4\'s recently-freed inodes)')],
      ['repetitions', `${o.reps} (tool order alternates)`],
    ];
    const rows = onlyStep ? [] : buildRows(results, dataset, mutated);
    if (rows.length > 0) printTable(rows);
    if (diskprep) printTable(diskprepRows(diskprep).map((r) => ({ ...r, restic: r.other, ratio: Number.isFinite(r.ratio) ? r.ratio : 0, ratioIs: r.ratioIs })), ['step', 'diskprep', 'cp', 'ratio', 'target', 'result']);
    if (ingest) printTable(ingestRows(ingest).map((r) => ({ ...r, restic: r.other, ratio: Number.isFinite(r.ratio) ? r.ratio : 0, ratioIs: r.ratioIs })), ['step', 'ingest', 'cp', 'ratio', 'target', 'result']);
    if (ctx.warnings.length) for (const w of ctx.warnings) log(`warning: ${w}`);
    if (!cacheState.allowed) log(`note: the page cache could not be dropped (${cacheState.reason}); numbers are warm-cache`);
    writeSection(o.out, markdown(o, info, rows, ctx.warnings, diskprep, ingest));
    log(`\nwrote the table to ${o.out}`);
    let code = 0;
    if (o.maxCpuRatio !== undefined) {
      const verdict = cpuCheck(rows, o.maxCpuRatio);
      log(verdict);
      if (verdict.startsWith('CPU CHECK FAILED')) code = 3;
    }
    if (o.json) {
      writeFileSync(o.json, JSON.stringify({ options: o, info: Object.fromEntries(info), dataset, mutation: mutated, cache: cacheState, results, rows, diskprep, ingest }, null, 2) + '\n');
      log(`wrote raw measurements to ${o.json}`);
    }
    return code;
  } finally {
    cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`\nrun-bench: FAILED: ${err instanceof BenchError ? err.message : err.stack ?? err}`);
    process.exit(1);
  },
);
