import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryStorage } from '../../storage/memory-storage.js';
import type { JobState } from '../../contract/job-states.js';
import { seedStepOf } from './seed-step.js';
import { FakeAdoptionService } from './testing/fake-adoption-service.js';

const table: [JobState, string, RegExp?][] = [
  ['Creating', 'travelling'],
  ['Shipping', 'travelling'],
  ['Received', 'travelling'],
  ['Transferring', 'travelling'],
  ['Completed', 'adopt'],
  ['CompletedWithErrors', 'adopt'],
  ['Adopted', 'adopted'],
  ['Closed', 'adopted'],
  ['Deleted', 'ended', /was deleted: no carrier and tracking number were entered before its tracking deadline/],
  ['Cancelled', 'ended', /was cancelled: its disks will not be imported/],
  ['Failed', 'ended', /failed: not one file of its disks could be imported \(`ferry job errors first-seed` says why\)/],
];

describe('seedStepOf', () => {
  for (const [state, kind, warning] of table) {
    it(`${state} → ${kind}`, () => {
      const service = new FakeAdoptionService(new MemoryStorage(), new MemoryStorage(), state);
      const step = seedStepOf(service.job, '/mnt/staging');
      assert.equal(step.kind, kind);
      if (warning) {
        assert.ok(step.kind === 'ended');
        assert.match(step.warning, warning);
        assert.match(step.warning, /Backups keep going to the staging location \/mnt\/staging/);
        assert.match(step.warning, /`ferry seed abandon first-seed`/);
      }
    });
  }
});
