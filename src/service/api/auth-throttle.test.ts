import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { buildServer } from '../server.js';
import { startServiceFixture, type ServiceFixture } from '../testing/service-fixture.js';
import { buildWorld, type World } from '../testing/world.js';
import { DEFAULT_AUTH_THROTTLE } from './auth-throttle.js';

const ATTACKER = '203.0.113.66';
const CLIENT = '198.51.100.7';
/** A well-formed secret that no token has: the attacker's guess number `i`. */
const guess = (i: number): string => `fry_ten_${String(i).padStart(43, 'x')}`;

function get(fixture: Pick<ServiceFixture, 'app'>, token: string | undefined, remoteAddress: string, url = '/v1/whoami'): Promise<LightMyRequestResponse> {
  return fixture.app.inject({ method: 'GET', url, remoteAddress, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
}

describe('authentication throttling', () => {
  let fixture: ServiceFixture;
  let world: World;
  before(async () => {
    fixture = await startServiceFixture();
    world = await buildWorld(fixture);
  });
  after(() => fixture.close());

  it('answers 429 with Retry-After after the threshold of a burst of 500 wrong tokens, while valid tokens keep working at full rate', async () => {
    const { max, windowMs } = DEFAULT_AUTH_THROTTLE.perAddress;
    const attacker: number[] = [];
    let firstRetryAfter: string | undefined;
    for (let i = 0; i < 500; i++) {
      const answer = await get(fixture, guess(i), ATTACKER);
      attacker.push(answer.statusCode);
      if (answer.statusCode === 429) {
        firstRetryAfter ??= String(answer.headers['retry-after']);
        assert.equal(answer.json<{ code: string }>().code, 'TOO_MANY_FAILED_AUTHENTICATIONS');
      }
      // A valid client on another address, interleaved: every request answered, none slowed.
      if (i % 10 === 0) assert.equal((await get(fixture, world.a.tenantAdminToken, CLIENT)).statusCode, 200);
    }
    assert.deepEqual(attacker.slice(0, max), Array(max).fill(401), 'the first failures are plain 401s');
    assert.deepEqual(attacker.slice(max), Array(500 - max).fill(429), 'every failure over the threshold is 429');
    const retryAfter = Number(firstRetryAfter);
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= windowMs / 1000, `Retry-After ${firstRetryAfter}`);
    // A valid token from the attacker's own address still works (a NAT shared with an attacker locks nobody out).
    assert.equal((await get(fixture, world.a.agentToken, ATTACKER, `/v1/vaults/${world.a.vaultId}`)).statusCode, 200);
    // Missing credentials from that address are failures too.
    assert.equal((await get(fixture, undefined, ATTACKER)).statusCode, 429);
  });
});

describe('authentication throttling: per prefix, registration codes, windows', () => {
  it('throttles one credential prefix spread over many addresses, and not the valid tokens of that kind', async () => {
    const fixture = await startServiceFixture({ authThrottle: { perAddress: { max: 5, windowMs: 60_000 }, perPrefix: { max: 20, windowMs: 60_000 } } });
    try {
      const world = await buildWorld(fixture);
      const statuses: number[] = [];
      for (let i = 0; i < 30; i++) statuses.push((await get(fixture, guess(i), `192.0.2.${i + 1}`)).statusCode);
      assert.deepEqual(statuses, [...Array<number>(20).fill(401), ...Array<number>(10).fill(429)]);
      assert.equal((await get(fixture, world.a.tenantAdminToken, '192.0.2.200')).statusCode, 200, 'a valid fry_ten_ token');
      // Another kind of credential is another prefix: an agent's wrong token is a plain 401 from a fresh address.
      assert.equal((await get(fixture, `fry_agt_${'y'.repeat(43)}`, '192.0.2.201')).statusCode, 401);
    } finally {
      await fixture.close();
    }
  });

  it('counts refused registration codes, and a window that ends forgives', async () => {
    const fixture = await startServiceFixture({ authThrottle: { perAddress: { max: 3, windowMs: 1000 }, perPrefix: { max: 1000, windowMs: 1000 } } });
    try {
      const world = await buildWorld(fixture);
      const register = (code: string): Promise<LightMyRequestResponse> =>
        fixture.app.inject({ method: 'POST', url: '/v1/registrations', remoteAddress: ATTACKER, payload: { code, hostname: 'h' } });
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await register(`fry_reg_${String(i).padStart(43, 'z')}`)).statusCode);
      assert.deepEqual(statuses, [401, 401, 401, 429, 429]);
      assert.equal((await register(world.registrationCode)).statusCode, 201, 'a valid code from the same address works');
      fixture.clock.advance(1000);
      assert.equal((await register(`fry_reg_${'q'.repeat(43)}`)).statusCode, 401, 'after the window: counted afresh');
    } finally {
      await fixture.close();
    }
  });

  it('counts the failures every instance on the database answered: alternating between two, the limit holds at the same count', async () => {
    const authThrottle = { perAddress: { max: 4, windowMs: 60_000 }, perPrefix: { max: 1000, windowMs: 60_000 } };
    const fixture = await startServiceFixture({ authThrottle });
    // A second instance: its own server (and plugin, limiters and store) on the same database.
    const second = buildServer({ db: fixture.db, dataDir: fixture.dataDir, serviceKey: fixture.ctx.serviceKey, clock: fixture.clock, authThrottle });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await get(i % 2 === 0 ? fixture : second, guess(i), ATTACKER)).statusCode);
      assert.deepEqual(statuses, [401, 401, 401, 401, 429, 429]);
      assert.equal((await get(fixture, guess(9), CLIENT)).statusCode, 401, 'another address has its own count');
      fixture.clock.advance(60_000);
      assert.equal((await get(second, guess(10), ATTACKER)).statusCode, 401, 'a new window on either instance');
    } finally {
      await second.app.close();
      await fixture.close();
    }
  });
});
