import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openTestDatabase } from '../testing/test-database.js';
import { claimWorkerLease, releaseWorkerLease, renewWorkerLease } from './worker-lease.js';

const T = Date.parse('2026-11-25T12:00:00.000Z');
const LEASE = 1000;

describe('worker leases (one instance at a time runs a named task)', () => {
  it('is claimed when free or expired, renewed only by its holder, and free again once released', async () => {
    const database = await openTestDatabase();
    const { db } = database;
    try {
      assert.equal(await claimWorkerLease(db, 'sweep', 'a', T, LEASE), true);
      assert.equal(await claimWorkerLease(db, 'sweep', 'b', T + 500, LEASE), false, 'held by a');
      assert.equal(await claimWorkerLease(db, 'other-task', 'b', T + 500, LEASE), true, 'another task is another lease');
      assert.equal(await claimWorkerLease(db, 'sweep', 'a', T + 900, LEASE), true, 'its holder claims it again (renewed to T+1900)');
      assert.equal(await claimWorkerLease(db, 'sweep', 'b', T + 1500, LEASE), false);
      assert.equal(await renewWorkerLease(db, 'sweep', 'a', T + 1800, LEASE), true, 'renewed to T+2800');
      assert.equal(await claimWorkerLease(db, 'sweep', 'b', T + 2800, LEASE), true, 'expired: taken over');
      assert.equal(await renewWorkerLease(db, 'sweep', 'a', T + 2900, LEASE), false, 'the former holder learns it lost it');
      await releaseWorkerLease(db, 'sweep', 'a');
      assert.equal(await claimWorkerLease(db, 'sweep', 'a', T + 2900, LEASE), false, 'a release by another owner does nothing');
      await releaseWorkerLease(db, 'sweep', 'b');
      assert.equal(await claimWorkerLease(db, 'sweep', 'a', T + 2900, LEASE), true, 'released: free at once');
    } finally {
      await database.close();
    }
  });

  it('goes to exactly one of two instances claiming at the same moment', async () => {
    const database = await openTestDatabase({ shared: true });
    try {
      const other = await database.openAnother();
      for (let round = 0; round < 20; round++) {
        const won = await Promise.all([claimWorkerLease(database.db, `task-${round}`, 'a', T, LEASE), claimWorkerLease(other, `task-${round}`, 'b', T, LEASE)]);
        assert.equal(won.filter(Boolean).length, 1, `round ${round}: ${won.join(', ')}`);
        // Expired for both: again exactly one.
        const again = await Promise.all([claimWorkerLease(database.db, `task-${round}`, 'c', T + LEASE, LEASE), claimWorkerLease(other, `task-${round}`, 'd', T + LEASE, LEASE)]);
        assert.equal(again.filter(Boolean).length, 1, `round ${round} after expiry: ${again.join(', ')}`);
      }
    } finally {
      await database.close();
    }
  });
});
