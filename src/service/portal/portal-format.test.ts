import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { html } from './html.js';
import { bytesOf, countdownOf, durationOf, percentOf } from './portal-format.js';

describe('portal formatting', () => {
  it('writes sizes with three significant digits, keeping the zeros of whole numbers', () => {
    const cases: [number, string][] = [[0, '0 B'], [999, '999 B'], [900_000, '900 KB'], [1_250_000, '1.25 MB'], [2_000_000, '2 MB'], [1_010_000_000, '1.01 GB']];
    for (const [bytes, text] of cases) assert.equal(bytesOf(bytes), text, String(bytes));
  });
  it('writes durations, countdowns and percentages', () => {
    assert.equal(durationOf(45_000), '45 s');
    assert.equal(durationOf(3_725_000), '1 h 2 min');
    assert.equal(countdownOf('2026-11-26T00:00:00.000Z', Date.parse('2026-11-25T00:00:00.000Z')), '1 d 0 h left');
    assert.equal(countdownOf('2026-11-25T00:00:00.000Z', Date.parse('2026-11-25T00:00:01.000Z')), 'deadline passed');
    assert.equal(percentOf(1, 3), 33);
    assert.equal(percentOf(5, 0), 0);
  });
  it('escapes every interpolated value but the markup it made itself', () => {
    const name = '<script>alert("x")</script>&\'';
    assert.equal(html`<p title="${name}">${name}${html`<b>ok</b>`}${[1, null, false, undefined]}</p>`.text, `<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;<b>ok</b>1</p>`);
  });
});

describe('backup history chart', () => {
  it('draws one pair of bars per run, oldest first, hatched when the run failed, with a text alternative', async () => {
    const { backupChart } = await import('./pages/backup-chart.js');
    const run = (startedAt: string, minutes: number, bytesAdded: number, status: 'succeeded' | 'failed') => ({
      id: startedAt, vaultId: 'v', machineId: 'm', recordedAt: startedAt, forgottenAt: null, startedAt,
      finishedAt: new Date(Date.parse(startedAt) + minutes * 60_000).toISOString(), status, snapshotId: null,
      filesProcessed: 1, bytesRead: bytesAdded, bytesAdded, errorCount: 0, errors: [], trigger: 'manual' as const,
    });
    const svg = backupChart([run('2026-11-26T01:00:00.000Z', 10, 500, 'failed'), run('2026-11-25T01:00:00.000Z', 20, 1000, 'succeeded')]).text;
    assert.match(svg, /role="img" aria-labelledby="chart-title"/);
    assert.match(svg, /<title id="chart-title">Backup history of 2 runs: at most 1 KB added and 20 min 0 s per run<\/title>/);
    const titles = [...svg.matchAll(/<g><title>([^<]+)<\/title>/g)].map((m) => m[1]);
    assert.deepEqual(titles, ['2026-11-25 01:00 UTC: succeeded, 1 KB added in 20 min 0 s', '2026-11-26 01:00 UTC: failed, 500 B added in 10 min 0 s']);
    assert.equal([...svg.matchAll(/fill="url\(#failed\)"/g)].length, 2, 'both bars of the failed run are hatched');
    assert.match(backupChart([]).text, /No backup runs reported yet/);
  });
});
