/**
 * `ferry demo`: the whole offline-seeding workflow on the embedded default, narrated step by step, in a
 * temporary directory. Every step is a real `ferry` command run as the role that would run it; the demo
 * checks what a user would check (two disks, the job's states, the incremental's size, the restore) and
 * fails loudly when something is off.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../../core/errors.js';
import { listStagingFiles } from '../../seed/staging-files.js';
import { FsStorage } from '../../storage/fs/fs-storage.js';
import { formatBytes } from '../format.js';
import { DemoRunner } from './demo-runner.js';
import { changeSampleTree, treeDifferences, treeDigest, writeSampleTree } from './sample-tree.js';

const PASSPHRASE = 'demo passphrase, not for real use';
const JOB = 'first-seed';
const STEPS = 12;

export interface DemoOptions {
  /** The demo's working directory (empty; the caller makes and removes it). */
  readonly workDir: string;
  readonly out: NodeJS.WritableStream;
  /** The environment the demo's commands start from. */
  readonly env: NodeJS.ProcessEnv;
  /** Leave the service running at the end (its output goes to workDir/service.log), for a look at the portal. */
  readonly keepService?: boolean;
}

interface SnapshotListing {
  readonly id: string;
  readonly summary?: { readonly data_added_packed: number };
}

interface JobListing {
  readonly state: string;
  readonly disks: readonly { readonly index: number; readonly state: string }[];
}

