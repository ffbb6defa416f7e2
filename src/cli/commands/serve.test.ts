import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from 'commander';
import { parseAddress } from '../command-kit.js';
import { parseDuration, parseListen, parseWorkerPeriod } from '../option-parsers.js';

describe('ferry serve options', () => {
  it('parses --tracking-deadline durations', () => {
    const table: [string, number][] = [
      ['14d', 14 * 86_400_000],
      ['36h', 36 * 3_600_000],
      ['90m', 90 * 60_000],
      ['3s', 3000],
      ['2w', 14 * 86_400_000],
      ['3650d', 3650 * 86_400_000],
    ];
    for (const [text, ms] of table) assert.equal(parseDuration(text), ms, text);
    for (const bad of ['', '14', 'd', '0d', '-1d', '1.5d', '14 d', '14D', '1y', '3651d', '999999999w']) {
      assert.throws(() => parseDuration(bad), InvalidArgumentError, bad);
    }
  });

  it('parses --worker-lease, --adoption-poll and --sweep-interval (milliseconds allowed, 50 ms to 24 h)', () => {
    const table: [string, number][] = [
      ['50ms', 50],
      ['1500ms', 1500],
      ['60s', 60_000],
      ['2m', 120_000],
      ['24h', 86_400_000],
    ];
    for (const [text, ms] of table) assert.equal(parseWorkerPeriod(text), ms, text);
    for (const bad of ['', '60', '49ms', '0s', '25h', '1d', '1.5s', '-1s', '60 s']) {
      assert.throws(() => parseWorkerPeriod(bad), InvalidArgumentError, bad);
    }
  });

  it('parses --shipping-address (and --return-address) text, \\n for a line break', () => {
    assert.equal(parseAddress('Ferry DC\\nDock 7\\n12345 Town'), 'Ferry DC\nDock 7\n12345 Town');
    assert.equal(parseAddress('  One line  '), 'One line');
    for (const bad of ['', '   ', 'x'.repeat(1001)]) assert.throws(() => parseAddress(bad), InvalidArgumentError);
  });

  it('parses --listen', () => {
    assert.deepEqual(parseListen('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
    assert.deepEqual(parseListen('[::1]:8420'), { host: '::1', port: 8420 });
    assert.throws(() => parseListen('localhost'), InvalidArgumentError);
  });
});
