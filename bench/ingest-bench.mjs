// The ingest step of `npm run bench`: `ferry datacenter ingest` of a prepared disk into a filesystem storage
// account of a real `ferry serve`, both ways (uploaded over HTTP by the command, and read by the service
// itself with --on-service), against a plain `cp -r` of the same disk files into the same storage account's
// directory, caches dropped before each. Used by run-bench.mjs.
//
// Scheme: a `ferry serve --ingest-root WORK` in the work dir (its storage accounts are folders under its data
// dir), an admin, a tenant, a storage account "imports" and an operator token. The staging repository is the
// diskprep step's (WORK/staging: `ferry init` + `ferry backup` of the dataset), or made here the same way.
// Per repetition and per ingest, untimed: a new vault and import job (one open job per vault), `ferry
// diskprep` of the staging repository onto one directory disk, `ferry job ship`, `ferry datacenter receive`.
// Then, in an order that rotates between repetitions:
// * ingest: `ferry datacenter ingest JOB --disk D` timed whole (process start, label and manifest, key,
//   reading and authenticating every file, uploading it over HTTP to the service, which
//   hashes it against its name and writes it durably: temp file, fsync, rename). The service's CPU time
//   during the step is read from /proc.
// * on the service: `ferry datacenter ingest JOB --disk D --on-service` timed whole: the service reads the
//   disk itself (it is under its --ingest-root) and stores the files the same way, nothing is uploaded.
// * cp: `cp -r D/files ACCOUNT/copy-N` timed, then `sync` timed right after it (the service fsyncs every
//   object, so "cp -r + sync" is the fair comparison; plain cp is shown too).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { carried, median, rate, secs, tableRow as row } from './bench-util.mjs';

