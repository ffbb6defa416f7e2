import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { UserError } from '../core/errors.js';
import { siblingModule } from '../core/sibling-module.js';
import { youngGenerationCap } from './young-generation.js';

const MiB = 1024 * 1024;

describe('youngGenerationCap', () => {
  it('caps at 8 MiB for a backup, a restore and a service, leaves other commands to V8; FERRY_YOUNG_GENERATION_MIB overrides either way (0: V8 sizes it)', () => {
    assert.equal(youngGenerationCap('backup', {}), 8 * MiB);
    assert.equal(youngGenerationCap('restore', {}), 8 * MiB);
    assert.equal(youngGenerationCap('serve', {}), 8 * MiB);
    for (const command of ['datacenter', 'snapshots', undefined]) assert.equal(youngGenerationCap(command, {}), undefined, command);
    assert.equal(youngGenerationCap('restore', { FERRY_YOUNG_GENERATION_MIB: '16' }), 16 * MiB);
    assert.equal(youngGenerationCap('datacenter', { FERRY_YOUNG_GENERATION_MIB: '' }), undefined);
    assert.equal(youngGenerationCap('serve', { FERRY_YOUNG_GENERATION_MIB: '0' }), undefined);
    assert.equal(youngGenerationCap('serve', { FERRY_YOUNG_GENERATION_MIB: '4' }), 4 * MiB);
    assert.equal(youngGenerationCap('backup', { FERRY_YOUNG_GENERATION_MIB: '0' }), undefined);
  });

  it('refuses anything but a whole number of MiB, naming the variable', () => {
    for (const raw of ['8M', '-1', '1.5', '2048']) {
      assert.throws(() => youngGenerationCap('backup', { FERRY_YOUNG_GENERATION_MIB: raw }), (err: unknown) => err instanceof UserError && err.message.includes(`FERRY_YOUNG_GENERATION_MIB=${raw}`), raw);
    }
  });
});

/**
 * A process that allocates ~300 MB of objects in small turns of its event loop, a ring keeping the last
 * ones alive (objects surviving scavenges are what make V8 grow the young generation), and starts a worker
 * thread on the way (which sets V8's growth factor back), with or without the cap. Returns the young
 * generation's largest size seen, in bytes.
 */
function churn(capBytes: number | undefined): number {
  const module = siblingModule(import.meta.url, 'young-generation');
  const script = `
    const { Worker } = await import('node:worker_threads');
    const { capYoungGeneration, youngGenerationBytes } = await import(${JSON.stringify(module.url.href)});
    if (${capBytes ?? 0} > 0) capYoungGeneration(${capBytes ?? 0});
    const ring = new Array(20000);
    let largest = 0;
    for (let round = 0; round < 400; round++) {
      if (round === 100) await new Promise((resolve) => new Worker('', { eval: true }).once('exit', resolve));
      for (let i = 0; i < 5000; i++) ring[(round * 5000 + i) % ring.length] = { i, s: 'r' + i, a: [i, round] };
      largest = Math.max(largest, youngGenerationBytes());
      await new Promise((resolve) => setImmediate(resolve));
    }
    process.stdout.write(String(largest) + '\\n');`;
  const run = spawnSync(process.execPath, [...(module.tsx ? ['--import', 'tsx'] : []), '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return Number(run.stdout.trim());
}

describe('capYoungGeneration on this Node', () => {
  it('keeps the young generation at the cap, past a worker start, where V8 alone grows it further', () => {
    const uncapped = churn(undefined);
    assert.ok(uncapped > 8 * MiB, `V8 alone: ${uncapped} bytes (the churn must make it grow for this test to mean anything)`);
    const capped = churn(8 * MiB);
    assert.ok(capped <= 8 * MiB, `capped at 8 MiB: ${capped} bytes`);
  });
});
