// The diskprep step of `npm run bench`: `ferry diskprep` of a staging repository onto a directory disk
// against `cp -r` of the same files (data/, index/, snapshots/) to a directory on the same file system,
// caches dropped before each. Used by run-bench.mjs.
//
// Scheme: the staging repository is a Ferry repository of the pristine dataset (`ferry init` + `ferry
// backup`, untimed), with a FERRY-SEED.json naming a job of a fake job server in this process
// (fake-job-server.mjs: the three import-job routes, no rules). Per repetition (the order alternates):
// * diskprep: a fresh job and an empty disk folder; `ferry diskprep --staging S --disk D` timed whole
//   (process start, listing, copy with hashing and authentication, fsyncs, manifest, read-back verification
//   of the whole disk, registration). Its own per-phase rates are parsed from its output.
// * cp: `cp -r S/data S/index S/snapshots D2` timed, then `sync` timed right after (no cache drop in
//   between): "cp -r + sync" is the time until the copy is on the disk, which diskprep guarantees too.
import { rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startFakeJobServer } from './fake-job-server.mjs';
import { CARRIED, carried, median, rate, secs, tableRow as row } from './bench-util.mjs';

/** "disk 1: copying done, 38 files, 543.4 MiB in 0:02 (259.5 MiB/s)" → seconds of that phase (from the rate). */
function phaseSeconds(output, phase) {
  const m = new RegExp(`disk 1: ${phase} done, \\d+ files, ([\\d.]+) (B|KiB|MiB|GiB) in [\\d:]+ \\(([\\d.]+) (B|KiB|MiB|GiB)/s\\)`).exec(output);
  if (!m) return NaN;
  const unit = { B: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30 };
  return (Number(m[1]) * unit[m[2]]) / (Number(m[3]) * unit[m[4]]);
}

/**
 * Runs the diskprep comparison. `h` carries run-bench's helpers: `timedProcess(cmd, argv, opts)`,
 * `run(cmd, args, opts)`, `log(msg)`, `ferryBin`, `env` (FERRY_PASSWORD set, default KDF).
 */
export async function benchDiskprep({ reps, work, pristine, h }) {
  const staging = join(work, 'staging');
  const logDir = join(work, 'logs', 'diskprep');
  mkdirSync(logDir, { recursive: true });
  h.log(`diskprep: making the staging repository (ferry init + backup of the dataset, untimed)…`);
  rmSync(staging, { recursive: true, force: true });
  h.run(process.execPath, [h.ferryBin, 'init', '-r', staging], { env: h.env });
  h.run(process.execPath, [h.ferryBin, 'backup', '-r', staging, pristine], { env: h.env, maxBuffer: 256 * 1024 * 1024 });
  const size = carried(staging);
  const server = await startFakeJobServer();
  const results = [];
  try {
    for (let rep = 0; rep < reps; rep++) {
      const res = { rep: rep + 1 };
      const order = rep % 2 === 0 ? ['diskprep', 'cp'] : ['cp', 'diskprep'];
      for (const step of order) {
        const disk = join(work, `disk-${step}`);
        rmSync(disk, { recursive: true, force: true });
        mkdirSync(disk);
        if (step === 'diskprep') {
          const { job, token } = server.createJob(`bench-${rep + 1}`);
          writeFileSync(join(staging, 'FERRY-SEED.json'), JSON.stringify(server.seedFile(job, token)), { mode: 0o600 });
          rmSync(join(staging, 'diskprep'), { recursive: true, force: true });
          const r = await h.timedProcess(process.execPath, [h.ferryBin, 'diskprep', '--staging', staging, '--disk', disk], { env: h.env, cwd: work, name: `rep${rep + 1}-diskprep`, logDir, label: 'diskprep' });
          res.diskprep = { wall: r.wall, cpu: r.user + r.sys, rssKiB: r.rssKiB, copy: phaseSeconds(r.output, 'copying'), verify: phaseSeconds(r.output, 'verifying') };
        } else {
          const r = await h.timedProcess('cp', ['-r', ...CARRIED.map((f) => join(staging, f)), disk], { env: process.env, cwd: work, name: `rep${rep + 1}-cp`, logDir, label: 'cp' });
          const s = await h.timedProcess('sync', [], { env: process.env, cwd: work, name: `rep${rep + 1}-sync`, logDir, label: 'sync', dropCache: false });
          res.cp = { wall: r.wall, cpu: r.user + r.sys, sync: s.wall };
        }
        rmSync(disk, { recursive: true, force: true });
        const done = res[step];
        h.log(`  [rep ${rep + 1}/${reps}] ${step.padEnd(8)} ${done.wall.toFixed(2).padStart(7)} s${step === 'cp' ? ` (+ sync ${done.sync.toFixed(2)} s)` : ` (copy ${done.copy.toFixed(2)} s, verify ${done.verify.toFixed(2)} s, CPU ${done.cpu.toFixed(2)} s)`}`);
      }
      results.push(res);
    }
  } finally {
    await server.close();
    rmSync(join(staging, 'FERRY-SEED.json'), { force: true });
  }
  return { ...size, results };
}

