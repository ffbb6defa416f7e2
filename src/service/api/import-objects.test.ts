import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { IntegrityError } from '../../core/errors.js';
import { HttpStorage } from '../../storage/http/http-storage.js';
import { claimAdoption } from '../jobs/adoption-lease.js';
import type { ImportJob } from '../../contract/import-job.js';
import { changeImportJob } from '../jobs/job-store.js';
import { containerLocationOf } from '../resources/vault-storage.js';
import { fsFolderOf } from '../backend-location.js';
import { TEST_ACTOR, driveJob, prepareDisks, storeOf, type DrivenState } from '../testing/import-job-fixtures.js';
import { bearer, expectStatus, injectAs, startServiceFixture, type ServiceFixture } from '../testing/service-fixture.js';
import { buildWorld, type World } from '../testing/world.js';
import { runAdoption } from '../worker/adoption-run.js';

let f: ServiceFixture;
let w: World;
beforeEach(async () => {
  f = await startServiceFixture();
  w = await buildWorld(f);
  await prepareDisks(f, w.jobId, 1);
});
afterEach(() => f.close());

const sha = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
const packKey = (bytes: Buffer): string => `data/${sha(bytes).slice(0, 2)}/${sha(bytes)}`;
const PACK = Buffer.from('a pack that travelled on a disk');
const INDEX = Buffer.from('an index file');
const SNAPSHOT = Buffer.from('a snapshot');
const jobUrl = (rest = ''): string => `/v1/import-jobs/${w.jobId}${rest}`;

function put(token: string, key: string, bytes: Buffer): Promise<LightMyRequestResponse> {
  return f.app.inject({ method: 'PUT', url: jobUrl(`/objects/${key}`), headers: { ...bearer(token), 'content-type': 'application/octet-stream' }, payload: bytes });
}

/** Where the job's objects live on disk: its container of its storage account, under import/<jobId>/. */
async function importFolder(): Promise<string> {
  const job = (await injectAs(f, w.adminToken, 'GET', jobUrl())).json<ImportJob>();
  return join(fsFolderOf(await containerLocationOf(f.ctx, job)), 'import', w.jobId);
}

