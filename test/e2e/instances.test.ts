// Several `ferry serve` processes (bin/ferry) on one PostgreSQL database and one shared storage folder behave
// as one service: background work is claimed through the database and taken over when an instance is
// SIGKILLed mid-task (stopped at a test-only pause point: src/service/pause-points.ts), each task done exactly
// once; the failed-authentication throttle counts across instances; tokens and portal sessions made on one
// instance are honoured, and once revoked refused, by the other; two agents' uploads of one vault's config
// racing through both instances end with one stored and the other refused (the store's create-only write).
// Needs the server of FERRY_TEST_POSTGRES_URL (skipped without it, failing in CI). The records are set up
// in-process on the same database.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { access, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join, relative } from 'node:path';
import { after, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { Principal } from '../../src/service/auth/principal.js';
import { migrateToLatest, openServiceDatabase, type ServiceDatabase } from '../../src/service/db/database.js';
import { readJob, type JobRecord } from '../../src/service/jobs/job-records.js';
import { changeImportJob } from '../../src/service/jobs/job-store.js';
import { PAUSE_AT_ENV, PAUSE_DIR_ENV, type PausePoint } from '../../src/service/pause-points.js';
import { openImportStorage } from '../../src/service/resources/import-adoption.js';
import { createImportJob } from '../../src/service/resources/import-jobs.js';
import { createRegistrationCode } from '../../src/service/resources/registration-codes.js';
import { registerMachine } from '../../src/service/resources/registration.js';
import { createStorageAccount } from '../../src/service/resources/storage-accounts.js';
import { createTenant } from '../../src/service/resources/tenants.js';
import { createVault } from '../../src/service/resources/vaults.js';
import { ServiceKey } from '../../src/service/secrets/service-key.js';
import { driveJob, prepareDisks, storeOf, TEST_ACTOR } from '../../src/service/testing/import-job-fixtures.js';
import { shapedObject } from '../../src/service/vault-objects/testing/shaped-objects.js';
import { serviceFixtureOn, type ServiceFixture } from '../../src/service/testing/service-fixture.js';
import { postgresServerForTest } from '../../src/service/testing/test-database.js';
import { makeTempDir, type TempDir } from './harness.js';
import { startServe, type ServeProcess } from './service-harness.js';

const DAY = 86_400_000;
/** Short leases and polls: a takeover within about two seconds. */
const LEASE_MS = 2000;
const WORKER_ARGS = ['--worker-lease', `${LEASE_MS}ms`, '--adoption-poll', '100ms', '--sweep-interval', '200ms', '--never-received-after', '1d'];

interface Instance {
  readonly name: string;
  readonly serve: ServeProcess;
  readonly pauseDir: string;
}

interface Env {
  readonly url: string;
  readonly tmp: TempDir;
  readonly db: ServiceDatabase;
  readonly f: ServiceFixture;
  readonly admin: Principal;
  readonly adminToken: string;
  readonly tenantId: string;
  readonly accountId: string;
  readonly keyFile: string;
  readonly shared: string;
}

describe('several ferry serve instances on one PostgreSQL database', { timeout: 120_000 }, () => {
  let env: Env | undefined;
  let admin: pg.Client | undefined;
  let database = '';
  const serves: ServeProcess[] = [];
  /** Instances a test left running for the next (each start of bin/ferry costs about a second). */
  const spare: ServeProcess[] = [];
  after(async () => {
    for (const serve of serves) await serve.stop('SIGKILL');
    await env?.f.close();
    await env?.db.destroy();
    if (admin !== undefined) {
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
    }
    await env?.tmp.cleanup();
  });

  /** Once per file: a fresh database, the shared folder, the service key, a tenant and its storage account; undefined when skipped. */
  async function setUp(t: TestContext): Promise<Env | undefined> {
    if (env !== undefined) return env;
    const server = postgresServerForTest(t);
    if (server === undefined) return undefined;
    database = `ferry_e2e_instances_${process.pid}`;
    admin = new pg.Client({ connectionString: server });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`);
    const url = new URL(server);
    url.pathname = `/${database}`;
    const tmp = await makeTempDir('ferry-e2e-instances-');
    const keyBytes = randomBytes(32);
    const keyFile = join(tmp.path, 'service.key');
    await writeFile(keyFile, `${keyBytes.toString('base64')}\n`, { mode: 0o600 });
    const db = await openServiceDatabase({ kind: 'postgres', url: url.toString() }, { poolSize: 2 });
    await migrateToLatest(db);
    // The records are made 30 days ago: every tracking deadline (14 days) has passed for the instances.
    const f = serviceFixtureOn(db, { dataDir: join(tmp.path, 'setup'), serviceKey: new ServiceKey(keyBytes), startMs: Date.now() - 30 * DAY });
    const adminIssued = await f.token({ role: 'admin', lifetimeMs: 365 * DAY });
    const principal: Principal = { tokenId: adminIssued.id, role: 'admin', expiresAt: adminIssued.expiresAt };
    const tenant = await createTenant(f.ctx, principal, 'acme');
    const shared = join(tmp.path, 'shared');
    await mkdir(shared);
    const account = await createStorageAccount(f.ctx, principal, tenant.id, { name: 'files', backend: `fs:${join(shared, 'files')}` });
    env = { url: url.toString(), tmp, db, f, admin: principal, adminToken: adminIssued.token, tenantId: tenant.id, accountId: account.id, keyFile, shared };
    return env;
  }

  /** A vault with an import job whose one disk is prepared (the job is `Creating`, its tracking deadline passed). */
  async function preparedJob(e: Env, name: string): Promise<JobRecord> {
    const vault = await createVault(e.f.ctx, e.admin, e.tenantId, { name, storageAccountId: e.accountId });
    const created = await createImportJob(e.f.ctx, e.admin, vault.id, { name: `${name}-seed`, storageAccountId: e.accountId, container: `${name}-seed` });
    return prepareDisks(e.f, created.job.id, 1);
  }

  /** Starts an instance on the shared database and key; with `pauseAt`, it stops there (pause files in its own folder). */
  async function instance(e: Env, name: string, pauseAt?: PausePoint): Promise<Instance> {
    const pauseDir = join(e.tmp.path, `pause-${name}`);
    await mkdir(pauseDir, { recursive: true });
    const serve = await startServe(
      join(e.tmp.path, name),
      ['--database', e.url, '--service-key-file', e.keyFile, ...WORKER_ARGS],
      pauseAt === undefined ? {} : { [PAUSE_AT_ENV]: pauseAt, [PAUSE_DIR_ENV]: pauseDir },
    );
    serves.push(serve);
    return { name, serve, pauseDir };
  }

  /**
   * Starts two instances that both pause at `point`; the first to get there (it claimed the task) is
   * SIGKILLed there once `whilePaused` ran, and the other is told not to pause. Returns both.
   */
  async function killFirstToPause(e: Env, names: [string, string], point: PausePoint, whilePaused: (killed: Instance, other: Instance) => Promise<void>): Promise<{ killed: Instance; other: Instance }> {
    const both = await Promise.all(names.map((name) => instance(e, name, point)));
    let first: Instance | undefined;
    await eventually(`an instance paused at ${point}`, async () => {
      for (const x of both) if (await reached(x.pauseDir, point)) first = x;
      return first !== undefined;
    });
    const killed = first!;
    const other = both.find((x) => x !== killed)!;
    await whilePaused(killed, other);
    assert.equal((await killed.serve.stop('SIGKILL')).signal, 'SIGKILL');
    await writeFile(join(other.pauseDir, `${point}.go`), '');
    return { killed, other };
  }

  /** Polls until `check` holds (10 s at most). */
  async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`not within 10 s: ${what}`);
      await sleep(50);
    }
  }

  const reached = (pauseDir: string, point: PausePoint): Promise<boolean> =>
    access(join(pauseDir, `${point}.reached`)).then(
      () => true,
      () => false,
    );
  const jobOf = async (e: Env, id: string): Promise<JobRecord> => (await readJob(e.db, id))!.job;
  /** The actions of a job's timeline, and of the audit records about it. */
  async function recorded(e: Env, id: string): Promise<{ timeline: string[]; audit: string[] }> {
    const events = await e.db.selectFrom('job_events').select(['action', 'actor']).where('job_id', '=', id).orderBy('seq').execute();
    const audit = await e.db.selectFrom('audit_records').select('action').where('target_id', '=', id).orderBy('created_at').orderBy('action').execute();
    return { timeline: events.map((x) => `${x.action} by ${x.actor}`), audit: audit.map((x) => x.action) };
  }

  it('an instance killed mid-sweep: the other takes the sweep over once its lease lapsed, each job changed once', async (t) => {
    const e = await setUp(t);
    if (e === undefined) return;
    const started = Date.now();
    const overdue = [await preparedJob(e, 'sweep-1'), await preparedJob(e, 'sweep-2')];
    const waiting = await driveJob(e.f, (await preparedJob(e, 'sweep-3')).id, 'Received');

    // The instance that claimed the sweep deleted the first overdue job and holds the lease: the other leaves the rest to it.
    const { killed, other } = await killFirstToPause(e, ['sweep-a', 'sweep-b'], 'sweep-job-changed', async () => {
      assert.equal((await jobOf(e, overdue[0]!.id)).state, 'Deleted');
      assert.equal((await jobOf(e, overdue[1]!.id)).state, 'Creating', 'nobody sweeps while the lease is held');
    });

    await eventually('the other instance finished the sweep', async () => (await jobOf(e, overdue[1]!.id)).state === 'Deleted' && (await jobOf(e, waiting.id)).state !== 'Received');
    await sleep(500); // a few more passes of the survivor: still nothing changes twice
    for (const job of overdue) {
      const { timeline, audit } = await recorded(e, job.id);
      assert.deepEqual(timeline.slice(-1), ['expire by service:deadline-sweep']);
      assert.equal(timeline.filter((x) => x.startsWith('expire')).length, 1, timeline.join(', '));
      assert.equal(audit.filter((x) => x === 'job.delete').length, 1, audit.join(', '));
    }
    const { timeline } = await recorded(e, waiting.id);
    assert.equal(timeline.filter((x) => x === 'markNeverReceived by service:deadline-sweep').length, 1, timeline.join(', '));
    assert.equal((await jobOf(e, waiting.id)).disks[0]!.state, 'NeverReceived');
    // The survivor logged the jobs it changed: not the first, which the killed instance had deleted.
    assert.match(other.serve.output().stderr, new RegExp(`"jobId":"${overdue[1]!.id}"`));
    assert.doesNotMatch(other.serve.output().stderr, new RegExp(`"jobId":"${overdue[0]!.id}"`));
    assert.doesNotMatch(killed.serve.output().stderr, /"jobId"/, 'the killed instance logs after its pass, which never ended');
    spare.push(other.serve);
    t.diagnostic(`wall time ${Date.now() - started} ms`);
  });

  it('the failed-authentication throttle counts across instances, and tokens and portal sessions work on each', async (t) => {
    const e = await setUp(t);
    if (e === undefined) return;
    const started = Date.now();
    // The survivor of the sweep test (else a new instance) and a new one. (Not kept for the adoption test:
    // it would adopt without pausing.)
    const [one, two] = await Promise.all([0, 1].map(async (i) => spare.shift() ?? (await instance(e, `auth-${i}`)).serve));
    assert.ok(one !== undefined && two !== undefined);
    const call = (serve: ServeProcess, token: string, method = 'GET', path = '/v1/tenants', body?: unknown) =>
      fetch(`${serve.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });

    // A token made through one instance works on the other; revoked on the other, the first refuses it.
    const created = (await (await call(one, e.adminToken, 'POST', '/v1/tokens', { role: 'tenant-admin', tenantId: e.tenantId })).json()) as { id: string; token: string };
    assert.equal((await call(two, created.token)).status, 200);
    // A portal session opened on one instance is honoured by the other.
    const session = await portalSignIn(one.url, created.token);
    assert.equal((await fetch(`${two.url}/jobs`, { headers: { cookie: session }, redirect: 'manual' })).status, 200);
    assert.equal((await call(two, e.adminToken, 'DELETE', `/v1/tokens/${created.id}`)).status, 200);
    assert.equal((await call(one, created.token)).status, 401);
    const ended = await fetch(`${one.url}/jobs`, { headers: { cookie: session }, redirect: 'manual' });
    assert.deepEqual([ended.status, ended.headers.get('location')], [303, '/sign-in'], 'the session of a revoked token is over');

    // Failures alternate between the instances: the 31st from one address is refused, as on one instance
    // (30 a minute per address). The counts start afresh: the failures above were of this address too.
    await e.db.deleteFrom('throttle_counters').execute();
    const statuses: number[] = [];
    for (let i = 0; i < 31; i++) statuses.push((await call(i % 2 === 0 ? one : two, `fry_ten_${String(i).padStart(43, 'x')}`)).status);
    assert.deepEqual(statuses, [...Array<number>(30).fill(401), 429]);
    // A valid token is never throttled, on either instance.
    assert.equal((await call(two, e.adminToken)).status, 200);
    spare.push(one, two);
    t.diagnostic(`wall time ${Date.now() - started} ms`);
  });

  it("two agents' uploads of one vault's config race through both instances: exactly one is stored, the other refused as an overwrite", async (t) => {
    const e = await setUp(t);
    if (e === undefined) return;
    const started = Date.now();
    // The pair of the throttle test (else two new instances). (Not kept for the adoption test either.)
    const [one, two] = await Promise.all([0, 1].map(async (i) => spare.shift() ?? (await instance(e, `upload-${i}`)).serve));
    assert.ok(one !== undefined && two !== undefined);
    const vault = await createVault(e.f.ctx, e.admin, e.tenantId, { name: 'race', storageAccountId: e.accountId });
    const agent = async (hostname: string): Promise<string> => {
      const code = await createRegistrationCode(e.f.ctx, e.admin, vault.id);
      return (await registerMachine(e.f.ctx, { code: code.registrationCode, hostname })).token;
    };
    const [a, b] = [await agent('race-a'), await agent('race-b')];
    const [mine, theirs] = [shapedObject('config', 1), shapedObject('config', 2)];

    // Each body pauses after its first bytes: both instances have found config absent and begun writing
    // before either write can end.
    const answers = await Promise.all([slowPut(one.url, vault.id, a, mine.bytes), slowPut(two.url, vault.id, b, theirs.bytes)]);
    assert.deepEqual(answers.map((x) => x.status).sort(), [201, 403], answers.map((x) => x.body).join(' | '));
    const refused = JSON.parse(answers.find((x) => x.status === 403)!.body) as { code: string; message: string };
    assert.equal(refused.code, 'FORBIDDEN');
    assert.match(refused.message, /^config exists with other bytes; agents are append-only and may not overwrite it/);
    const [winner, loser] = answers[0].status === 201 ? [mine, theirs] : [theirs, mine];
    const container = (await e.db.selectFrom('vaults').select('container').where('id', '=', vault.id).executeTakeFirstOrThrow()).container;
    const vaultDir = join(e.shared, 'files', container);
    assert.ok((await readFile(join(vaultDir, 'config'))).equals(winner.bytes), "the winner's config is stored, whole");
    assert.deepEqual([...(await filesUnder(vaultDir)).keys()], ['config'], 'no temporary file left');
    // Afterwards, through either instance: the winner's bytes are a no-op re-send, the loser's still refused.
    const winnerToken = winner === mine ? a : b;
    const loserToken = winner === mine ? b : a;
    assert.deepEqual([(await slowPut(two.url, vault.id, winnerToken, winner.bytes, 0)).status, (await slowPut(one.url, vault.id, loserToken, loser.bytes, 0)).status], [200, 403]);
    for (const serve of [one, two]) assert.equal((await serve.stop('SIGTERM')).code, 0);
    t.diagnostic(`wall time ${Date.now() - started} ms`);
  });

  it('an instance killed mid-adoption: the other takes it over once its lease lapsed; every object copied once, the snapshots recorded once', async (t) => {
    const e = await setUp(t);
    if (e === undefined) return;
    const started = Date.now();
    const job = await driveJob(e.f, (await preparedJob(e, 'adopt')).id, 'Completed');
    const objects = new Map<string, Buffer>();
    for (const [kind, count] of [['data', 12], ['index', 2], ['snapshots', 2]] as const) {
      for (let i = 0; i < count; i++) {
        const bytes = Buffer.from(`${kind} ${i} `.repeat(200 + i));
        const id = createHash('sha256').update(bytes).digest('hex');
        objects.set(kind === 'data' ? `data/${id.slice(0, 2)}/${id}` : `${kind}/${id}`, bytes);
      }
    }
    const imported = await openImportStorage(e.f.ctx, job);
    for (const [key, bytes] of objects) await imported.save(key, bytes);
    await imported.close();
    await changeImportJob(storeOf(e.f), job.id, { kind: 'requestAdoption', exclude: [] }, TEST_ACTOR);
    const vault = await e.db.selectFrom('vaults').select('container').where('id', '=', job.vaultId).executeTakeFirstOrThrow();
    const vaultDir = join(e.shared, 'files', vault.container);

    let copiedFirst = new Map<string, number>();
    const { other } = await killFirstToPause(e, ['adopt-a', 'adopt-b'], 'adoption-object-copied', async () => {
      copiedFirst = await filesUnder(vaultDir);
      assert.equal(copiedFirst.size, 1, [...copiedFirst.keys()].join(', '));
      assert.equal((await jobOf(e, job.id)).adoption?.objectsDone, 0, 'nobody else adopts while the lease is held');
    });

    await eventually('the other instance finished the adoption', async () => (await jobOf(e, job.id)).state === 'Adopted');
    const done = await jobOf(e, job.id);
    const bytes = [...objects.values()].reduce((sum, x) => sum + x.length, 0);
    assert.deepEqual([done.adoption?.state, done.adoption?.objectsDone, done.adoption?.objectsTotal, done.adoption?.bytesDone], ['Done', objects.size, objects.size, bytes]);
    const { timeline, audit } = await recorded(e, job.id);
    assert.equal(timeline.filter((x) => x === 'adopt by service:adoption').length, 1, timeline.join(', '));
    assert.equal(audit.filter((x) => x === 'adoption.finish').length, 1, audit.join(', '));
    // The vault holds every object, complete, and nothing else (no temporary file of the killed copy).
    const inVault = await filesUnder(vaultDir);
    assert.deepEqual([...inVault.keys()].sort(), [...objects.keys()].sort());
    for (const [key, bytes] of objects) assert.ok((await readFile(join(vaultDir, key))).equals(bytes), key);
    // What the killed instance copied was not copied again (an atomic copy would have replaced the file: another inode).
    for (const [key, ino] of copiedFirst) assert.equal(inVault.get(key), ino, `${key} copied twice`);
    const snapshots = await e.db.selectFrom('vault_snapshots').select(['snapshot_id', 'source']).where('vault_id', '=', job.vaultId).execute();
    assert.equal(snapshots.length, 2);
    assert.deepEqual(snapshots.map((x) => x.source), ['import', 'import']);
    assert.equal((await other.serve.stop('SIGTERM')).code, 0);
    t.diagnostic(`wall time ${Date.now() - started} ms`);
  });
});

