#!/usr/bin/env node
// CPU time and peak RSS of a full backup to a vault of a local `ferry serve` over HTTP: what HttpStorage's
// transport costs the backing-up process and the service (docs/PERFORMANCE.md, "HttpStorage on node:http").
//
//   node bench/vault-backup-bench.mjs DATASET [--reps 3]
//
// DATASET: a tree, e.g. from `node bench/make-dataset.mjs DIR --seed 42 --scale 0.1`. Each repetition backs
// it up into a new vault (a full backup) with `bin/ferry backup -r http://…/v1/vaults/ID`, timed with
// /usr/bin/time (user + system CPU seconds, peak RSS); the service's CPU seconds during the backup come from
// /proc. On a busy machine CPU seconds are the figure to compare; wall time is printed for completeness.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './bench-util.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ferryBin = join(root, 'bin', 'ferry');
const args = process.argv.slice(2);
const dataset = args[0];
const reps = Number(args[args.indexOf('--reps') + 1] || 3) || 3;
if (dataset === undefined || dataset.startsWith('--')) {
  process.stderr.write('usage: node bench/vault-backup-bench.mjs DATASET [--reps N]\n');
  process.exit(2);
}

const work = mkdtempSync(join(tmpdir(), 'ferry-vault-bench-'));
const env = { ...process.env, FERRY_PASSWORD: 'bench', FERRY_INSECURE_TEST_KDF: '1' };
const serve = spawn(process.execPath, [ferryBin, 'serve', '--data-dir', join(work, 'service'), '--listen', '127.0.0.1:0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
try {
  const url = await new Promise((done, fail) => {
    let out = '';
    const look = (chunk) => {
      out += chunk;
      const found = /https?:\/\/127\.0\.0\.1:\d+/.exec(out);
      if (found) done(found[0]);
    };
    serve.stdout.on('data', look);
    serve.stderr.on('data', look);
    serve.once('exit', (code) => fail(new Error(`ferry serve exited (${code}):\n${out}`)));
  });
  const admin = readFileSync(join(work, 'service', 'admin.token'), 'utf8').trim();
  const ferry = (argv, extra = {}) => execFileSync(process.execPath, [ferryBin, ...argv], { env: { ...env, FERRY_SERVER: url, FERRY_TOKEN: admin, ...extra }, encoding: 'utf8' });
  const json = (argv) => JSON.parse(ferry([...argv, '--json']).trim().split('\n').pop());
  json(['tenant', 'create', 'bench']);
  json(['storage-account', 'create', 'vaults', '--tenant', 'bench']);
  const results = [];
  for (let rep = 1; rep <= reps; rep++) {
    const vault = json(['vault', 'create', `bench-${rep}`, '--tenant', 'bench', '--storage-account', 'vaults']);
    const vaultUrl = `${url}/v1/vaults/${vault.id}`;
    ferry(['init', '-r', vaultUrl]);
    const serveBefore = cpuSeconds(serve.pid);
    const timing = join(work, `time-${rep}`);
    const started = process.hrtime.bigint();
    execFileSync('/usr/bin/time', ['-o', timing, '-f', '%U %S %M', process.execPath, ferryBin, 'backup', '-r', vaultUrl, dataset], {
      env: { ...env, FERRY_TOKEN: admin },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const wall = Number(process.hrtime.bigint() - started) / 1e9;
    const [user, sys, rssKiB] = readFileSync(timing, 'utf8').trim().split('\n').pop().split(' ').map(Number);
    const result = { wall, cpu: user + sys, user, sys, rssMiB: rssKiB / 1024, serveCpu: cpuSeconds(serve.pid) - serveBefore };
    results.push(result);
    process.stdout.write(
      `rep ${rep}: wall ${wall.toFixed(2)} s, backup CPU ${result.cpu.toFixed(2)} s (user ${user.toFixed(2)}, sys ${sys.toFixed(2)}), ` +
        `peak RSS ${result.rssMiB.toFixed(0)} MiB, service CPU ${result.serveCpu.toFixed(2)} s\n`,
    );
  }
  const med = (pick) => median(results.map(pick));
  process.stdout.write(
    `median of ${reps}: wall ${med((r) => r.wall).toFixed(2)} s, backup CPU ${med((r) => r.cpu).toFixed(2)} s ` +
      `(user ${med((r) => r.user).toFixed(2)}, sys ${med((r) => r.sys).toFixed(2)}), peak RSS ${med((r) => r.rssMiB).toFixed(0)} MiB, ` +
      `service CPU ${med((r) => r.serveCpu).toFixed(2)} s; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}\n`,
  );
} finally {
  serve.kill('SIGTERM');
  await new Promise((done) => (serve.exitCode !== null ? done() : serve.once('exit', done)));
  rmSync(work, { recursive: true, force: true });
}

/** user + system CPU seconds of a process so far, from /proc (clock ticks of 1/100 s). */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
