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
