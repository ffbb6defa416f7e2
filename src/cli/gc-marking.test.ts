import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { UserError } from '../core/errors.js';
import { siblingModule } from '../core/sibling-module.js';
import { gcMarkingFor } from './gc-marking.js';

describe('gcMarkingFor', () => {
  it('marks atomically unless FERRY_GC_MARKING says incremental', () => {
    assert.equal(gcMarkingFor({}), 'atomic');
    assert.equal(gcMarkingFor({ FERRY_GC_MARKING: '' }), 'atomic');
    assert.equal(gcMarkingFor({ FERRY_GC_MARKING: 'atomic' }), 'atomic');
    assert.equal(gcMarkingFor({ FERRY_GC_MARKING: 'incremental' }), 'incremental');
  });

  it('refuses any other value, naming the variable', () => {
    for (const raw of ['Atomic', 'none', '0']) {
      assert.throws(() => gcMarkingFor({ FERRY_GC_MARKING: raw }), (err: unknown) => err instanceof UserError && err.message.includes(`FERRY_GC_MARKING=${raw}`), raw);
    }
  });
});

/**
 * A process that keeps ~10 MB of objects (above the 8 MB where V8 starts incremental marking) and then
 * promotes garbage (a ring of objects replaced while they survive scavenges): V8's trace says whether its
 * full collections began with incremental marking. Returns [marking starts, full collections].
 */
function churn(marking: string): [number, number] {
  const module = siblingModule(import.meta.url, 'gc-marking');
  const script = `
    const { applyGcMarking } = await import(${JSON.stringify(module.url.href)});
    applyGcMarking(${JSON.stringify(marking)});
    const kept = [];
    for (let i = 0; i < 150000; i++) kept.push({ i, s: 'k' + i });
    const ring = new Array(100000);
    for (let i = 0; i < 2000000; i++) ring[i % ring.length] = { i, s: 'r' + i, a: [i] };
    process.stdout.write(String(kept.length + ring.length) + '\\n');`;
  const run = spawnSync(process.execPath, [...(module.tsx ? ['--import', 'tsx'] : []), '--trace-gc', '--trace-incremental-marking', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const lines = run.stdout.split('\n');
  return [lines.filter((l) => l.includes('[IncrementalMarking] Start marking')).length, lines.filter((l) => l.includes('Mark-Compact')).length];
}

describe('applyGcMarking on this Node', () => {
  it('atomic: no full collection begins with incremental marking; incremental: they do', () => {
    // (Node 24 honours it too; its larger heap limits run no full collection at all in this churn when atomic.)
    const [atomicStarts] = churn('atomic');
    assert.equal(atomicStarts, 0);
    const [incrementalStarts, incrementalCollections] = churn('incremental');
    assert.ok(incrementalStarts >= 1 && incrementalCollections >= 1, `${incrementalStarts} incremental marking starts, ${incrementalCollections} full collections`);
  });
});
