import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { armedFailpoints, noFailpoints } from './failpoints.js';

describe('failpoints', () => {
  const crashes = (spec: string | undefined, hits: string[]): string | undefined => {
    try {
      const points = armedFailpoints(spec, (name) => {
        throw new Error(`crash ${name}`);
      });
      hits.forEach((h) => points.hit(h));
    } catch (err) {
      return (err as Error).message;
    }
    return undefined;
  };
  it('do nothing unless armed', () => {
    assert.equal(crashes(undefined, ['a', 'b']), undefined);
    noFailpoints.hit('anything');
  });
  it('crash at the named point, on the N-th hit', () => {
    assert.equal(crashes('b', ['a', 'b']), 'crash b');
    assert.equal(crashes('b:3', ['b', 'b']), undefined);
    assert.equal(crashes('b:3', ['b', 'a', 'b', 'b']), 'crash b');
    assert.equal(crashes('fs-written:data', ['fs-written:data']), 'crash fs-written:data');
    assert.equal(crashes('fs-written:data:2', ['fs-written:data', 'fs-written:data']), 'crash fs-written:data');
  });
});
