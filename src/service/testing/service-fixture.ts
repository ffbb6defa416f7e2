import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../core/clock.js';
import type { RandomSource } from '../../core/random.js';
import { issueToken, type IssuedToken, type TokenSpec } from '../auth/token-store.js';
import type { ServiceDatabase } from '../db/database.js';
import { ServiceKey } from '../secrets/service-key.js';
import { buildServer, type FerryServer, type ServerOptions } from '../server.js';
import { openTestDatabase } from './test-database.js';

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  constructor(private ms = Date.parse('2026-11-25T12:00:00.000Z')) {}
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** Deterministic bytes from a seed (SHA-256 in counter mode): reproducible ids and secrets in tests. */
export function seededRandom(seed: string): RandomSource {
  let counter = 0;
  return {
    bytes(length: number): Buffer {
      const out = Buffer.alloc(length);
      for (let at = 0; at < length; at += 32) {
        createHash('sha256').update(`${seed}:${counter++}`).digest().copy(out, at);
      }
      return out;
    },
  };
}

/** A built server over a fresh database (in memory, or on PostgreSQL: ./test-database.ts) in a temporary data directory. */
export interface ServiceFixture extends FerryServer {
  readonly db: ServiceDatabase;
  readonly clock: ManualClock;
  readonly dataDir: string;
  /** Issues a token straight into the database (no HTTP), e.g. an admin token to start with. */
  token(spec: TokenSpec): Promise<IssuedToken>;
  close(): Promise<void>;
}

export async function startServiceFixture(options: Partial<Omit<ServerOptions, 'db' | 'dataDir' | 'clock' | 'serviceKey'>> = {}): Promise<ServiceFixture> {
  const dataDir = await mkdtemp(join(tmpdir(), 'ferry-service-'));
  const database = await openTestDatabase();
  const fixture = serviceFixtureOn(database.db, { ...options, dataDir, serviceKey: new ServiceKey(FIXTURE_SERVICE_KEY) });
  return {
    ...fixture,
    close: async () => {
      await fixture.close();
      await database.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The service key of {@link startServiceFixture}'s fixtures. */
export const FIXTURE_SERVICE_KEY = seededRandom('service key').bytes(32);

/**
 * A fixture over a database the caller opened and migrated (e.g. one that `ferry serve` instances share
 * too), with a {@link ManualClock} (at `startMs` when given); `close` closes the server only.
 */
export function serviceFixtureOn(
  db: ServiceDatabase,
  options: Partial<Omit<ServerOptions, 'db' | 'clock'>> & Pick<ServerOptions, 'dataDir' | 'serviceKey'> & { readonly startMs?: number },
): ServiceFixture {
  const { startMs, ...serverOptions } = options;
  const clock = new ManualClock(startMs);
  const random = options.random ?? seededRandom('fixture');
  const server = buildServer({ ...serverOptions, db, clock, random });
  return {
    ...server,
    db,
    clock,
    dataDir: options.dataDir,
    token: (spec) => issueToken({ db, clock, random }, spec),
    close: () => server.app.close(),
  };
}

/** The Authorization header for a bearer token. */
export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

/** One request through `inject()` as the bearer of `token` (none when undefined), with an optional JSON body. */
export function injectAs(
  fixture: Pick<ServiceFixture, 'app'>,
  token: string | undefined,
  method: InjectOptions['method'],
  url: string,
  payload?: unknown,
): Promise<LightMyRequestResponse> {
  return fixture.app.inject({ method, url, headers: token ? bearer(token) : {}, ...(payload !== undefined ? { payload: payload as InjectOptions['payload'] } : {}) });
}

/** Asserts the status (with the body as the message) and, when given, the error code. */
export function expectStatus(response: LightMyRequestResponse, status: number, code?: string): void {
  assert.equal(response.statusCode, status, response.body);
  if (code !== undefined) assert.equal(response.json<{ code: string }>().code, code);
}