describe('import objects', () => {
  it('speak the vault object protocol: HttpStorage works against /v1/import-jobs/<jobId> over a real socket', async () => {
    await driveJob(f, w.jobId, 'Transferring');
    const address = await f.app.listen({ host: '127.0.0.1', port: 0 });
    const storage = new HttpStorage({ url: `${address}/v1/import-jobs/${w.jobId}`, token: w.operatorToken });
    try {
      const keys = [packKey(PACK), `index/${sha(INDEX)}`, `snapshots/${sha(SNAPSHOT)}`];
      await storage.save(keys[0]!, PACK, { length: PACK.length, sha256: sha(PACK) });
      await storage.save(keys[1]!, INDEX);
      await storage.save(keys[2]!, SNAPSHOT);
      await storage.save(keys[0]!, PACK); // a repeated upload (a resumed ingest) is accepted and changes nothing
      assert.deepEqual(await storage.load(keys[0]!), PACK);
      assert.deepEqual(await storage.load(keys[0]!, { offset: 2, length: 4 }), PACK.subarray(2, 6));
      assert.equal((await storage.stat(keys[1]!)).size, INDEX.length);
      const listed: string[] = [];
      await storage.list('', (info) => void listed.push(info.key));
      assert.deepEqual(listed.sort(), [...keys].sort());
      await assert.rejects(storage.save(`data/00/${'0'.repeat(64)}`, PACK), IntegrityError);
      // The objects are the storage account's, in the job's container, under import/<jobId>/.
      assert.deepEqual(await readFile(join(await importFolder(), ...keys[0]!.split('/'))), PACK);
    } finally {
      await storage.close();
    }
  });

  it('accept only content-named packs, index files and snapshots, verified: nothing stored on a mismatch, an existing key is not rewritten', async () => {
    await driveJob(f, w.jobId, 'Transferring');
    for (const key of ['config', `keys/${sha(PACK)}`, `locks/${sha(PACK)}`, `data/${sha(PACK)}`, 'data/ab/stray', `index/${sha(PACK).toUpperCase()}`]) {
      const refused = await put(w.operatorToken, key, PACK);
      expectStatus(refused, 400);
      assert.match(refused.json<{ message: string }>().message, /only content-named objects under data\/<xx>\/, index\/ and snapshots\/ can be imported/);
    }
    const mismatch = await put(w.operatorToken, packKey(INDEX), PACK);
    expectStatus(mismatch, 422, 'INTEGRITY');
    expectStatus(await injectAs(f, w.operatorToken, 'HEAD', jobUrl(`/objects/${packKey(INDEX)}`)), 404);
    expectStatus(await put(w.operatorToken, packKey(PACK), PACK), 201);
    const again = await put(w.operatorToken, packKey(PACK), PACK);
    expectStatus(again, 200);
    assert.deepEqual(again.json(), { key: packKey(PACK), size: PACK.length, stored: false });
    const route = await injectAs(f, w.a.tenantAdminToken, 'DELETE', jobUrl(`/objects/${packKey(PACK)}`));
    expectStatus(route, 404);
  });

  it('are written by the operator during ingest and by the agent between ingest and adoption; read by everyone who sees the job until it is closed', async () => {
    const key = packKey(PACK);
    const states: Array<[DrivenState | 'AdoptionRunning' | 'AdoptionFailed', number, number]> = [
      // state, operator PUT, agent PUT
      ['Shipping', 409, 409],
      ['Received', 201, 409],
      ['Transferring', 201, 409],
      ['Completed', 409, 201],
      ['CompletedWithErrors', 409, 201],
      ['AdoptionRunning', 409, 409],
      ['AdoptionFailed', 409, 201],
      ['Failed', 409, 409],
    ];
    for (const [state, operator, agent] of states) {
      await f.close();
      f = await startServiceFixture();
      w = await buildWorld(f);
      await prepareDisks(f, w.jobId, 1);
      const driven: DrivenState = state === 'AdoptionRunning' || state === 'AdoptionFailed' ? 'Completed' : state;
      await driveJob(f, w.jobId, driven);
      if (state === 'AdoptionRunning' || state === 'AdoptionFailed') await changeImportJob(storeOf(f), w.jobId, { kind: 'requestAdoption', exclude: [] }, TEST_ACTOR);
      if (state === 'AdoptionFailed') await changeImportJob(storeOf(f), w.jobId, { kind: 'failAdoption', reason: 'test' }, TEST_ACTOR);
      const got = [(await put(w.operatorToken, key, PACK)).statusCode, (await put(w.a.agentToken, key, PACK)).statusCode];
      // Once one of them stored it, the other's upload of the same bytes is answered 200.
      assert.deepEqual(got.map((s) => (s === 200 ? 201 : s)), [operator, agent], state);
      expectStatus(await put(w.a.tenantAdminToken, key, PACK), 403);
      expectStatus(await put(w.adminToken, key, PACK), 403);
      // The job token may never write; once the job failed it is refused altogether.
      expectStatus(await put(w.jobToken, key, PACK), state === 'Failed' ? 401 : 403);
      for (const token of [w.operatorToken, w.a.agentToken, w.a.tenantAdminToken, w.adminToken]) {
        expectStatus(await injectAs(f, token, 'GET', jobUrl('/objects?prefix=data/')), 200);
      }
      expectStatus(await injectAs(f, w.b.agentToken, 'GET', jobUrl('/objects?prefix=data/')), 404);
    }
  });
});