/** Runs the demo; resolves when every step passed, rejects with the step that failed. */
export async function runDemo(options: DemoOptions): Promise<void> {
  const dir = (name: string): string => join(options.workDir, name);
  const base = withoutFerryVariables(options.env);
  const runner = new DemoRunner(
    {
      admin: base,
      agent: { ...base, FERRY_STATE_DIR: dir('agent-state'), FERRY_PASSWORD: PASSPHRASE },
      'copy computer': base,
      datacenter: base,
    },
    options.out,
  );
  let step = 0;
  const say = (text: string): void => void options.out.write(`\n== ${++step}/${STEPS} ${text}\n`);
  const note = (text: string): void => void options.out.write(`   ${text}\n`);

  say(`A file server to protect: a sample folder in ${dir('file-server')}`);
  await writeSampleTree(dir('file-server'));

  say('The service starts (embedded default: SQLite and local files, nothing to install)');
  const serveArgs = ['serve', '--data-dir', dir('service'), '--listen', '127.0.0.1:0', '--shipping-address', 'Ferry demo datacenter\\nDock 1\\nHarbour Road 1'];
  const log = options.keepService ? await open(dir('service.log'), 'a') : undefined;
  const serve = runner.spawnLongRunning('admin', serveArgs, log?.fd);
  let keep = false;
  try {
    const url = log !== undefined ? await serviceUrlFromLog(dir('service.log'), serve) : await serviceUrl(serve);
    const adminToken = (await readFile(join(dir('service'), 'admin.token'), 'utf8')).trim();
    for (const role of ['admin', 'datacenter'] as const) runner.setEnv(role, 'FERRY_SERVER', url);
    runner.setEnv('admin', 'FERRY_TOKEN', adminToken);
    note(`the service listens on ${url}; its first admin token is in ${join(dir('service'), 'admin.token')}`);
    note(`the portal is at ${url}/ : sign in with a token, or once with ${url}${await signInLink(url, adminToken)} (valid 15 minutes)`);

    say('The admin creates a tenant, a storage account and a vault, and a credentials file for the file server');
    await runner.show('admin', ['tenant', 'create', 'acme']);
    await runner.show('admin', ['storage-account', 'create', 'files', '--tenant', 'acme']);
    await runner.show('admin', ['vault', 'create', 'fileserver', '--tenant', 'acme', '--storage-account', 'files']);
    await runner.show('admin', ['vault', 'credentials', 'fileserver', '--tenant', 'acme', '--out', dir('credentials.json')]);

    say('The file server registers with the vault (the passphrase never leaves it)');
    await runner.show('agent', ['register', '--credentials', dir('credentials.json')]);

    say('The file server starts an offline seed: the first backup goes to a staging location');
    await runner.show('agent', ['seed', 'start', '--staging', dir('staging'), '--storage-account', 'files', '--container', 'first-seed', '--job', JOB, '--paths', dir('file-server')]);
    await runner.show('agent', ['backup', dir('file-server')]);
    const seeded = await latestSnapshot(runner);

    say('The copy computer copies staging onto two encrypted disks (the keys go to the service, never onto a disk)');
    const disks = [dir('disk-1'), dir('disk-2')];
    for (const disk of disks) await mkdir(disk);
    const perDisk = await twoDiskLimit(dir('staging'));
    await runner.show('copy computer', ['diskprep', '--staging', dir('staging'), ...disks.flatMap((d) => ['--disk', d]), '--max-bytes-per-disk', String(perDisk)]);

    say('The disks are shipped: carrier and tracking number go on the import job');
    await runner.show('admin', ['job', 'ship', JOB, '--carrier', 'Demo Courier', '--tracking', 'DEMO 0001 2026', '--return-address', 'Acme IT, 1 Main Street, Springfield']);

    say('The datacenter receives the disks and ingests them, in any order, each verified against its manifest');
    const operator = JSON.parse(await runner.capture('admin', ['token', 'create', '--role', 'operator', '--json'])) as { token: string };
    runner.setEnv('datacenter', 'FERRY_TOKEN', operator.token);
    await runner.show('datacenter', ['datacenter', 'receive', JOB]);
    await runner.show('datacenter', ['datacenter', 'ingest', JOB, '--disk', disks[1]!, '--disk', disks[0]!]);
    const ingested = JSON.parse(await runner.capture('admin', ['job', 'show', JOB, '--json'])) as JobListing;
    if (ingested.state !== 'Completed') throw new UserError(`the demo expected the job Completed after ingest, it is ${ingested.state}`);
    note(`job ${JOB}: ${ingested.state}, ${ingested.disks.length} disks: ${ingested.disks.map((d) => `disk ${d.index + 1} ${d.state}`).join(', ')}`);

    say('A day of work on the file server, then its next backup: the vault adopts the seed, and the backup is incremental');
    const changed = await changeSampleTree(dir('file-server'));
    await runner.show('agent', ['backup', dir('file-server')]);
    const incremental = await latestSnapshot(runner);
    const full = seeded.summary?.data_added_packed ?? 0;
    const sent = incremental.summary?.data_added_packed ?? Number.NaN;
    note(`the full backup stored ${formatBytes(full)} (it travelled on the disks); this backup sent ${formatBytes(sent)} for ${formatBytes(changed)} of changes`);
    if (!(sent < full / 4)) throw new UserError(`the demo expected an incremental backup, but it sent ${formatBytes(sent)} of ${formatBytes(full)}`);

    say('Restore from the vault and compare with the file server, byte for byte');
    await runner.show('agent', ['restore', 'latest', '--target', dir('restored')]);
    const differences = treeDifferences(await treeDigest(dir('file-server')), await treeDigest(join(dir('restored'), dir('file-server'))));
    if (differences.length > 0) throw new UserError(`the restore differs from the file server: ${differences.slice(0, 5).join(', ')}`);
    note('the restore is identical: every file, folder and link, with modes and times');

    say('Every pack in the vault reads back and authenticates');
    await runner.show('agent', ['check', '--read-data']);

    say('Clean up: the staging location and the imported copy are no longer needed');
    await runner.show('agent', ['seed', 'cleanup', JOB, '--yes']);
    await runner.show('admin', ['job', 'show', JOB]);

    options.out.write(`\nThe whole offline-seeding flow worked. The service ran at ${url}.\n`);
    if (options.keepService) {
      options.out.write(`\nThe service keeps running (process ${serve.pid ?? '?'}, log in ${dir('service.log')}): stop it with kill ${serve.pid ?? ''}\n`);
      options.out.write(`The portal: ${url}/\nSign in once (valid 15 minutes): ${url}${await signInLink(url, adminToken)}\n`);
      serve.unref();
      keep = true;
    }
  } finally {
    await log?.close();
    if (!keep) await stopService(serve);
  }
}

