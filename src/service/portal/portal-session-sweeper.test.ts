import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ServiceDatabase } from '../db/database.js';
import { isoTime } from '../ids.js';
import { startService } from '../serve.js';
import { ManualClock } from '../testing/service-fixture.js';
import { openTestDatabase } from '../testing/test-database.js';
import { SESSION_LIFETIME_MS, SIGN_IN_LINK_LIFETIME_MS, sweepEndedSessions } from './portal-sessions.js';

/** Writes a token, `sessions` sessions and `links` sign-in links (every second one used) starting at `now`, one second apart. */
async function seed(db: ServiceDatabase, now: number, sessions: number, links: number): Promise<void> {
  await db.insertInto('tokens').values({
    id: 'k1', token_hash: 'h1', role: 'operator', tenant_id: null, machine_id: null, vault_id: null, job_id: null, created_at: isoTime(now), expires_at: isoTime(now + 86_400_000),
    revoked_at: null, revoked_reason: null, created_by_token_id: null, replaces_token_id: null,
  }).execute();
  for (let i = 0; i < sessions; i++) {
    await db.insertInto('portal_sessions').values({ id_hash: `s${i}`, token_id: 'k1', csrf_token: 'c', created_at: isoTime(now), expires_at: isoTime(now + SESSION_LIFETIME_MS + i * 1000) }).execute();
  }
  for (let i = 0; i < links; i++) {
    await db.insertInto('portal_sign_in_links').values({ code_hash: `l${i}`, token_id: 'k1', created_at: isoTime(now), expires_at: isoTime(now + SIGN_IN_LINK_LIFETIME_MS + i * 1000), used_at: i % 2 === 1 ? isoTime(now) : null }).execute();
  }
}

async function remaining(db: ServiceDatabase): Promise<{ sessions: string[]; links: string[] }> {
  return {
    sessions: (await db.selectFrom('portal_sessions').select('id_hash').orderBy('id_hash').execute()).map((r) => r.id_hash),
    links: (await db.selectFrom('portal_sign_in_links').select('code_hash').orderBy('code_hash').execute()).map((r) => r.code_hash),
  };
}

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('the portal session sweep', () => {
  it('deletes ended sessions and used or expired links, each once when two instances sweep at the same time', async () => {
    const database = await openTestDatabase({ shared: true });
    const one = database.db;
    const two = await database.openAnother();
    try {
      const clock = new ManualClock();
      await seed(one, clock.now(), 4, 4);
      // Nothing ended yet: the used links go (1 and 3), nothing else.
      assert.deepEqual(await sweepEndedSessions(one, clock.now()), { sessions: 0, links: 2 });
      assert.deepEqual(await remaining(one), { sessions: ['s0', 's1', 's2', 's3'], links: ['l0', 'l2'] });
      // The links' lifetime passed: both go; then the first two sessions' lifetime, swept by two instances at once.
      clock.advance(SIGN_IN_LINK_LIFETIME_MS);
      assert.deepEqual(await sweepEndedSessions(one, clock.now()), { sessions: 0, links: 1 });
      clock.advance(SESSION_LIFETIME_MS - SIGN_IN_LINK_LIFETIME_MS + 1000);
      const swept = await Promise.all([sweepEndedSessions(one, clock.now()), sweepEndedSessions(two, clock.now())]);
      assert.equal(swept[0].sessions + swept[1].sessions, 2, 'each ended session deleted once');
      assert.equal(swept[0].links + swept[1].links, 1);
      assert.deepEqual(await remaining(one), { sessions: ['s2', 's3'], links: [] });
      // Again: nothing to do.
      assert.deepEqual(await sweepEndedSessions(two, clock.now()), { sessions: 0, links: 0 });
    } finally {
      await database.close();
    }
  });

  it('runs in ferry serve, by the service\'s clock, and stops with it', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'ferry-portal-sweep-'));
    const clock = new ManualClock();
    const database = await openTestDatabase({ migrate: false });
    const service = await startService({ dataDir, ...(database.kind === 'postgres' ? { database: database.location } : {}), host: '127.0.0.1', port: 0, clock, portalSweepIntervalMs: 10 });
    try {
      const db = service.server.ctx.db;
      await seed(db, clock.now(), 2, 0);
      await sleep(50);
      assert.deepEqual((await remaining(db)).sessions, ['s0', 's1'], 'live sessions stay');
      clock.advance(SESSION_LIFETIME_MS);
      await until(async () => (await remaining(db)).sessions.length === 1, 'the service to delete the ended session');
      assert.deepEqual((await remaining(db)).sessions, ['s1']);
    } finally {
      await service.stop();
      await database.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
