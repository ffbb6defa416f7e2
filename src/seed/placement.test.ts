// Placement of staging files across disks (docs/disk-format.md, section 8) as properties.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { PlannedFile } from './disk-types.js';
import { encryptedSize, LABEL_MAX_BYTES } from './disk-format.js';
import { diskBudgets, fillDisk, SERVICE_DISK_BYTES_LIMIT, type Budget } from './placement.js';

const filesArb = fc.array(fc.record({ path: fc.uuid(), size: fc.integer({ min: 0, max: 5000 }) }), { maxLength: 40 });

test('property: fillDisk takes files in order while they fit every budget, and leaves only files that do not', () => {
  const budgetArb = fc.record({ room: fc.integer({ min: -10, max: 40_000 }), factor: fc.integer({ min: 1, max: 3 }), extra: fc.nat(50) });
  fc.assert(
    fc.property(filesArb, fc.array(budgetArb, { minLength: 1, maxLength: 3 }), (files, specs) => {
      const budgets: Budget[] = specs.map((s) => ({ room: s.room, cost: (f) => f.size * s.factor + s.extra }));
      const { taken, left } = fillDisk(files, budgets);
      // Every file exactly once, each side in the original order.
      assert.deepEqual([...taken, ...left].sort(byPath), [...files].sort(byPath));
      assert.deepEqual(taken, files.filter((f) => taken.includes(f)));
      assert.deepEqual(left, files.filter((f) => left.includes(f)));
      const rooms = budgets.map((b) => b.room - taken.reduce((sum, f) => sum + b.cost(f), 0));
      rooms.forEach((room) => assert.ok(room >= 0 || taken.length === 0, 'within every budget'));
      // Rooms only shrink, so a file left when it was scanned cannot fit at the end either.
      for (const f of left) assert.ok(budgets.some((b, i) => b.cost(f) > rooms[i]!), 'a file left out would not have fit');
    }),
  );
});

test('property: filling disk after disk places every file once, never splits one, and keeps each disk within --max-bytes-per-disk', () => {
  fc.assert(
    fc.property(filesArb, fc.integer({ min: 12_000, max: 60_000 }), fc.constantFrom(64, 1000, 4096), (files, maxBytes, segmentSize) => {
      const entryBytes = (f: PlannedFile): number => 150 + f.path.length;
      let remaining = files;
      const disks: PlannedFile[][] = [];
      while (remaining.length > 0) {
        const budgets = diskBudgets({ freeBytes: 2 ** 40, blockSize: 4096, segmentSize, maxBytes, manifestBytes: 400, manifestEntryBytes: entryBytes, usedBytes: 0 });
        const { taken, left } = fillDisk(remaining, budgets);
        if (taken.length === 0) {
          // Only a file too large for an empty disk stops the filling.
          assert.ok(left.every((f) => LABEL_MAX_BYTES + 400 + encryptedSize(f.size, segmentSize) + entryBytes(f) > maxBytes));
          return;
        }
        const written = LABEL_MAX_BYTES + 400 + taken.reduce((sum, f) => sum + encryptedSize(f.size, segmentSize) + entryBytes(f), 0);
        assert.ok(written <= maxBytes, `disk ${disks.length + 1}: ${written} > ${maxBytes}`);
        disks.push(taken);
        remaining = left;
      }
      assert.deepEqual(disks.flat().sort(byPath), [...files].sort(byPath));
    }),
  );
});

test('the free-space budget counts whole blocks, keeps a reserve, and the service limit always applies', () => {
  const measure = { freeBytes: 100 * 2 ** 20, blockSize: 4096, segmentSize: 1024 * 1024, manifestBytes: 500, manifestEntryBytes: () => 200, usedBytes: 0 };
  const [service, free] = diskBudgets(measure);
  assert.equal(service!.room, SERVICE_DISK_BYTES_LIMIT - LABEL_MAX_BYTES - 500);
  // 16 MiB reserve (1 % is less), the label's and the manifest's blocks, one spare block.
  assert.equal(free!.room, 100 * 2 ** 20 - 16 * 2 ** 20 - 4096 - 4096 - 4096);
  assert.equal(free!.cost({ path: 'x', size: 1 }), 4096 + 4096 + 200);
  const withMax = diskBudgets({ ...measure, maxBytes: 50_000 });
  assert.equal(withMax.length, 3);
  assert.equal(withMax[1]!.room, 50_000 - LABEL_MAX_BYTES - 500);
});

function byPath(a: PlannedFile, b: PlannedFile): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}
