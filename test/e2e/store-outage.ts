// Object stores stopped and started again in the middle of an upload, on the real servers: the store's
// process is stopped by its PID once the first objects of a run exist (polled through the store's listing,
// no fixed sleeps) and started again on the same port and data. A run rides out an outage shorter than its
// retry budget; a longer one fails it with one line and a non-zero exit; either way nothing half written
// exists afterwards, `check --read-data` is clean, and the next run completes. azure.test.ts and s3.test.ts
// call it with their server.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ferry, ferryOk, lastJson, makeTempDir, type RunResult, type TempDir } from './harness.js';
import { startServe, type ServeProcess } from './service-harness.js';
import type { ObjectStoreUnderTest } from './object-store-e2e.js';

/** A store whose server a test can stop and start again, and look into more deeply. */
export interface OutageStore extends ObjectStoreUnderTest {
  /** Stops the server's process by its PID, keeping its data and port. */
  halt(): Promise<void>;
  /** Starts it again on the same port and data; resolves once it answers. */
  restart(): Promise<void>;
  /** The bytes of the object `name` in `place`, read with the store's own SDK. */
  objectBytes(place: string, name: string): Promise<Buffer>;
  /** Uploads begun in `place` and never committed (staged blocks, multipart uploads): invisible to listings. */
  pendingUploads(place: string): Promise<string[]>;
}

/**
 * Retry budgets (FERRY_STORE_RETRY_*): one that outlasts a restart of the store on a loaded machine (up to
 * a minute; after the store is back, the next attempt is at most half a second away), and one that an
 * outage outlasts at once.
 */
const LONG_BUDGET = { FERRY_STORE_RETRY_ATTEMPTS: '100', FERRY_STORE_RETRY_DELAY_MS: '100', FERRY_STORE_RETRY_MAX_DELAY_MS: '500' };
const SHORT_BUDGET = { FERRY_STORE_RETRY_ATTEMPTS: '2', FERRY_STORE_RETRY_DELAY_MS: '50' };
// Often enough to stop the store mid-run, seldom enough not to slow it (Azurite serves on one thread).
const POLL_MS = 200;
const WAIT_LIMIT_MS = 120_000;

/**
 * Registers (in the current `describe`) the outage tests against the store `store` resolves to. The
 * ingest test (`ingest`, default true) is about the service answering 503 and ingest reporting it, the
 * same on every store: one store runs it, to keep CI short; the backups run on every store.
 */
