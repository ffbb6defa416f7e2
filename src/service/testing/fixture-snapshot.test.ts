import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { revokeToken } from '../auth/token-store.js';
import { snapshotFixture } from './fixture-snapshot.js';
import { startServiceFixture, type ServiceFixture } from './service-fixture.js';
import { buildWorld } from './world.js';

async function tokens(fixture: ServiceFixture): Promise<unknown[]> {
  return fixture.db.selectFrom('tokens').selectAll().orderBy('id').execute();
}

describe('fixture snapshots', () => {
  it('restore the rows, the data directory and the clock, however often', async () => {
    const fixture = await startServiceFixture();
    try {
      await buildWorld(fixture);
      mkdirSync(join(fixture.dataDir, 'kept'));
      writeFileSync(join(fixture.dataDir, 'kept', 'object'), 'before');
      const before = await tokens(fixture);
      const at = fixture.clock.now();
      const snapshot = await snapshotFixture(fixture);
      for (let round = 0; round < 3; round++) {
        const token = await fixture.token({ role: 'operator' });
        await revokeToken(fixture.ctx, token.id);
        await fixture.db.deleteFrom('tenants').where('name', '=', 'tenant-b').execute().catch(() => undefined);
        writeFileSync(join(fixture.dataDir, 'kept', 'object'), 'changed');
        mkdirSync(join(fixture.dataDir, 'added', 'deep'), { recursive: true });
        writeFileSync(join(fixture.dataDir, 'added', 'deep', 'file'), 'x');
        fixture.clock.advance(1000);
        await snapshot.restore();
        assert.deepEqual(await tokens(fixture), before);
        assert.equal(readFileSync(join(fixture.dataDir, 'kept', 'object'), 'utf8'), 'before');
        assert.ok(!existsSync(join(fixture.dataDir, 'added')));
        assert.equal(fixture.clock.now(), at);
        // Nothing changed since: the restore leaves all as it is.
        await snapshot.restore();
        assert.deepEqual(await tokens(fixture), before);
      }
    } finally {
      await fixture.close();
    }
  });
});
