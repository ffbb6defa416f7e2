// The ingest step of `npm run bench`: `ferry datacenter ingest` of a prepared disk into a filesystem storage
// account of a real `ferry serve`, against a plain `cp -r` of the same disk files into the same storage
// account's directory, caches dropped before each. Used by run-bench.mjs.
//
// Scheme: a `ferry serve` in the work dir (its storage accounts are folders under its data dir), an admin,
// a tenant, a storage account "imports" and an operator token. The staging repository is the diskprep step's
// (WORK/staging: `ferry init` + `ferry backup` of the dataset), or made here the same way. Per repetition,
// untimed: a new vault and import job (one open job per vault), `ferry diskprep` of the staging repository
// onto one directory disk, `ferry job ship`, `ferry datacenter receive`. Then, in alternating order:
// * ingest: `ferry datacenter ingest JOB --disk D` timed whole (process start, label and manifest, key,
//   reading and authenticating every file, uploading it over HTTP to the service, which
//   hashes it against its name and writes it durably: temp file, fsync, rename). The service's CPU time
//   during the step is read from /proc.
// * cp: `cp -r D/files ACCOUNT/copy-N` timed, then `sync` timed right after it (the service fsyncs every
//   object, so "cp -r + sync" is the fair comparison; plain cp is shown too).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { carried, median, rate, secs, tableRow as row } from './bench-util.mjs';