export function storeOutages(store: () => Promise<OutageStore>, { ingest = true }: { ingest?: boolean } = {}): void {
  describe('the store stopped and started again mid-upload', () => {
    let server: OutageStore;
    let tmp: TempDir;
    const path = (name: string): string => join(tmp.path, name);
    const withStore = (extra: Record<string, string> = {}) => ({ env: { ...server.env, ...extra, FERRY_REPOSITORY: undefined } });

    before(async () => {
      server = await store();
      tmp = await makeTempDir('ferry-e2e-outage-');
      // Random, so each 8 MiB file makes its own packs: several objects of several blocks or parts each.
      // The backups get more of them (96 MiB, six or more 16 MiB packs), so that the first pack is
      // stored well before the last and the store can be stopped between them.
      await mkdir(path('big'));
      for (let i = 0; i < 4; i++) await writeFile(path(`big/part-${i}.bin`), randomBytes(8 * 1024 * 1024));
      await mkdir(path('bigger'));
      for (let i = 0; i < 12; i++) await writeFile(path(`bigger/part-${i}.bin`), randomBytes(8 * 1024 * 1024));
    });
    after(() => tmp?.cleanup());

    /**
     * Starts `args`, stops the store once `ready` says the run is in the middle of its uploads (polled), and
     * hands back the run with the store still stopped (in an object: an async function returning the
     * promise itself would wait for it).
     */
    const runIntoOutage = async (args: string[], env: Record<string, string>, what: string, ready: () => Promise<boolean>): Promise<{ run: Promise<RunResult> }> => {
      let finished = false;
      const run = ferry(args, { env: { ...env, FERRY_REPOSITORY: undefined } }).finally(() => (finished = true));
      const deadline = Date.now() + WAIT_LIMIT_MS;
      while (!(await ready())) {
        if (finished) assert.fail(`${args.join(' ')} ended before ${what}: ${JSON.stringify(await run)}`);
        if (Date.now() > deadline) assert.fail(`not ${what} within ${WAIT_LIMIT_MS} ms`);
        await sleep(POLL_MS);
      }
      // The run may end while the store goes down (a short retry budget runs out at once): that is an outcome, not a miss.
      assert.equal(finished, false, `${args.join(' ')} ended as ${what}`);
      await server.halt();
      return { run };
    };
    /** True once `count` objects under `prefix` of `place` exist. */
    const objectsExist = (place: string, prefix: string, count: number) => async (): Promise<boolean> =>
      (await server.objectNames(place)).filter((name) => name.startsWith(prefix)).length >= count;
    /** True once the upload of a pack under `prefix` of `place` has begun and is not committed yet. */
    const uploadUnderWay = (place: string, prefix: string) => async (): Promise<boolean> => (await server.pendingUploads(place)).some((name) => isPackUnder(prefix, name));

    /** A pack (`…data/ab/ab…`) anywhere under `prefix` (an import keeps its repository under `import/ID/`). */
    const isPackUnder = (prefix: string, name: string): boolean => name.startsWith(prefix) && /(^|\/)data\/[0-9a-f]{2}\/[0-9a-f]{64}$/.test(name.slice(prefix.length));
    /** Every pack under `prefix` is whole: its bytes hash to its name (a pack is named by the SHA-256 of its bytes). */
    const assertPacksWhole = async (place: string, prefix: string): Promise<number> => {
      const packs = (await server.objectNames(place)).filter((name) => isPackUnder(prefix, name));
      for (const name of packs) {
        const bytes = await server.objectBytes(place, name);
        assert.equal(createHash('sha256').update(bytes).digest('hex'), basename(name), `${name} is whole`);
      }
      return packs.length;
    };

    it('a backup rides out an outage shorter than its retry budget and completes', async (t) => {
      const place = server.newPlace();
      const repo = server.url(place, 'repo');
      await ferryOk(['init', '-r', repo], withStore());
      const started = performance.now();
      const { run } = await runIntoOutage(['backup', '-r', repo, path('bigger')], { ...server.env, ...LONG_BUDGET }, 'a pack was stored', objectsExist(place, 'repo/data/', 1));
      const halted = performance.now();
      await server.restart();
      t.diagnostic(`store stopped ${Math.round(halted - started)} ms into the backup, back ${Math.round(performance.now() - halted)} ms later`);
      const result = await run;
      assert.equal(result.code, 0, `the backup completes once the store is back\n${result.stderr}`);
      await ferryOk(['check', '-r', repo, '--read-data'], withStore());
      assert.ok((await assertPacksWhole(place, 'repo/')) >= 2);
    });

    it('a backup whose store stays away longer fails with one line; nothing half written is taken as whole; the next run completes', async (t) => {
      const place = server.newPlace();
      const repo = server.url(place, 'repo');
      await ferryOk(['init', '-r', repo], withStore());
      const { run } = await runIntoOutage(['backup', '-r', repo, path('bigger')], { ...server.env, ...SHORT_BUDGET }, 'a pack was stored', objectsExist(place, 'repo/data/', 1));
      const result = await run;
      await server.restart();
      assert.notEqual(result.code, 0, 'the backup fails');
      // One line saying what failed and what to do; at most one more, when releasing the lock failed too.
      const [error, ...rest] = result.stderr.trim().split('\n');
      assert.match(error ?? '', /^ferry: saving data\/.* run the command again once it is reachable\)$/, result.stderr);
      assert.ok(rest.length === 0 || (rest.length === 1 && /^ferry: cleanup failed: removing locks\//.test(rest[0] ?? '')), result.stderr);
      assert.doesNotMatch(result.stderr, /unexpected error|\n\s+at /);

      // Interrupted uploads may stay behind uncommitted (invisible; the store discards them), never as
      // objects: every pack listed is whole, whatever was in flight when the store stopped.
      t.diagnostic(`uploads left uncommitted by the outage: ${(await server.pendingUploads(place)).length}`);
      await assertPacksWhole(place, 'repo/');
      await ferryOk(['check', '-r', repo, '--read-data'], withStore());

      const rerun = performance.now();
      await ferryOk(['backup', '-r', repo, path('bigger')], withStore());
      t.diagnostic(`the next backup took ${Math.round(performance.now() - rerun)} ms`);
      // Its packs were just checked whole by their names; the repository's structure is what is left to check.
      await ferryOk(['check', '-r', repo], withStore());
      assert.ok((await assertPacksWhole(place, 'repo/')) >= 2);
    });

    if (ingest) describe("the service's storage account while a disk is ingested", () => {
      const JOB = 'outage-seed';
      let serve: ServeProcess;
      let place: string;
      let operator: string;
      const as = (token: string) => ({ env: { FERRY_SERVER: serve.url, FERRY_TOKEN: token, FERRY_STATE_DIR: path('nobody') } });
      const noStore = () => ({ ...server.noAccess, FERRY_REPOSITORY: undefined, FERRY_TOKEN: undefined, FERRY_SERVER: undefined });
      const asAgent = () => ({ env: { ...noStore(), FERRY_STATE_DIR: path('agent'), FERRY_PASSWORD: 'a long enough vault passphrase' } });

      before(async () => {
        place = server.newPlace();
        // The service gives up on the store at once: the outage outlasts its retries, and ingest sees it.
        serve = await startServe(path('service'), [], { ...server.env, ...SHORT_BUDGET });
        const admin = (await readFile(join(path('service'), 'admin.token'), 'utf8')).trim();
        await ferryOk(['tenant', 'create', 'acme'], as(admin));
        await ferryOk(['storage-account', 'create', 'objects', '--tenant', 'acme', '--backend', server.url(place, 'tenants/acme')], as(admin));
        await ferryOk(['vault', 'create', 'fileserver', '--tenant', 'acme', '--storage-account', 'objects'], as(admin));
        const tenantAdmin = lastJson<{ token: string }>((await ferryOk(['token', 'create', '--role', 'tenant-admin', '--tenant', 'acme', '--json'], as(admin))).stdout).token;
        operator = lastJson<{ token: string }>((await ferryOk(['token', 'create', '--role', 'operator', '--json'], as(admin))).stdout).token;
        await ferryOk(['vault', 'credentials', 'fileserver', '--tenant', 'acme', '--out', path('credentials.json')], as(admin));
        await ferryOk(['register', '--credentials', path('credentials.json')], asAgent());
        await ferryOk(['seed', 'start', '--staging', path('staging'), '--storage-account', 'objects', '--container', JOB, '--job', JOB, '--paths', path('big')], asAgent());
        await ferryOk(['backup', path('big')], asAgent());
        await mkdir(path('disk'));
        await ferryOk(['diskprep', '--staging', path('staging'), '--disk', path('disk')], { env: { ...noStore(), FERRY_STATE_DIR: path('copy-computer'), FERRY_PASSWORD: undefined } });
        await ferryOk(['job', 'ship', JOB, '--carrier', 'DHL', '--tracking', 'JD 0146 0000 0102', '--return-address', 'Acme IT, 1 Main St'], as(tenantAdmin));
        await ferryOk(['datacenter', 'receive', JOB], as(operator));
      });
      after(async () => {
        await serve?.stop('SIGKILL');
      });

      it('ingest reports the files it could not upload and fails; rerun once the store is back, it completes', async () => {
        const ingest = ['datacenter', 'ingest', JOB, '--disk', path('disk')];
        // Stopped while the service is in the middle of storing a pack: blocks staged, or a multipart upload begun.
        const { run } = await runIntoOutage(ingest, { FERRY_SERVER: serve.url, FERRY_TOKEN: operator, FERRY_STATE_DIR: path('nobody') }, 'a pack upload was under way', uploadUnderWay(place, `tenants/acme/${JOB}/`));
        const stopped = await run;
        await server.restart();
        assert.notEqual(stopped.code, 0, 'the ingest does not finish the disk');
        assert.match(stopped.stdout + stopped.stderr, /run the same command again/, `${stopped.stdout}\n${stopped.stderr}`);
        assert.doesNotMatch(stopped.stderr, /unexpected error|\n\s+at /);
        await assertPacksWhole(place, `tenants/acme/${JOB}/`);

        const rerun = await ferry(ingest, as(operator));
        assert.equal(rerun.code, 0, `${rerun.stdout}\n${rerun.stderr}`);
        const job = JSON.parse((await ferryOk(['job', 'show', JOB, '--json'], as(operator))).stdout) as { state: string };
        assert.equal(job.state, 'Completed');
        assert.ok((await assertPacksWhole(place, `tenants/acme/${JOB}/`)) >= 2);
      });
    });
  });
}
