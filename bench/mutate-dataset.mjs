#!/usr/bin/env node
// A deterministic "day of work" on a tree made by bench/make-dataset.mjs (~1.5 % of the bytes).
//
//   node bench/mutate-dataset.mjs DIR [--seed 42] [--day 1]
//
// The same tree, seed and day give the same result (contents, names, mtimes). Apply days in
// order (1, 2, 3, ...) on a tree; each day's changes depend on the tree it finds. Amounts scale
// with the dataset's --scale (read from the size of large/vm-disk.img), with small minimums.

import {
  closeSync, existsSync, fstatSync, lstatSync, openSync, readFileSync, readSync, readdirSync, renameSync, rmSync,
  statSync, utimesSync, writeFileSync, writeSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import {
  CsvGen, DAY, DB_PAGE, EPOCH, KiB, LogGen, MiB, RandomBytes, Rng, SRC_EXT_WEIGHTS, SRC_EXTS, dbPage, dirName, makeTextGen,
  newWords, pickWeighted, srcFileName, srcFileSize, textBuffer, textBytes,
} from './lib-gen.mjs';

function parseArgs(argv) {
  const o = { dir: null, seed: '42', day: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--seed') o.seed = String(argv[++i]);
    else if (a === '--day') o.day = Number.parseInt(argv[++i], 10);
    else if (a === '-h' || a === '--help') o.help = true;
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else if (o.dir === null) o.dir = a;
    else throw new Error(`unexpected argument ${a}`);
  }
  if (!(o.day >= 1)) throw new Error('--day must be an integer >= 1');
  return o;
}

/** Sorted recursive listing: files [{rel, size}] and dirs [rel] (root excluded). */
function walk(root) {
  const files = [];
  const dirs = [];
  const rec = (rel) => {
    const names = readdirSync(join(root, rel)).sort();
    for (const n of names) {
      const r = rel ? `${rel}/${n}` : n;
      const st = lstatSync(join(root, r));
      if (st.isDirectory()) { dirs.push(r); rec(r); }
      else if (st.isFile()) files.push({ rel: r, size: st.size });
    }
  };
  rec('');
  return { files, dirs };
}

const extOf = (p) => { const b = basename(p); const i = b.lastIndexOf('.'); return i > 0 ? b.slice(i + 1) : ''; };
const fmtOf = (ext) => (SRC_EXTS.includes(ext) ? ext : 'md');

function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.help || !o.dir) {
    console.log('usage: node bench/mutate-dataset.mjs DIR [--seed 42] [--day 1]');
    process.exit(o.help ? 0 : 2);
  }
  const root = resolve(o.dir);
  const t0 = performance.now();
  const { seed, day } = o;
  const tag = `mutate\0day${day}`;
  const r = new Rng(seed, tag);
  const dayStart = EPOCH + (day - 1) * DAY + 8 * 3600;
  const dayEnd = dayStart + 10 * 3600;
  const tm = () => dayStart + r.int(10 * 3600);
  const abs = (rel) => join(root, rel);

  const before = walk(root);
  const treeBytes = before.files.reduce((a, f) => a + f.size, 0);
  const vmFile = before.files.find((f) => f.rel === 'large/vm-disk.img');
  const scale = vmFile ? vmFile.size / (448 * MiB) : 1;
  const scaled = (n, min = 1) => Math.max(min, Math.round(n * scale));
  const touchedDirs = new Set();
  const rep = [];
  let newBytes = 0;
  const note = (what, bytes, extra = '') => { rep.push([what, bytes, extra]); newBytes += bytes; };

  // 1. append to every log
  {
    const logs = before.files.filter((f) => f.rel.startsWith('logs/') && f.rel.endsWith('.log'));
    let total = 0;
    for (const f of logs) {
      const n = r.range(300 * KiB, 700 * KiB);
      const gen = new LogGen(new Rng(seed, `${tag}\0log\0${f.rel}`), dayStart * 1000 + r.int(3600 * 1000));
      const fd = openSync(abs(f.rel), 'a');
      writeSync(fd, textBytes(gen, n));
      closeSync(fd);
      utimesSync(abs(f.rel), dayEnd, dayEnd);
      total += n;
    }
    note(`appended to ${logs.length} logs`, total);
  }

  // 2. random 1 MiB overwrites in the VM image
  if (vmFile) {
    const regions = Math.floor(vmFile.size / MiB);
    const k = Math.min(regions, scaled(6));
    const rb = new RandomBytes(seed, `${tag}\0vm`);
    const fd = openSync(abs(vmFile.rel), 'r+');
    for (const i of r.sample(regions, k)) writeSync(fd, rb.take(MiB), 0, MiB, i * MiB);
    closeSync(fd);
    const m = tm();
    utimesSync(abs(vmFile.rel), m, m);
    note(`${k} x 1 MiB overwritten in ${vmFile.rel}`, k * MiB);
  }

  // 3. scattered 4 KiB page rewrites in the database file
  const dbFile = before.files.find((f) => f.rel === 'large/db.sqlite');
  if (dbFile) {
    const pages = Math.floor(dbFile.size / DB_PAGE);
    const k = Math.min(pages - 1, scaled(300));
    const pr = new Rng(seed, `${tag}\0db`);
    const w = newWords(pr);
    const buf = Buffer.alloc(DB_PAGE);
    const fd = openSync(abs(dbFile.rel), 'r+');
    const chosen = r.sample(pages - 1, k).map((i) => i + 1).sort((a, b) => a - b);
    for (const p of chosen) {
      dbPage(pr, w, p, buf, true);
      writeSync(fd, buf, 0, DB_PAGE, p * DB_PAGE);
    }
    closeSync(fd);
    const m = tm();
    utimesSync(abs(dbFile.rel), m, m);
    note(`${k} x 4 KiB pages rewritten in ${dbFile.rel}`, k * DB_PAGE);
  }

  // 4. 64 KiB of rows inserted in the middle of 2 csv docs
  {
    const csvs = before.files.filter((f) => f.rel.startsWith('docs/') && f.rel.endsWith('.csv'));
    let total = 0;
    let shifted = 0;
    const picked = r.sample(csvs.length, 2).map((i) => csvs[i]);
    for (const f of picked) {
      const fd = openSync(abs(f.rel), 'r+');
      const size = fstatSync(fd).size;
      const probe = Buffer.alloc(Math.min(64 * KiB, size));
      const mid = Math.floor(size / 2);
      const got = readSync(fd, probe, 0, probe.length, mid);
      const nl = probe.subarray(0, got).indexOf(10);
      const pos = nl < 0 ? size : mid + nl + 1;
      const tail = Buffer.alloc(size - pos);
      readSync(fd, tail, 0, tail.length, pos);
      const gen = new CsvGen(new Rng(seed, `${tag}\0csv\0${f.rel}`), 9_000_000 + day * 100_000);
      const block = textBytes(gen, 64 * KiB);
      writeSync(fd, Buffer.concat([block, tail]), 0, block.length + tail.length, pos);
      closeSync(fd);
      const m = tm();
      utimesSync(abs(f.rel), m, m);
      total += block.length;
      shifted += tail.length;
    }
    note(`64 KiB inserted mid-file in ${picked.length} csv docs`, total, `(${(shifted / MiB).toFixed(1)} MiB after the insertion point shifted)`);
  }

  // 5. ~1 % of src files edited in place
  const srcFiles = before.files.filter((f) => f.rel.startsWith('src/'));
  const edited = new Set();
  {
    const k = Math.max(1, Math.round(srcFiles.length * 0.01));
    let changed = 0;
    let delta = 0;
    for (const i of r.sample(srcFiles.length, k)) {
      const f = srcFiles[i];
      edited.add(f.rel);
      const lines = readFileSync(abs(f.rel), 'latin1').split('\n');
      const gen = makeTextGen(fmtOf(extOf(f.rel)), new Rng(seed, `${tag}\0edit\0${f.rel}`));
      const ops = r.range(1, 3);
      for (let j = 0; j < ops; j++) {
        const at = r.int(lines.length);
        const x = r.next();
        const fresh = gen.block().split('\n').filter((l) => l.length > 0);
        if (x < 0.5) {
          const add = fresh.slice(0, r.range(2, 12));
          lines.splice(at, 0, ...add);
          changed += add.join('\n').length + add.length;
        } else if (x < 0.8) {
          const line = fresh[0] ?? '';
          lines.splice(at, 1, line);
          changed += line.length + 1;
        } else {
          lines.splice(at, r.range(1, 5));
        }
      }
      const out = Buffer.from(lines.join('\n'), 'latin1');
      delta += out.length - f.size;
      writeFileSync(abs(f.rel), out);
      const m = tm();
      utimesSync(abs(f.rel), m, m);
    }
    note(`${k} src files edited`, changed, `(size ${delta >= 0 ? '+' : ''}${delta} B)`);
  }

  // 6. new src files and media files
  const added = new Set();
  {
    const srcDirs = ['src', ...before.dirs.filter((d) => d.startsWith('src/'))];
    const k = scaled(60);
    let total = 0;
    for (let i = 0; i < k; i++) {
      const dir = srcDirs[r.int(srcDirs.length)];
      const ext = pickWeighted(r, SRC_EXTS, SRC_EXT_WEIGHTS);
      let name = srcFileName(r, ext);
      for (let j = 2; existsSync(abs(`${dir}/${name}`)); j++) name = name.replace(/(-d\d+(-\d+)?)?\.(\w+)$/, `-d${day}-${j}.$3`);
      const rel = `${dir}/${name}`;
      const size = srcFileSize(r);
      writeFileSync(abs(rel), textBuffer(makeTextGen(ext, new Rng(seed, `${tag}\0new\0${rel}`)), size));
      const m = tm();
      utimesSync(abs(rel), m, m);
      touchedDirs.add(dir);
      added.add(rel);
      total += size;
    }
    note(`${k} src files added`, total);

    const mediaDir = existsSync(abs('media/photos')) ? 'media/photos' : 'media';
    const km = scaled(3);
    const size = Math.max(64 * KiB, Math.round((4 * MiB * Math.min(1, scale)) / 4096) * 4096);
    const rb = new RandomBytes(seed, `${tag}\0media`);
    let mtotal = 0;
    for (let i = 0; i < km; i++) {
      let rel = `${mediaDir}/IMG_d${String(day).padStart(3, '0')}_${i + 1}.jpg`;
      for (let j = 2; existsSync(abs(rel)); j++) rel = `${mediaDir}/IMG_d${String(day).padStart(3, '0')}_${i + 1}-${j}.jpg`;
      const fd = openSync(abs(rel), 'w');
      for (let left = size; left > 0; left -= Math.min(left, 4 * MiB)) writeSync(fd, rb.take(Math.min(left, 4 * MiB)));
      closeSync(fd);
      const m = tm();
      utimesSync(abs(rel), m, m);
      touchedDirs.add(mediaDir);
      added.add(rel);
      mtotal += size;
    }
    note(`${km} media files added`, mtotal);
  }

  // 7. deletions: ~40 files, mostly src, a couple of media files at full scale
  {
    const media = before.files.filter((f) => f.rel.startsWith('media/'));
    const nMedia = Math.min(media.length, Math.round(2 * scale));
    const nSrc = Math.max(1, scaled(40) - nMedia);
    const candidates = srcFiles.filter((f) => !edited.has(f.rel));
    const victims = [
      ...r.sample(candidates.length, nSrc).map((i) => candidates[i]),
      ...r.sample(media.length, nMedia).map((i) => media[i]),
    ];
    let bytes = 0;
    for (const f of victims) {
      rmSync(abs(f.rel));
      touchedDirs.add(dirname(f.rel));
      bytes += f.size;
    }
    rep.push([`${victims.length} files deleted`, 0, `(${(bytes / KiB).toFixed(1)} KiB removed)`]);
  }

  // directory mtimes for everything whose entries changed (before the rename, which moves paths)
  for (const d of [...touchedDirs].sort()) utimesSync(abs(d), dayEnd, dayEnd);

  // 8. rename one src directory (in place, same parent)
  {
    const deep = before.dirs.filter((d) => d.split('/').length >= 3);
    const pool = deep.length ? deep : before.dirs.filter((d) => d.startsWith('src/'));
    if (pool.length) {
      const from = pool[r.int(pool.length)];
      let to = `${from}-${dirName(r)}`;
      for (let j = 2; existsSync(abs(to)); j++) to = `${from}-${j}`;
      const own = statSync(abs(from)).mtimeMs / 1000;
      const inside = before.files.filter((f) => f.rel.startsWith(`${from}/`)).length;
      renameSync(abs(from), abs(to));
      utimesSync(abs(to), own, own);
      utimesSync(abs(dirname(from)), dayEnd, dayEnd);
      rep.push([`renamed ${from} -> ${basename(to)}`, 0, `(${inside} files below it)`]);
    }
  }

  const after = walk(root);
  const afterBytes = after.files.reduce((a, f) => a + f.size, 0);
  const t1 = performance.now();
  console.log(`mutate-dataset: ${root}  seed=${seed} day=${day} (dataset scale ~${scale.toFixed(3)})`);
  for (const [what, bytes, extra] of rep) {
    const amount = !bytes ? '' : bytes >= MiB ? `${(bytes / MiB).toFixed(2)} MiB` : `${(bytes / KiB).toFixed(1)} KiB`;
    console.log(`  ${what.padEnd(58)} ${amount.padStart(11)} ${extra}`);
  }
  console.log(`  new or changed bytes: ${newBytes} (${(newBytes / MiB).toFixed(1)} MiB, ${((100 * newBytes) / treeBytes).toFixed(2)} % of ${(treeBytes / MiB).toFixed(1)} MiB)`);
  console.log(`  tree before: ${before.files.length} files ${treeBytes} B; after: ${after.files.length} files ${afterBytes} B`);
  console.log(`  time ${((t1 - t0) / 1000).toFixed(1)} s`);
}

try {
  main();
} catch (e) {
  console.error(e);
  process.exit(1);
}