describe('adoption and close over HTTP', () => {
  it('adopt: only index keys may be excluded, only after ingest, idempotent while running with the same keys, again after a failure', async () => {
    await driveJob(f, w.jobId, 'Transferring');
    const adopt = (exclude: string[], token = w.a.agentToken): Promise<LightMyRequestResponse> => injectAs(f, token, 'POST', jobUrl('/adopt'), { exclude });
    const early = await adopt([]);
    expectStatus(early, 409, 'ILLEGAL_TRANSITION');
    assert.match(early.json<{ message: string }>().message, /a job can be adopted once its ingest is Completed or CompletedWithErrors/);
    for (const key of [packKey(PACK), `snapshots/${sha(PACK)}`, 'index/short', `import/${w.jobId}/index/${sha(PACK)}`]) expectStatus(await adopt([key]), 400, 'INVALID_REQUEST');

    await f.close();
    f = await startServiceFixture();
    w = await buildWorld(f);
    await prepareDisks(f, w.jobId, 1);
    await driveJob(f, w.jobId, 'CompletedWithErrors');
    const excluded = [`index/${sha(INDEX)}`];
    const first = await adopt(excluded);
    expectStatus(first, 202);
    const job = first.json<ImportJob>();
    assert.equal(job.state, 'CompletedWithErrors');
    assert.equal(job.adoption!.state, 'Running');
    assert.match(job.timeline.at(-1)!.note ?? '', /^adoption into the vault requested, 1 index file excluded$/);
    const same = await adopt([...excluded, ...excluded], w.a.tenantAdminToken);
    expectStatus(same, 202);
    assert.equal(same.json<ImportJob>().timeline.length, job.timeline.length, 'the same request again records nothing');
    const other = await adopt([]);
    expectStatus(other, 409, 'ADOPTION_RUNNING');
    assert.match(other.json<{ message: string }>().message, /wait until it is Done or Failed/);
    await changeImportJob(storeOf(f), w.jobId, { kind: 'failAdoption', reason: 'test' }, TEST_ACTOR);
    const retried = await adopt([]);
    expectStatus(retried, 202);
    assert.match(retried.json<ImportJob>().timeline.at(-1)!.note ?? '', /^adoption into the vault requested again$/);
    assert.equal(retried.json<ImportJob>().adoption!.excluded, 0);
    expectStatus(await adopt([], w.b.agentToken), 404);
  });

  it('close: refused before adoption naming the state; removes the imported objects, then Closed; repeatable', async () => {
    await driveJob(f, w.jobId, 'Transferring');
    expectStatus(await put(w.operatorToken, packKey(PACK), PACK), 201);
    expectStatus(await put(w.operatorToken, `snapshots/${sha(SNAPSHOT)}`, SNAPSHOT), 201);
    const store = storeOf(f);
    const finished = await changeImportJob(store, w.jobId, { kind: 'finishDisk', index: 0, tally: { diskOkFiles: 10, jobOkFiles: 10, errorCount: 0 } }, TEST_ACTOR);
    assert.equal(finished.job.state, 'Completed');
    const early = await injectAs(f, w.a.agentToken, 'POST', jobUrl('/close'), {});
    expectStatus(early, 409, 'ILLEGAL_TRANSITION');
    assert.match(early.json<{ message: string }>().message, /cannot close a job that is Completed: a job can be closed only once its data is Adopted into the vault/);
    expectStatus(await injectAs(f, w.a.agentToken, 'POST', jobUrl('/adopt'), { exclude: [] }), 202);
    await claimAdoption(f.db, 'w', f.clock.now(), 60_000);
    assert.equal(await runAdoption(f.ctx, w.jobId, { owner: 'w', leaseMs: 60_000 }), 'adopted');

    const closed = await injectAs(f, w.a.agentToken, 'POST', jobUrl('/close'));
    expectStatus(closed, 200);
    assert.equal(closed.json<ImportJob>().state, 'Closed');
    assert.equal(closed.json<ImportJob>().timeline.at(-1)!.note, 'the imported objects were removed: closed');
    await assert.rejects(readFile(join(await importFolder(), ...packKey(PACK).split('/'))), /ENOENT/);
    const again = await injectAs(f, w.a.tenantAdminToken, 'POST', jobUrl('/close'), {});
    expectStatus(again, 200);
    assert.equal(again.json<ImportJob>().timeline.length, closed.json<ImportJob>().timeline.length);
    const gone = await injectAs(f, w.operatorToken, 'GET', jobUrl('/objects?prefix='));
    expectStatus(gone, 409, 'ILLEGAL_TRANSITION');
    assert.match(gone.json<{ message: string }>().message, /the job is Closed: its imported objects were removed/);
  });
});
