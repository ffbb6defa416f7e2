import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { estimateStoredRatio } from './sample-estimate.js';
import { ASSUMED, planSeed } from './seed-plan.js';
import { parseRate, parseSize } from './units.js';

describe('seed plan units', () => {
  for (const [text, bytes] of [['500GB', 500e9], ['8TB', 8e12], ['2TiB', 2 * 2 ** 40], ['1.5 tb', 1.5e12], ['123456', 123456]] as const) {
    it(`size ${text}`, () => assert.equal(parseSize(text), bytes));
  }
  for (const [text, rate] of [['20Mbit', 2.5e6], ['100Mbps', 12.5e6], ['1Gbit/s', 125e6], ['5MB/s', 5e6], ['800kbit', 1e5]] as const) {
    it(`rate ${text}`, () => assert.equal(parseRate(text), rate));
  }
  for (const text of ['', 'lots', '-5TB', '5 parsecs', '0GB']) it(`refuses size "${text}"`, () => assert.throws(() => parseSize(text), RangeError));
  for (const text of ['fast', '20', '0Mbit', '5 MB']) it(`refuses rate "${text}"`, () => assert.throws(() => parseRate(text), RangeError));
});

describe('planSeed', () => {
  const TB = 1e12;
  it('recommends disks for terabytes behind a slow link, with the breakdown', () => {
    const plan = planSeed({ sourceBytes: 20 * TB, storedRatio: 0.6, uplinkBytesPerSecond: parseRate('50Mbit'), diskBytes: 8 * TB, shippingDays: 3 });
    assert.equal(plan.storedBytes, 12 * TB);
    assert.equal(plan.disks, 2);
    assert.ok(Math.abs(plan.onlineSeconds / 86_400 - 22.2) < 0.1, `${plan.onlineSeconds / 86_400} days online`);
    const o = plan.offline;
    assert.equal(o.totalSeconds, o.stagingSeconds + o.diskprepSeconds + o.shippingSeconds + o.ingestSeconds);
    assert.equal(o.shippingSeconds, (3 + ASSUMED.receivingDays) * 86_400);
    assert.equal(plan.recommendation, 'offline');
  });
  it('recommends the network for a small set on a fast link', () => {
    const plan = planSeed({ sourceBytes: 200e9, storedRatio: 1, uplinkBytesPerSecond: parseRate('1Gbit'), diskBytes: 8 * TB, shippingDays: 3 });
    assert.equal(plan.recommendation, 'online');
    assert.equal(plan.disks, 1);
  });
});

describe('estimateStoredRatio', () => {
  const seeded = (seed: number): (() => number) => {
    let x = seed;
    return () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  };
  it('counts every file and byte, and tells random data from text and duplicates', async () => {
    const root = await mkdtemp(join(tmpdir(), 'ferry-plan-'));
    try {
      await mkdir(join(root, 'media'));
      await mkdir(join(root, 'docs'));
      for (let i = 0; i < 4; i++) await writeFile(join(root, 'media', `m${i}.bin`), randomBytes(1_000_000));
      const text = Buffer.from('the quick brown fox reports quarterly numbers\n'.repeat(25_000));
      for (let i = 0; i < 4; i++) await writeFile(join(root, 'docs', `d${i}.txt`), text);
      const media = await estimateStoredRatio([join(root, 'media')], { random: seeded(1) });
      assert.equal(media.files, 4);
      assert.equal(media.bytes, 4_000_000);
      assert.ok(media.storedRatio > 0.98 && media.storedRatio <= 1.001, `random data stores as ${media.storedRatio}`);
      const docs = await estimateStoredRatio([join(root, 'docs')], { random: seeded(2) });
      assert.ok(docs.storedRatio < 0.05, `repeated text stores as ${docs.storedRatio}`);
      const all = await estimateStoredRatio([root], { random: seeded(3), budgetBytes: 1_000_000 });
      assert.equal(all.files, 8);
      assert.ok(all.sampledBytes <= 8 * 125_000 + 8 * 64 * 1024, `the budget bounds reading: ${all.sampledBytes}`);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