/** A one-time portal sign-in link (its path) for the token: POST /v1/portal/sign-in-links. */
async function signInLink(url: string, token: string): Promise<string> {
  const response = await fetch(`${url}/v1/portal/sign-in-links`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  if (!response.ok) throw new UserError(`the service refused a portal sign-in link: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { path: string }).path;
}

/** Like {@link serviceUrl} for a service whose output goes to `logFile`: reads the file until the URL is in it. */
async function serviceUrlFromLog(logFile: string, serve: ChildProcess): Promise<string> {
  for (let waited = 0; waited < 20_000; waited += 100) {
    const url = /listening on (http:\/\/\S+)/.exec(await readFile(logFile, 'utf8'))?.[1];
    if (url !== undefined) return url;
    if (serve.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new UserError(`ferry serve printed no URL within 20 s: see ${logFile}`);
}

/** Stops `ferry serve` and waits until it has exited (its data folder is removed next). */
async function stopService(serve: ChildProcess): Promise<void> {
  if (serve.exitCode !== null || serve.signalCode !== null) return;
  const exited = once(serve, 'exit');
  serve.kill('SIGTERM');
  const timer = setTimeout(() => serve.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Resolves with the URL `ferry serve` prints once it listens; rejects when it exits first or takes > 20 s. */
function serviceUrl(serve: ChildProcess): Promise<string> {
  let output = '';
  let errors = '';
  serve.stderr?.on('data', (chunk: Buffer) => (errors += chunk.toString('utf8')));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new UserError(`ferry serve printed no URL within 20 s: ${errors.trim()}`)), 20_000);
    serve.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const url = /listening on (http:\/\/\S+)/.exec(output)?.[1];
      if (url !== undefined) {
        clearTimeout(timer);
        resolve(url);
      }
    });
    serve.on('exit', (code) => {
      clearTimeout(timer);
      reject(new UserError(`ferry serve exited (${code}) before it listened: ${errors.trim()}`));
    });
  });
}

async function latestSnapshot(runner: DemoRunner): Promise<SnapshotListing> {
  const snapshots = JSON.parse(await runner.capture('agent', ['snapshots', '--json'])) as SnapshotListing[];
  const latest = snapshots.at(-1);
  if (latest === undefined) throw new UserError('the demo expected a snapshot, there is none');
  return latest;
}

/**
 * A --max-bytes-per-disk that makes diskprep use exactly two disks: the smallest limit (in 64 KiB steps)
 * with which diskprep's placement (its own list of staging files, each onto the first disk with room) needs two,
 * counted with an upper bound of what each file costs on a disk (transport layer and manifest entry).
 */
async function twoDiskLimit(staging: string): Promise<number> {
  const storage = new FsStorage(staging);
  const files = await listStagingFiles(storage).finally(() => storage.close());
  const DISK_OVERHEAD = 16 * 1024;
  const cost = (size: number): number => size + 16 * Math.max(1, Math.ceil(size / 2 ** 20)) + 24 + 512;
  const disksNeeded = (limit: number): number => {
    let left = files;
    for (let disks = 1; ; disks++) {
      let room = limit - DISK_OVERHEAD;
      const rest = left.filter((file) => (cost(file.size) <= room ? ((room -= cost(file.size)), false) : true));
      if (rest.length === 0) return disks;
      if (rest.length === left.length) return Number.POSITIVE_INFINITY;
      left = rest;
    }
  };
  for (let limit = Math.max(...files.map((f) => cost(f.size))) + DISK_OVERHEAD; ; limit += 64 * 1024) {
    const needed = disksNeeded(limit);
    if (needed === 2) return limit;
    if (needed < 2) throw new UserError('the demo sample is too small to need two disks');
  }
}

/** The demo's commands find their server, token and repository only where the demo puts them. */
function withoutFerryVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith('FERRY_')));
}
