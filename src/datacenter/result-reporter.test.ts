import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { ByteBudget } from '../core/byte-budget.js';
import type { FileResult, IngestProgressReport } from '../contract/ingest.js';
import type { IngestService } from './ingest-service.js';
import { ResultReporter } from './result-reporter.js';

/** Records the result batches; fails when told to. */
class Recorder implements Pick<IngestService, 'postResults'> {
  readonly batches: { results: number; progress: IngestProgressReport }[] = [];
  failWith: Error | undefined;
  async postResults(_jobId: string, _index: number, results: readonly FileResult[], progress: IngestProgressReport): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.batches.push({ results: results.length, progress });
  }
}

const result = (i: number): FileResult => ({ path: `index/${String(i).padStart(64, '0')}`, size: 1, sha256: 'a'.repeat(64), code: 'Ok', message: null });

function reporter(recorder: Recorder, progress: () => IngestProgressReport, intervalMs = 60_000): ResultReporter {
  return new ResultReporter(recorder as unknown as IngestService, 'job', 0, progress, intervalMs);
}

describe('ResultReporter', () => {
  it('sends batches of at most 1000 results, in order, with the progress', async () => {
    const recorder = new Recorder();
    let files = 0;
    const r = reporter(recorder, () => ({ bytesDone: files, filesDone: files }));
    for (let i = 0; i < 2500; i++) {
      files++;
      await r.add(result(i));
    }
    await r.close();
    assert.deepEqual(recorder.batches.map((b) => b.results), [1000, 1000, 500]);
    assert.deepEqual(recorder.batches.at(-1)!.progress, { bytesDone: 2500, filesDone: 2500 });
  });

  it('sends the progress alone every interval, also unchanged (a heartbeat); a flush sends it only when it changed', async () => {
    const recorder = new Recorder();
    let bytes = 0;
    const r = reporter(recorder, () => ({ bytesDone: bytes, filesDone: 0 }), 20);
    bytes = 10;
    // Waits for three intervals' reports rather than a fixed time: a busy machine delays timers.
    for (const deadline = Date.now() + 10_000; recorder.batches.length < 3 && Date.now() < deadline; ) await sleep(20);
    r.stop();
    assert.ok(recorder.batches.length >= 3, `a report per interval: ${recorder.batches.length}`);
    assert.ok(recorder.batches.every((b) => b.results === 0 && b.progress.bytesDone === 10));
    const sent = recorder.batches.length;
    await r.flush();
    assert.equal(recorder.batches.length, sent, 'nothing new to flush');
    bytes = 20;
    await r.flush();
    assert.equal(recorder.batches.length, sent + 1);
  });

  it('fails the next call after a failed request', async () => {
    const recorder = new Recorder();
    const r = reporter(recorder, () => ({ bytesDone: 1, filesDone: 1 }));
    recorder.failWith = new Error('service down');
    await r.add(result(1));
    await assert.rejects(r.flush(), /service down/);
    await assert.rejects(r.add(result(2)), /service down/);
    r.stop();
  });
});

describe('ByteBudget', () => {
  it('holds back takers beyond the limit, in order, and lets one oversized taker through alone', async () => {
    const budget = new ByteBudget(100);
    const order: string[] = [];
    const a = await budget.take(60);
    const b = budget.take(50).then((give) => (order.push('b'), give));
    const c = budget.take(500).then((give) => (order.push('c'), give));
    await sleep(5);
    assert.deepEqual(order, []);
    a();
    const giveB = await b;
    assert.deepEqual(order, ['b']);
    giveB();
    giveB();
    (await c)();
    assert.deepEqual(order, ['b', 'c']);
    assert.equal(budget.inUse, 0);
  });
});
