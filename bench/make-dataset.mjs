#!/usr/bin/env node
// Deterministic mixed benchmark tree for ferry (~2 GiB at --scale 1).
//
//   node bench/make-dataset.mjs DIR [--seed 42] [--scale 1] [--jobs 2]
//
// Same seed and scale give byte-identical files, identical names and identical mtimes
// (files and directories). DIR must not exist or be empty. See bench/README.md.

import { copyFileSync, existsSync, mkdirSync, readdirSync, utimesSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import {
  DAY, DB_PAGE, EPOCH, MiB, Rng, SRC_EXT_WEIGHTS, SRC_EXTS, dirName, pickWeighted, runTask, srcFileName, srcFileSize,
} from './lib-gen.mjs';

// Shape at scale 1 (sizes in MiB are part totals).
export const SHAPE = {
  srcFiles: 24000,
  srcDirs: 1000,
  docs: { count: 60, totalMiB: 170, min: 1 * MiB, max: 16 * MiB },
  logs: { count: 20, totalMiB: 80, min: 2 * MiB, max: 6 * MiB },
  media: { count: 100, totalMiB: 270, min: MiB / 2, max: 5 * MiB },
  vmMiB: 448,
  dbMiB: 256,
  archiveMiB: 192,
  videoMiB: 128,
  dupSrc: 300,
  dupMedia: 8,
};

function parseArgs(argv) {
  const o = { dir: null, seed: '42', scale: 1, jobs: Math.max(1, Math.min(2, availableParallelism())), quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--seed') o.seed = String(argv[++i]);
    else if (a === '--scale') o.scale = Number(argv[++i]);
    else if (a === '--jobs') o.jobs = Math.max(1, Number.parseInt(argv[++i], 10));
    else if (a === '--quiet') o.quiet = true;
    else if (a === '-h' || a === '--help') o.help = true;
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else if (o.dir === null) o.dir = a;
    else throw new Error(`unexpected argument ${a}`);
  }
  if (!(o.scale > 0) || o.scale > 64) throw new Error('--scale must be a number in (0, 64]');
  if (o.seed === 'undefined' || o.seed === '') throw new Error('--seed needs a value');
  return o;
}

/** Spread a drawn size list so that it sums to `total`, within [min, max]. */
function normalizeSizes(sizes, total, min, max) {
  let out = sizes.slice();
  for (let it = 0; it < 30; it++) {
    const sum = out.reduce((a, b) => a + b, 0);
    if (Math.abs(sum - total) < 1024) break;
    const f = total / sum;
    out = out.map((s) => Math.max(min, Math.min(max, s * f)));
  }
  return out.map((s) => Math.round(s));
}

const scaled = (n, s, min = 1) => Math.max(min, Math.round(n * s));

/** The whole tree as a list of tasks; everything is drawn from the seed here, on the main thread. */
export function makePlan(seed, scale) {
  const r = new Rng(seed, 'plan');
  const tasks = [];
  const copies = [];
  const dirs = new Set(['']);
  const addDir = (d) => { while (d && !dirs.has(d)) { dirs.add(d); d = dirname(d) === '.' ? '' : dirname(d); } };
  const mtime = (maxAgeDays) => EPOCH - DAY - r.int(maxAgeDays * DAY);
  const unique = (used, dir, name) => {
    let n = name;
    for (let i = 2; used.has(`${dir}/${n}`); i++) {
      const dot = name.lastIndexOf('.');
      n = dot > 0 ? `${name.slice(0, dot)}-${i}${name.slice(dot)}` : `${name}-${i}`;
    }
    used.add(`${dir}/${n}`);
    return `${dir}/${n}`;
  };
  const used = new Set();

  // src/: a random recursive directory tree, files spread over it
  const nDirs = scaled(SHAPE.srcDirs, scale);
  const nSrc = Math.max(nDirs, scaled(SHAPE.srcFiles, scale));
  const srcDirs = ['src'];
  const depth = new Map([['src', 0]]);
  addDir('src');
  while (srcDirs.length < nDirs + 1) {
    let parent = srcDirs[r.int(srcDirs.length)];
    if (depth.get(parent) >= 7) parent = 'src';
    const p = unique(used, parent, dirName(r));
    srcDirs.push(p);
    depth.set(p, depth.get(parent) + 1);
    addDir(p);
  }
  const srcTasks = [];
  for (let i = 0; i < nSrc; i++) {
    const dir = srcDirs[r.int(srcDirs.length)];
    const ext = pickWeighted(r, SRC_EXTS, SRC_EXT_WEIGHTS);
    const path = unique(used, dir, srcFileName(r, ext));
    const t = { kind: 'text', fmt: ext, path, size: srcFileSize(r), mtime: mtime(700), part: 'src' };
    srcTasks.push(t);
    tasks.push(t);
  }

  // docs/: csv / json / markdown, 1-16 MiB, skewed towards small
  {
    const { count, totalMiB, min, max } = SHAPE.docs;
    const n = scaled(count, scale, 3);
    const sizes = normalizeSizes(Array.from({ length: n }, () => min + (max - min) * Math.pow(r.next(), 7)), totalMiB * MiB * scale, min, max);
    const sub = ['reports', 'exports', 'manuals', 'datasets'];
    for (let i = 0; i < n; i++) {
      const fmt = i < 2 ? 'csv' : ['docjson', 'md', 'csv'][i % 3];
      const ext = fmt === 'docjson' ? 'json' : fmt;
      const dir = `docs/${sub[fmt === 'md' ? 2 : fmt === 'csv' ? (i % 2 ? 0 : 3) : 1]}`;
      addDir(dir);
      const name = `${dirName(r)}-${2019 + r.int(6)}-${String(1 + r.int(12)).padStart(2, '0')}.${ext}`;
      tasks.push({ kind: 'text', fmt, path: unique(used, dir, name), size: sizes[i], mtime: mtime(500), part: 'docs' });
    }
  }

  // logs/: 2-6 MiB application logs
  {
    const { count, totalMiB, min, max } = SHAPE.logs;
    const n = scaled(count, scale);
    const sizes = normalizeSizes(Array.from({ length: n }, () => min + (max - min) * r.next()), totalMiB * MiB * scale, min, max);
    const services = ['api', 'web', 'worker', 'billing', 'auth', 'search', 'mailer', 'sync'];
    for (let i = 0; i < n; i++) {
      const svc = services[i % services.length];
      addDir(`logs/${svc}`);
      const m = EPOCH - DAY - r.int(3 * DAY);
      // a log covers the ~days before its mtime: ~8 lines per second of 150 B
      const tMs = (m - Math.ceil(sizes[i] / 150 / 8) - 60) * 1000;
      tasks.push({ kind: 'text', fmt: 'log', path: unique(used, `logs/${svc}`, `${svc}-${i}.log`), size: sizes[i], mtime: m, tMs, part: 'logs' });
    }
  }

  // media/: incompressible 0.5-5 MiB
  const mediaTasks = [];
  {
    const { count, totalMiB, min, max } = SHAPE.media;
    const n = scaled(count, scale, 2);
    const sizes = normalizeSizes(Array.from({ length: n }, () => min + (max - min) * r.next()), totalMiB * MiB * scale, min, max);
    const kinds = [['photos', 'IMG_', 'jpg'], ['photos', 'DSC', 'jpg'], ['audio', 'track-', 'mp3'], ['video', 'clip-', 'mp4'], ['scans', 'scan-', 'png']];
    for (let i = 0; i < n; i++) {
      const [dir, prefix, ext] = kinds[r.int(kinds.length)];
      addDir(`media/${dir}`);
      const t = { kind: 'random', path: unique(used, `media/${dir}`, `${prefix}${String(1000 + r.int(9000))}.${ext}`), size: sizes[i], mtime: mtime(900), part: 'media' };
      mediaTasks.push(t);
      tasks.push(t);
    }
  }

  // large/
  addDir('large');
  const vm = Math.max(1, Math.round(SHAPE.vmMiB * scale)) * MiB;
  const dbPages = Math.max(16, Math.round((SHAPE.dbMiB * scale * MiB) / DB_PAGE));
  const archive = Math.max(1, Math.round((SHAPE.archiveMiB * scale * MiB) / 512)) * 512;
  const video = Math.max(1, Math.round((SHAPE.videoMiB * scale * MiB) / 4096)) * 4096;
  tasks.push({ kind: 'vm', path: 'large/vm-disk.img', size: vm, mtime: EPOCH - 3600, part: 'large' });
  tasks.push({ kind: 'db', path: 'large/db.sqlite', size: dbPages * DB_PAGE, mtime: EPOCH - 7200, part: 'large' });
  tasks.push({ kind: 'random', path: 'large/archive.tar', size: archive, mtime: mtime(200), part: 'large' });
  const videoTask = { kind: 'random', path: 'large/video.bin', size: video, mtime: mtime(300), part: 'large' };
  tasks.push(videoTask);

  // dups/: exact copies, same mtimes as the originals (like cp -p)
  addDir('dups/src-snapshot');
  for (const i of r.sample(srcTasks.length, scaled(SHAPE.dupSrc, scale))) {
    const t = srcTasks[i];
    copies.push({ from: t.path, path: `dups/src-snapshot/${t.path.slice(4).replaceAll('/', '__')}`, size: t.size, mtime: t.mtime });
  }
  addDir('dups/media-old');
  for (const i of r.sample(mediaTasks.length, scaled(SHAPE.dupMedia, scale))) {
    const t = mediaTasks[i];
    copies.push({ from: t.path, path: unique(used, 'dups/media-old', t.path.split('/').pop()), size: t.size, mtime: t.mtime });
  }
  copies.push({ from: videoTask.path, path: 'dups/video-copy.bin', size: videoTask.size, mtime: videoTask.mtime });

  // directory mtimes: the newest direct child file (or a fixed old time when empty)
  const dirMtime = new Map([...dirs].map((d) => [d, EPOCH - 800 * DAY]));
  for (const t of [...tasks, ...copies]) {
    const d = dirname(t.path);
    if (t.mtime > dirMtime.get(d)) dirMtime.set(d, t.mtime);
  }
  dirMtime.set('', EPOCH);
  return { tasks, copies, dirs: [...dirs].sort(), dirMtime };
}

/** relative generation cost, to balance workers */
function cost(t) {
  if (t.kind === 'random') return t.size * 0.05 + 20000;
  if (t.kind === 'vm') return t.size * 0.25;
  if (t.kind === 'db') return t.size * 0.5;
  return t.size + 20000;
}

function runWorker(root, seed, tasks) {
  return new Promise((resolvePromise, reject) => {
    const w = new Worker(new URL(import.meta.url), {
      workerData: { root, seed, tasks },
      resourceLimits: { maxYoungGenerationSizeMb: 64 },
    });
    w.once('message', resolvePromise);
    w.once('error', reject);
    w.once('exit', (code) => { if (code !== 0) reject(new Error(`worker exited with ${code}`)); });
  });
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.help || !o.dir) {
    console.log('usage: node bench/make-dataset.mjs DIR [--seed 42] [--scale 1] [--jobs N] [--quiet]');
    process.exit(o.help ? 0 : 2);
  }
  const root = resolve(o.dir);
  if (existsSync(root) && readdirSync(root).length > 0) {
    console.error(`make-dataset: ${root} exists and is not empty; refusing to write into it`);
    process.exit(1);
  }
  const t0 = performance.now();
  const plan = makePlan(o.seed, o.scale);
  for (const d of plan.dirs) mkdirSync(join(root, d), { recursive: true });

  // balance tasks over workers: biggest first, to the least loaded
  const order = plan.tasks.map((t, i) => [cost(t), i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  const buckets = Array.from({ length: o.jobs }, () => ({ load: 0, tasks: [] }));
  for (const [c, i] of order) {
    let b = buckets[0];
    for (const x of buckets) if (x.load < b.load) b = x;
    b.load += c;
    b.tasks.push(plan.tasks[i]);
  }
  if (o.jobs === 1) {
    for (const t of plan.tasks) runTask(o.seed, root, t);
  } else {
    await Promise.all(buckets.map((b) => runWorker(root, o.seed, b.tasks)));
  }
  const tGen = performance.now();
  for (const c of plan.copies) {
    copyFileSync(join(root, c.from), join(root, c.path));
    utimesSync(join(root, c.path), c.mtime, c.mtime);
  }
  // deepest first, so that setting a child's time does not disturb its parent afterwards
  const dirsDeepFirst = plan.dirs.slice().sort((a, b) => b.split('/').length - a.split('/').length || (a < b ? -1 : 1));
  for (const d of dirsDeepFirst) {
    const m = plan.dirMtime.get(d);
    utimesSync(join(root, d), m, m);
  }
  const t1 = performance.now();

  const parts = new Map();
  const add = (part, size) => {
    const p = parts.get(part) ?? { files: 0, bytes: 0 };
    p.files++; p.bytes += size;
    parts.set(part, p);
  };
  for (const t of plan.tasks) add(t.part, t.size);
  for (const c of plan.copies) add('dups', c.size);
  let files = 0, bytes = 0;
  const mib = (b) => (b / MiB).toFixed(1).padStart(8);
  if (!o.quiet) console.log(`make-dataset: ${root}  seed=${o.seed} scale=${o.scale} jobs=${o.jobs}`);
  for (const name of ['src', 'docs', 'logs', 'media', 'large', 'dups']) {
    const p = parts.get(name) ?? { files: 0, bytes: 0 };
    files += p.files; bytes += p.bytes;
    if (!o.quiet) console.log(`  ${(name + '/').padEnd(7)} ${String(p.files).padStart(7)} files ${mib(p.bytes)} MiB`);
  }
  console.log(`  total   ${String(files).padStart(7)} files ${mib(bytes)} MiB (${bytes} bytes) in ${plan.dirs.length} dirs`);
  console.log(`  time    ${((t1 - t0) / 1000).toFixed(1)} s (generate ${((tGen - t0) / 1000).toFixed(1)} s, copies+mtimes ${((t1 - tGen) / 1000).toFixed(1)} s)`);
}

if (isMainThread) {
  if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
    main().catch((e) => { console.error(e); process.exit(1); });
  }
} else {
  const { root, seed, tasks } = workerData;
  for (const t of tasks) runTask(seed, root, t);
  parentPort.postMessage('done');
}

