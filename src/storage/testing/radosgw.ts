/**
 * Ceph's S3 gateway (radosgw, Debian 12's Ceph 16.2) for tests: a throwaway one-node cluster — one monitor,
 * one OSD on memstore (in memory), no manager, no authentication between the daemons — and radosgw on a
 * free 127.0.0.1 port, everything in a temp folder. Started once per test process (about 2 s), stopped by
 * PID when the process's tests end; the cluster is discarded.
 *
 * Measured pitfalls this follows: `ms mon client mode = crc` (else radosgw hangs at start), `paxos propose
 * interval = 0.05` (else each monitor command takes about a second), 8 placement groups per pool with the
 * autoscaler off (no manager runs it), and the OSD registered through an OSD map given to the monitor's
 * mkfs, so that no `ceph` command (a slow Python client) is needed. Daemons are stopped by PID and
 * waited for through /proc (a process nobody reaps stays a zombie, which `kill -0` takes as alive).
 *
 * In CI (CI=true) a radosgw that is missing or does not start fails the tests; elsewhere they are skipped,
 * with the reason, only when the Debian packages radosgw, ceph-mon and ceph-osd are not installed.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The programs the cluster needs (Debian packages radosgw, ceph-mon, ceph-osd; ceph-base brings the map tools). */
const PROGRAMS = ['/usr/bin/radosgw', '/usr/bin/radosgw-admin', '/usr/bin/ceph-mon', '/usr/bin/ceph-osd', '/usr/bin/monmaptool', '/usr/bin/osdmaptool'];
const START_TIMEOUT_MS = 60_000;
/** The S3 user the tests sign in as (a throwaway cluster's: not a secret). */
const ACCESS_KEY = 'FERRYTESTACCESSKEY01';
const SECRET_KEY = 'ferry-test-secret-key-of-a-throwaway-cluster';

