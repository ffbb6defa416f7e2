// `ferry job show` and `ferry job errors` through bin/ferry against a service that answers another shape
// than the import-job contract (src/contract/): one line saying what was wrong and what to do, exit 1,
// no stack. Fault injection: a tiny node:http server on 127.0.0.1 in place of `ferry serve`.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SAMPLE_AT, SAMPLE_JOB_ID, sampleImportJob } from '../../src/contract/testing/sample-import-job.js';
import { ferry } from './harness.js';

const JOB_ID = SAMPLE_JOB_ID;
const AT = SAMPLE_AT;
const job = sampleImportJob({ state: 'Shipping', receivedAt: null, disks: [], errorCount: 1 });

describe('ferry job against a service of another version', () => {
  let server: Server;
  let url: string;
  /** What the fake service answers, by path. */
  const answers = new Map<string, unknown>();
  before(async () => {
    server = createServer((req, res) => {
      const body = answers.get(req.url ?? '');
      res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body ?? { code: 'NOT_FOUND', message: `no ${req.url}` }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const env = () => ({ env: { FERRY_SERVER: url, FERRY_TOKEN: 'ferry_test_token' } });

  it('shows a well-formed job, and refuses one with an unknown state in one line', async () => {
    answers.set(`/v1/import-jobs/${JOB_ID}`, job);
    const shown = await ferry(['job', 'show', JOB_ID, '--json'], env());
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual(JSON.parse(shown.stdout), job);

    answers.set(`/v1/import-jobs/${JOB_ID}`, { ...job, state: 'InTransit' });
    const refused = await ferry(['job', 'show', JOB_ID], env());
    assert.equal(refused.code, 1, refused.stdout);
    assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
    assert.match(refused.stderr, new RegExp(`GET /v1/import-jobs/${JOB_ID} from the service at ${url} is not what this version of Ferry reads: state: .*run the same Ferry version on both`));
    assert.doesNotMatch(refused.stderr, /at .*\.js:\d+/, 'no stack');
  });

  it('refuses an error log whose entries are not the contract', async () => {
    answers.set(`/v1/import-jobs/${JOB_ID}`, job);
    answers.set(`/v1/import-jobs/${JOB_ID}/errors`, { errors: [{ at: AT, disk: 0, code: 'FileNotFound', message: 'gone' }] });
    const refused = await ferry(['job', 'errors', JOB_ID], env());
    assert.equal(refused.code, 1, refused.stdout);
    assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
    assert.match(refused.stderr, /\/errors from the service at .*: errors\.0\.diskIndex: /);
  });
});