/** Signs in to the portal at `base` with `token`; returns the session cookie (`name=value`). */
async function portalSignIn(base: string, token: string): Promise<string> {
  const form = await fetch(`${base}/sign-in`);
  const signInCookie = /^([^=]+=[^;]+)/.exec(form.headers.get('set-cookie') ?? '')?.[1];
  assert.ok(signInCookie, 'the sign-in page sets its cookie');
  const csrf = signInCookie.slice(signInCookie.indexOf('=') + 1);
  const signedIn = await fetch(`${base}/sign-in`, {
    method: 'POST',
    headers: { cookie: signInCookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrf, token }).toString(),
    redirect: 'manual',
  });
  assert.equal(signedIn.status, 303, await signedIn.text());
  const session = /(ferry-session=[^;]+)/.exec(signedIn.headers.get('set-cookie') ?? '')?.[1];
  assert.ok(session, 'the sign-in sets the session cookie');
  return session;
}

/**
 * PUTs `bytes` as the vault's `config` with `token`, sending the first 16 bytes, then the rest `pauseMs` later;
 * the answer's status and body.
 */
async function slowPut(base: string, vaultId: string, token: string, bytes: Buffer, pauseMs = 400): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}/v1/vaults/${vaultId}/objects/config`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) },
    });
    req.on('error', reject);
    req.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      response.on('error', reject);
    });
    req.write(bytes.subarray(0, 16));
    setTimeout(() => req.end(bytes.subarray(16)), pauseMs);
  });
}

/** Every file below `dir` (relative path → inode). */
async function filesUnder(dir: string): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  const walk = async (at: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(at);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(at, name);
      const info = await stat(path);
      if (info.isDirectory()) await walk(path);
      else found.set(relative(dir, path), info.ino);
    }
  };
  await walk(dir);
  return found;
}