export interface Radosgw {
  readonly port: number;
  /** `http://127.0.0.1:PORT`. */
  readonly endpoint: string;
  /** The environment a Ferry process needs to reach this radosgw (optionally through another endpoint, e.g. a fault proxy). */
  envFor(endpoint?: string): S3TestEnv;
  readonly env: S3TestEnv;
  /** A fresh bucket name, for a test that needs its own. */
  newBucket(): string;
  /**
   * Kills the gateway (radosgw) by its PID, keeping the cluster that holds the data: the store is
   * unreachable until `restart`. Requests in flight are cut off, as when a gateway crashes.
   */
  halt(): Promise<void>;
  /** Starts the gateway again on the same port over the same cluster, after `halt`; resolves once it answers. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export type S3TestEnv = {
  readonly AWS_ACCESS_KEY_ID: string;
  readonly AWS_SECRET_ACCESS_KEY: string;
  readonly AWS_REGION: string;
  readonly AWS_ENDPOINT_URL_S3: string;
};

/** Why radosgw tests are skipped here, or false when they run (CI=true never skips: a missing radosgw fails). */
export function radosgwSkipReason(env: NodeJS.ProcessEnv = process.env): string | false {
  const missing = PROGRAMS.filter((program) => !existsSync(program));
  if (missing.length === 0 || env.CI === 'true') return false;
  return `Ceph is not installed (${missing.join(', ')} missing): apt-get install radosgw ceph-mon ceph-osd to test the S3 back end`;
}

/**
 * Registers (with node:test's `after`, so call it at a test file's top level or in a `describe` body) the
 * stop of a radosgw that the returned function starts on its first call and hands to every later one. The
 * returned promise rejects, and so fails the test awaiting it, when Ceph is missing or does not start.
 */
export function useRadosgw(): () => Promise<Radosgw> {
  let started: Promise<Radosgw> | undefined;
  after(async () => {
    if (started) await (await started.catch(() => undefined))?.stop();
  });
  return () => (started ??= startRadosgw());
}

/** Starts a one-node Ceph cluster and radosgw in a temp folder; rejects (with the daemons' logs) when it does not come up. */
export async function startRadosgw(): Promise<Radosgw> {
  const missing = PROGRAMS.filter((program) => !existsSync(program));
  if (missing.length > 0) throw new Error(`Ceph is not installed (${missing.join(', ')} missing): apt-get install radosgw ceph-mon ceph-osd`);
  const dir = await mkdtemp(join(tmpdir(), 'ferry-radosgw-'));
  const daemons: ChildProcess[] = [];
  const killOnExit = (): void => {
    for (const daemon of daemons) daemon.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const stop = async (): Promise<void> => {
    process.removeListener('exit', killOnExit);
    // A throwaway cluster in memory: nothing to flush, so no graceful shutdown (an OSD takes seconds for it).
    await Promise.all(daemons.map((daemon) => stopDaemon(daemon)));
    await rm(dir, { recursive: true, force: true });
  };
  let port = 0;
  const conf = join(dir, 'ceph.conf');
  let gateway: ChildProcess | undefined;
  const startGateway = async (): Promise<void> => {
    gateway = spawnDaemon('radosgw', ['-c', conf, '-n', 'client.rgw', '-f']);
    daemons.push(gateway);
    await waitForHttp(`http://127.0.0.1:${port}/`, gateway);
  };
  try {
    const monPort = await freePort();
    port = await freePort();
    const fsid = randomUUID();
    await writeFile(conf, cephConf(dir, fsid, monPort, port));
    for (const sub of ['run', 'log', 'mon', 'osd/osd.0']) await mkdir(join(dir, sub), { recursive: true });
    await run('monmaptool', ['--create', '--addv', 'a', `[v2:127.0.0.1:${monPort}]`, '--fsid', fsid, join(dir, 'monmap')]);
    // The OSD map names osd.0 (from the configuration's [osd.0]), so the OSD boots without `ceph osd new`.
    await run('osdmaptool', ['-c', conf, '--create-from-conf', '--clobber', join(dir, 'osdmap')]);
    await run('ceph-mon', ['-c', conf, '--mkfs', '-i', 'a', '--monmap', join(dir, 'monmap'), '--osdmap', join(dir, 'osdmap')]);
    daemons.push(spawnDaemon('ceph-mon', ['-c', conf, '-i', 'a', '-f']));
    await run('ceph-osd', ['-c', conf, '-i', '0', '--mkfs', '--osd-uuid', randomUUID()]);
    daemons.push(spawnDaemon('ceph-osd', ['-c', conf, '-i', '0', '-f']));
    // Creates the gateway's pools too, which waits for the OSD to be up.
    await run('radosgw-admin', ['-c', conf, '-n', 'client.rgw', 'user', 'create', '--uid=ferry', '--display-name=ferry', `--access-key=${ACCESS_KEY}`, `--secret-key=${SECRET_KEY}`], {
      timeout: START_TIMEOUT_MS,
    });
    await startGateway();
  } catch (err) {
    const logs = await daemonLogs(dir);
    await stop();
    throw new Error(`radosgw did not start: ${(err as Error).message}\n${logs}`, { cause: err });
  }
  const endpoint = `http://127.0.0.1:${port}`;
  const envFor = (at = endpoint): S3TestEnv => ({ AWS_ACCESS_KEY_ID: ACCESS_KEY, AWS_SECRET_ACCESS_KEY: SECRET_KEY, AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_S3: at });
  return {
    port,
    endpoint,
    envFor,
    env: envFor(),
    newBucket: () => `t-${randomBytes(8).toString('hex')}`,
    halt: async () => {
      if (gateway) await stopDaemon(gateway);
    },
    restart: async () => {
      if (isRunning(gateway?.pid)) throw new Error('radosgw is running: halt it before restarting it');
      await startGateway();
    },
    stop,
  };
}

function cephConf(dir: string, fsid: string, monPort: number, port: number): string {
  return `[global]
fsid = ${fsid}
mon host = v2:127.0.0.1:${monPort}
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
keyring = /dev/null
ms mon client mode = crc
paxos propose interval = 0.05
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
run dir = ${dir}/run
pid file = ${dir}/run/$name.pid
admin socket = ${dir}/run/$name.asok
log file = ${dir}/log/$name.log
[mon]
mon data = ${dir}/mon/$name
mon cluster log file = ${dir}/log/cluster.log
[osd]
osd objectstore = memstore
osd data = ${dir}/osd/$name
memstore device bytes = 1073741824
[osd.0]
host = localhost
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:${port}
rgw data = ${dir}/rgw
rgw thread pool size = 32
rgw enable usage log = false
`;
}

function spawnDaemon(program: string, args: string[]): ChildProcess {
  const child = spawn(program, args, { stdio: 'ignore' });
  child.on('error', () => {});
  return child;
}

/** A port that was free a moment ago (the daemons bind it themselves). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitForHttp(url: string, gateway: ChildProcess): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (!isRunning(gateway.pid)) throw new Error(`radosgw exited (${gateway.signalCode ?? `code ${String(gateway.exitCode)}`})`);
    try {
      const response = await fetch(url);
      await response.body?.cancel();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`radosgw did not answer at ${url} within ${START_TIMEOUT_MS} ms`);
    await sleep(50);
  }
}

/** True while `pid` is a process that has not ended: a zombie (ended, not yet reaped) counts as ended. */
export function isRunning(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  // "PID (comm) STATE …": comm may hold spaces and parentheses, the state follows the last ')'.
  const state = stat.charAt(stat.lastIndexOf(')') + 2);
  return state !== '' && state !== 'Z' && state !== 'X';
}

/** Kills a daemon by its PID and waits until /proc says it is gone (or a zombie). */
async function stopDaemon(daemon: ChildProcess): Promise<void> {
  if (!isRunning(daemon.pid)) return;
  daemon.kill('SIGKILL');
  while (isRunning(daemon.pid)) await sleep(10);
}

async function daemonLogs(dir: string): Promise<string> {
  const parts: string[] = [];
  for (const name of ['mon.a', 'osd.0', 'client.rgw']) {
    const text = await readFile(join(dir, 'log', `${name}.log`), 'utf8').catch(() => '');
    parts.push(`--- ${name} (last lines) ---\n${text.split('\n').slice(-15).join('\n')}`);
  }
  return parts.join('\n');
}