/** Starts `ferry serve` on 127.0.0.1 and resolves with its URL, pid and a stop function. */
function startServe(h, dataDir) {
  const child = spawn(process.execPath, [h.ferryBin, 'serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...h.env, FERRY_LOG_LEVEL: 'warn' },
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ferry serve printed no URL within 30 s:\n${out}`));
    }, 30_000);
    const onData = () => {
      const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
      if (!url) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      resolve({
        url,
        pid: child.pid,
        stop: () => new Promise((done) => {
          if (child.exitCode !== null) return done();
          child.once('exit', () => done());
          child.kill('SIGTERM');
        }),
      });
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`ferry serve exited (${code}) before listening:\n${out}`)));
  });
}

/** User + system CPU seconds a process has used so far (/proc/PID/stat, clock ticks of 1/100 s). */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Runs the ingest comparison. `h` carries run-bench's helpers: `timedProcess(cmd, argv, opts)`,
 * `run(cmd, args, opts)`, `log(msg)`, `ferryBin`, `env` (FERRY_PASSWORD set).
 */
export async function benchIngest({ reps, work, pristine, h }) {
  const staging = join(work, 'staging');
  const logDir = join(work, 'logs', 'ingest');
  mkdirSync(logDir, { recursive: true });
  if (!existsSync(join(staging, 'config'))) {
    h.log('ingest: making the staging repository (ferry init + backup of the dataset, untimed)…');
    h.run(process.execPath, [h.ferryBin, 'init', '-r', staging], { env: h.env });
    h.run(process.execPath, [h.ferryBin, 'backup', '-r', staging, pristine], { env: h.env, maxBuffer: 256 * 1024 * 1024 });
  }
  rmSync(join(staging, 'FERRY-SEED.json'), { force: true });
  const size = carried(staging);
  const dataDir = join(work, 'ingest-service');
  const serve = await startServe(h, dataDir);
  const ferry = (args, token) => h.run(process.execPath, [h.ferryBin, ...args], { env: { ...h.env, FERRY_SERVER: serve.url, ...(token ? { FERRY_TOKEN: token } : {}) } });
  const json = (args, token) => JSON.parse(ferry([...args, '--json'], token).trim().split('\n').pop());
  const results = [];
  try {
    const admin = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
    json(['tenant', 'create', 'bench'], admin);
    const imports = json(['storage-account', 'create', 'imports', '--tenant', 'bench'], admin);
    json(['storage-account', 'create', 'vaults', '--tenant', 'bench'], admin);
    const operator = json(['token', 'create', '--role', 'operator'], admin).token;
    const account = join(dataDir, 'storage-accounts', imports.id);
    for (let rep = 0; rep < reps; rep++) {
      const name = `bench-${rep + 1}`;
      const vault = json(['vault', 'create', `server-${rep + 1}`, '--tenant', 'bench', '--storage-account', 'vaults'], admin);
      const created = await api(serve.url, admin, 'POST', `/v1/vaults/${vault.id}/import-jobs`, { name, storageAccount: 'imports', container: `import-${rep + 1}` });
      const seed = { format: 'ferry-seed', version: 1, server: serve.url, jobId: created.job.id, jobName: name, jobToken: created.jobToken, vault: { id: vault.id, name: vault.name } };
      writeFileSync(join(staging, 'FERRY-SEED.json'), JSON.stringify(seed), { mode: 0o600 });
      rmSync(join(staging, 'diskprep'), { recursive: true, force: true });
      const disk = join(work, 'ingest-disk');
      rmSync(disk, { recursive: true, force: true });
      mkdirSync(disk);
      h.log(`  [rep ${rep + 1}/${reps}] ingest: preparing the disk (diskprep, untimed)…`);
      h.run(process.execPath, [h.ferryBin, 'diskprep', '--staging', staging, '--disk', disk], { env: h.env });
      ferry(['job', 'ship', name, '--carrier', 'Bench', '--tracking', `BENCH-${Date.now()}-${rep}`, '--return-address', 'Bench'], admin);
      ferry(['datacenter', 'receive', name], operator);
      const res = { rep: rep + 1 };
      const order = rep % 2 === 0 ? ['ingest', 'cp'] : ['cp', 'ingest'];
      for (const step of order) {
        if (step === 'ingest') {
          // The timed step starts with a cache drop; the service's CPU is read around the whole step.
          const before = cpuSeconds(serve.pid);
          const r = await h.timedProcess(process.execPath, [h.ferryBin, 'datacenter', 'ingest', name, '--disk', disk], {
            env: { ...h.env, FERRY_SERVER: serve.url, FERRY_TOKEN: operator }, cwd: work, name: `rep${rep + 1}-ingest`, logDir, label: 'ingest',
          });
          if (!/import job \S+ is Completed/.test(r.output)) throw new Error(`ingest did not complete the job:\n${r.output}`);
          res.ingest = { wall: r.wall, cpu: r.user + r.sys, serveCpu: cpuSeconds(serve.pid) - before, rssKiB: r.rssKiB };
        } else {
          const target = join(account, `copy-${rep + 1}`);
          const r = await h.timedProcess('cp', ['-r', join(disk, 'files'), target], { env: process.env, cwd: work, name: `rep${rep + 1}-cp`, logDir, label: 'cp' });
          const s = await h.timedProcess('sync', [], { env: process.env, cwd: work, name: `rep${rep + 1}-sync`, logDir, label: 'sync', dropCache: false });
          res.cp = { wall: r.wall, cpu: r.user + r.sys, sync: s.wall };
          rmSync(target, { recursive: true, force: true });
        }
        const done = res[step];
        h.log(`  [rep ${rep + 1}/${reps}] ${step.padEnd(8)} ${done.wall.toFixed(2).padStart(7)} s${step === 'cp' ? ` (+ sync ${done.sync.toFixed(2)} s)` : ` (CPU ${done.cpu.toFixed(2)} s, service CPU ${done.serveCpu.toFixed(2)} s)`}`);
      }
      rmSync(join(account, `import-${rep + 1}`), { recursive: true, force: true });
      rmSync(disk, { recursive: true, force: true });
      results.push(res);
    }
  } finally {
    await serve.stop();
    rmSync(join(staging, 'FERRY-SEED.json'), { force: true });
    rmSync(join(staging, 'diskprep'), { recursive: true, force: true });
  }
  return { ...size, results };
}

async function api(url, token, method, path, body) {
  const response = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text);
}

/** The rows of the ingest table (same columns as the diskprep table). */
export function ingestRows(bench) {
  const { bytes, results } = bench;
  const med = (pick) => median(results.map(pick));
  const ingest = med((r) => r.ingest.wall);
  const cp = med((r) => r.cp.wall);
  const cpSync = med((r) => r.cp.wall + r.cp.sync);
  return [
    row('ingest vs cp -r + sync', `${secs(ingest)} (${rate(bytes, ingest)})`, `${secs(cpSync)} (${rate(bytes, cpSync)})`, cpSync / ingest, 'throughput ingest÷(cp -r + sync) (higher is better)', 0.5),
    row('ingest vs cp -r', `${secs(ingest)} (${rate(bytes, ingest)})`, `${secs(cp)} (${rate(bytes, cp)})`, cp / ingest, 'throughput ingest÷cp -r (higher is better)', 0),
    row('CPU time, ingest command', secs(med((r) => r.ingest.cpu)), secs(med((r) => r.cp.cpu)), med((r) => r.ingest.cpu) / med((r) => r.cp.cpu), 'CPU ingest÷cp -r', 0),
    row('CPU time, service during ingest', secs(med((r) => r.ingest.serveCpu)), '', NaN, 'receiving, hashing and writing the objects', 0),
    row('CPU seconds per GB, ingest + service', (med((r) => r.ingest.cpu + r.ingest.serveCpu) / (bytes / 1e9)).toFixed(2), (med((r) => r.cp.cpu) / (bytes / 1e9)).toFixed(2), NaN, 'user + system of both processes, per GB carried', 0),
    row('peak RSS, ingest command', `${(med((r) => r.ingest.rssKiB) / 1024).toFixed(0)} MiB`, '', NaN, '', 0),
  ];
}

/** Markdown lines of the ingest section. */
export function ingestMarkdown(bench, reps) {
  const L = [];
  L.push('### ingest vs cp');
  L.push('');
  L.push(`One disk made by diskprep from the staging repository of the dataset: ${bench.files} files, ${(bench.bytes / 1e6).toFixed(1)} MB of plaintext; ingested into a filesystem storage account of a \`ferry serve\` on 127.0.0.1, on the same file system; medians over ${reps} repetition${reps > 1 ? 's' : ''}.`);
  L.push('');
  L.push('| step | ingest | cp | ratio | ratio is | target | result |');
  L.push('| --- | --- | --- | --- | --- | --- | --- |');
  for (const r of ingestRows(bench)) {
    L.push(`| ${r.step} | ${r.ferry} | ${r.other} | ${Number.isFinite(r.ratio) ? r.ratio.toFixed(2) : ''} | ${r.ratioIs} | ${r.target} | ${r.result} |`);
  }
  L.push('');
  L.push('Scheme: `ferry datacenter ingest JOB --disk D` runs whole (label, manifest, key from the service, every file read ' +
    'and authenticated, uploaded over HTTP to the service, which hashes each object ' +
    'against its name and writes it durably into the storage account); cp is `cp -r D/files` into the same storage ' +
    "account's folder, then `sync` timed right after it. Caches are dropped before each; the order alternates.");
  return L;
}