/** Starts `ferry serve` on 127.0.0.1 and resolves with its URL, pid and a stop function. */
function startServe(h, dataDir, ingestRoot) {
  const child = spawn(process.execPath, [h.ferryBin, 'serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--ingest-root', ingestRoot], {
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
 * `run(cmd, args, opts)`, `log(msg)`, `ferryBin`, `env` (FERRY_PASSWORD set), `discard(path)` (deletes, or
 * defers the delete to the end: no timed step follows a large delete).
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
  const serve = await startServe(h, dataDir, work);
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
    let jobs = 0;
    /** A new vault and import job, its disk made by diskprep from the staging repository, shipped and received (untimed). */
    const prepare = async (rep, disk) => {
      const name = `bench-${++jobs}`;
      const vault = json(['vault', 'create', `server-${jobs}`, '--tenant', 'bench', '--storage-account', 'vaults'], admin);
      const created = await api(serve.url, admin, 'POST', `/v1/vaults/${vault.id}/import-jobs`, { name, storageAccount: 'imports', container: `import-${jobs}` });
      const seed = { format: 'ferry-seed', version: 1, server: serve.url, jobId: created.job.id, jobName: name, jobToken: created.jobToken, vault: { id: vault.id, name: vault.name } };
      writeFileSync(join(staging, 'FERRY-SEED.json'), JSON.stringify(seed), { mode: 0o600 });
      rmSync(join(staging, 'diskprep'), { recursive: true, force: true });
      h.discard(disk);
      mkdirSync(disk);
      h.log(`  [rep ${rep + 1}/${reps}] ${name}: preparing the disk (diskprep, untimed)…`);
      h.run(process.execPath, [h.ferryBin, 'diskprep', '--staging', staging, '--disk', disk], { env: h.env });
      ferry(['job', 'ship', name, '--carrier', 'Bench', '--tracking', `BENCH-${Date.now()}-${jobs}`, '--return-address', 'Bench'], admin);
      ferry(['datacenter', 'receive', name], operator);
      return { name, container: `import-${jobs}` };
    };
    const STEPS = ['ingest', 'service', 'cp'];
    for (let rep = 0; rep < reps; rep++) {
      const disk = join(work, 'ingest-disk');
      const res = { rep: rep + 1 };
      const order = STEPS.map((_, i) => STEPS[(i + rep) % STEPS.length]);
      for (const step of order) {
        if (step === 'ingest' || step === 'service') {
          const job = await prepare(rep, disk);
          // The timed step starts with a cache drop; the service's CPU is read around the whole step.
          const before = cpuSeconds(serve.pid);
          const r = await h.timedProcess(process.execPath, [h.ferryBin, 'datacenter', 'ingest', job.name, '--disk', disk, ...(step === 'service' ? ['--on-service'] : [])], {
            env: { ...h.env, FERRY_SERVER: serve.url, FERRY_TOKEN: operator }, cwd: work, name: `rep${rep + 1}-${step}`, logDir, label: step === 'service' ? 'ingest on the service' : 'ingest',
          });
          if (!/import job \S+ is Completed/.test(r.output)) throw new Error(`ingest did not complete the job:\n${r.output}`);
          res[step] = { wall: r.wall, cpu: r.user + r.sys, serveCpu: cpuSeconds(serve.pid) - before, rssKiB: r.rssKiB };
          h.discard(join(account, job.container));
        } else {
          if (!existsSync(join(disk, 'files'))) await prepare(rep, disk);
          const target = join(account, `copy-${rep + 1}`);
          const r = await h.timedProcess('cp', ['-r', join(disk, 'files'), target], { env: process.env, cwd: work, name: `rep${rep + 1}-cp`, logDir, label: 'cp' });
          const s = await h.timedProcess('sync', [], { env: process.env, cwd: work, name: `rep${rep + 1}-sync`, logDir, label: 'sync', dropCache: false });
          res.cp = { wall: r.wall, cpu: r.user + r.sys, sync: s.wall };
          h.discard(target);
        }
        const done = res[step];
        h.log(`  [rep ${rep + 1}/${reps}] ${step.padEnd(8)} ${done.wall.toFixed(2).padStart(7)} s${step === 'cp' ? ` (+ sync ${done.sync.toFixed(2)} s)` : ` (CPU ${done.cpu.toFixed(2)} s, service CPU ${done.serveCpu.toFixed(2)} s)`}`);
      }
      h.discard(disk);
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
  const onService = med((r) => r.service.wall);
  const ingest = med((r) => r.ingest.wall);
  const cp = med((r) => r.cp.wall);
  const cpSync = med((r) => r.cp.wall + r.cp.sync);
  const perGb = (step) => (med((r) => r[step].cpu + r[step].serveCpu) / (bytes / 1e9)).toFixed(2);
  return [
    row('ingest on the service vs cp -r + sync', `${secs(onService)} (${rate(bytes, onService)})`, `${secs(cpSync)} (${rate(bytes, cpSync)})`, cpSync / onService, 'throughput ingest --on-service÷(cp -r + sync) (higher is better)', 0.5),
    row('ingest over HTTP vs cp -r + sync', `${secs(ingest)} (${rate(bytes, ingest)})`, `${secs(cpSync)} (${rate(bytes, cpSync)})`, cpSync / ingest, 'throughput ingest÷(cp -r + sync), uploaded by the command (higher is better)', 0),
    row('ingest on the service vs cp -r', `${secs(onService)} (${rate(bytes, onService)})`, `${secs(cp)} (${rate(bytes, cp)})`, cp / onService, 'throughput ingest --on-service÷cp -r (higher is better)', 0),
    row('CPU time on the service: command + service', `${secs(med((r) => r.service.cpu))} + ${secs(med((r) => r.service.serveCpu))}`, secs(med((r) => r.cp.cpu)), med((r) => r.service.cpu + r.service.serveCpu) / med((r) => r.cp.cpu), 'CPU (command + service)÷cp -r', 0),
    row('CPU time over HTTP: command + service', `${secs(med((r) => r.ingest.cpu))} + ${secs(med((r) => r.ingest.serveCpu))}`, secs(med((r) => r.cp.cpu)), med((r) => r.ingest.cpu + r.ingest.serveCpu) / med((r) => r.cp.cpu), 'CPU (command + service)÷cp -r', 0),
    row('CPU seconds per GB, on the service; over HTTP', `${perGb('service')}; ${perGb('ingest')}`, (med((r) => r.cp.cpu) / (bytes / 1e9)).toFixed(2), NaN, 'user + system of both processes, per GB carried', 0),
    row('peak RSS of the command, over HTTP', `${(med((r) => r.ingest.rssKiB) / 1024).toFixed(0)} MiB`, '', NaN, '', 0),
  ];
}

/** Markdown lines of the ingest section. */
export function ingestMarkdown(bench, reps) {
  const L = [];
  L.push('### ingest vs cp');
  L.push('');
  L.push(`One disk made by diskprep from the staging repository of the dataset: ${bench.files} files, ${(bench.bytes / 1e6).toFixed(1)} MB of plaintext; ingested into a filesystem storage account of a \`ferry serve --ingest-root\` on 127.0.0.1, on the same file system, read by the service itself (\`--on-service\`) and uploaded over HTTP by the command; medians over ${reps} repetition${reps > 1 ? 's' : ''}.`);
  L.push('');
  L.push('| step | ingest | cp | ratio | ratio is | target | result |');
  L.push('| --- | --- | --- | --- | --- | --- | --- |');
  for (const r of ingestRows(bench)) {
    L.push(`| ${r.step} | ${r.ferry} | ${r.other} | ${Number.isFinite(r.ratio) ? r.ratio.toFixed(2) : ''} | ${r.ratioIs} | ${r.target} | ${r.result} |`);
  }
  L.push('');
  L.push('Scheme: `ferry datacenter ingest JOB --disk D` runs whole (label, manifest, key from the service, every file read ' +
    'and authenticated, uploaded over HTTP to the service, which hashes each object ' +
    'against its name and writes it durably into the storage account); with `--on-service` the service does the same ' +
    'itself, from the disk under its `--ingest-root`, without uploads; cp is `cp -r D/files` into the same storage ' +
    "account's folder, then `sync` timed right after it. Caches are dropped before each; the order rotates.");
  return L;
}