/** The rows of the diskprep table (same columns as the Ferry-vs-restic table). */
export function diskprepRows(bench) {
  const { bytes, results } = bench;
  const med = (pick) => median(results.map(pick));
  const diskprep = med((r) => r.diskprep.wall);
  const cp = med((r) => r.cp.wall);
  const cpSync = med((r) => r.cp.wall + r.cp.sync);
  const copy = med((r) => r.diskprep.copy);
  const verify = med((r) => r.diskprep.verify);
  return [
    row('diskprep vs cp -r + sync', `${secs(diskprep)} (${rate(bytes, diskprep)})`, `${secs(cpSync)} (${rate(bytes, cpSync)})`, cpSync / diskprep, 'throughput diskprep÷(cp -r + sync) (higher is better)', 0.5),
    row('diskprep vs cp -r', `${secs(diskprep)} (${rate(bytes, diskprep)})`, `${secs(cp)} (${rate(bytes, cp)})`, cp / diskprep, 'throughput diskprep÷cp -r (higher is better)', 0),
    row('diskprep copy phase vs cp -r + sync', `${secs(copy)} (${rate(bytes, copy)})`, `${secs(cpSync)} (${rate(bytes, cpSync)})`, cpSync / copy, 'throughput: copy with hashing, authentication and fsync only', 0),
    row('diskprep verify phase (read-back)', `${secs(verify)} (${rate(bytes, verify)})`, '', NaN, 'throughput of reading back and authenticating the disk', 0),
    row('CPU time, user + system', secs(med((r) => r.diskprep.cpu)), secs(med((r) => r.cp.cpu)), med((r) => r.diskprep.cpu) / med((r) => r.cp.cpu), 'CPU diskprep÷cp -r', 0),
    row('CPU seconds per GB (user + system)', (med((r) => r.diskprep.cpu) / (bytes / 1e9)).toFixed(2), (med((r) => r.cp.cpu) / (bytes / 1e9)).toFixed(2), NaN, 'whole diskprep, per GB carried', 0),
    row('peak RSS, diskprep', `${(med((r) => r.diskprep.rssKiB) / 1024).toFixed(0)} MiB`, '', NaN, '', 0),
  ].map((r) => ({ ...r, target: r.target === '≥ 0.00' ? '' : r.target, result: r.target === '≥ 0.00' ? '' : r.result }));
}

/** Markdown lines of the diskprep section. */
export function diskprepMarkdown(bench, reps) {
  const L = [];
  L.push('### diskprep vs cp');
  L.push('');
  L.push(`Staging repository of the dataset: ${bench.files} files, ${(bench.bytes / 1e6).toFixed(1)} MB under data/, index/ and snapshots/; one directory disk on the same file system; medians over ${reps} repetition${reps > 1 ? 's' : ''}.`);
  L.push('');
  L.push('| step | diskprep | cp | ratio | ratio is | target | result |');
  L.push('| --- | --- | --- | --- | --- | --- | --- |');
  for (const r of diskprepRows(bench)) {
    L.push(`| ${r.step} | ${r.ferry} | ${r.other} | ${Number.isFinite(r.ratio) ? r.ratio.toFixed(2) : ''} | ${r.ratioIs} | ${r.target} | ${r.result} |`);
  }
  L.push('');
  L.push('Scheme: diskprep runs whole (`ferry diskprep --staging S --disk D`: listing, copy with SHA-256 and GMAC tags per segment (the tail encrypted), ' +
    'fsync of every file, manifest, read-back verification of every byte, registration with a fake job server in the bench ' +
    'process); cp is `cp -r S/data S/index S/snapshots D2`, then `sync` timed right after it. Caches are dropped before ' +
    'diskprep and before cp; the order alternates between repetitions.');
  return L;
}
