/**
 * The hostile-request corpus (hostile-corpus.ts) against the routes the server registers, with a valid token
 * of each role the route lets in: the service must never answer 500 (any 5xx but a deliberate 503 is a
 * failure), must answer /healthz after every request, and the data of both tenants' vaults must be whole
 * afterwards (every seeded object with its bytes, and a real repository that still checks clean).
 *
 * The routes are split into {@link HOSTILE_PARTS}, one test file each (src/service/api/hostile-requests*.test.ts),
 * so the parts run side by side: on PostgreSQL every request waits on the database's round trips, and the
 * whole corpus in one file was the longest test of the suite. A few things inject() cannot do (raw sockets,
 * slow bodies) are in test/e2e/hostile-serve.test.ts.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { INSECURE_TEST_KDF } from '../../engine/crypto/key-slot.js';
import { checkRepository } from '../../engine/checker/checker.js';
import { Repository, type RepositoryContext } from '../../engine/repository/repository.js';
import { seededBytes } from '../../storage/testing/conformance.js';
import type { Storage } from '../../storage/storage.js';
import type { Principal } from '../auth/principal.js';
import type { Role } from '../auth/roles.js';
import { getVault } from '../resources/vaults.js';
import { openVaultStorage } from '../resources/vault-storage.js';
import { routeKey } from './authorization-matrix.js';
import { diskRegistration } from './import-job-fixtures.js';
import { hostileCases, type BaseRequest } from './hostile-corpus.js';
import type { ServiceFixture } from './service-fixture.js';
import { buildWorld, type World } from './world.js';
import type { RegisteredRoute } from '../api/route-access.js';

const PASSWORD = 'hostile corpus';
const repoContext: RepositoryContext = { clock: { now: () => Date.UTC(2026, 10, 25) }, hostname: 'seed-host', username: 'seeder' };
const SETUP: Principal = { tokenId: 'setup', role: 'admin', expiresAt: '2100-01-01T00:00:00.000Z' };
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** An object of tenant A's vault that the requests may read, overwrite or remove (it is not part of the data checked). */
const TARGET_BYTES = Buffer.from('the object the corpus reads');
const TARGET_KEY = `keys/${sha256(TARGET_BYTES)}`;

/** A valid-looking body per route (the authorization matrix has the same), which the corpus then distorts. */
const BODIES: Readonly<Record<string, (w: World) => unknown>> = {
  'POST /v1/tokens': (w) => ({ role: 'tenant-admin', tenantId: w.a.tenantId, expiresInSeconds: 3600 }),
  'POST /v1/tenants': () => ({ name: 'tenant-hostile' }),
  'POST /v1/tenants/:tenantId/storage-accounts': () => ({ name: 'storage-hostile' }),
  'POST /v1/tenants/:tenantId/vaults': (w) => ({ name: 'vault-hostile', storageAccountId: w.a.storageAccountId, container: 'vault-hostile' }),
  'POST /v1/registrations': (w) => ({ code: w.registrationCode, hostname: 'hostile-host' }),
  'POST /v1/vaults/:vaultId/backup-runs': () => ({
    startedAt: '2026-11-25T10:00:00.000Z', finishedAt: '2026-11-25T10:05:00.000Z', status: 'succeeded', trigger: 'scheduled',
    snapshotId: 'ab'.repeat(32), filesProcessed: 10, bytesRead: 1000, bytesAdded: 100,
  }),
  'PUT /v1/vaults/:vaultId/schedule': () => ({ daily: '02:30', retention: { keepDaily: 7, keepLast: 3 } }),
  'POST /v1/vaults/:vaultId/retention': () => ({}),
  'POST /v1/vaults/:vaultId/import-jobs': (w) => ({ name: 'seed-hostile', storageAccountId: w.a.storageAccountId, container: 'seed-hostile' }),
  'PUT /v1/import-jobs/:jobId/disks/:index': () => diskRegistration(0),
  'PUT /v1/import-jobs/:jobId/disks/:index/replacement': (w) => ({ ...diskRegistration(0, `replacement:${w.jobId}`), replaces: diskRegistration(0, w.jobId).diskId }),
  'POST /v1/import-jobs/:jobId/prepared': () => ({ disks: 1 }),
  'POST /v1/import-jobs/:jobId/shipping': () => ({ carrier: 'UPS', trackingNumber: '1Z 999 AA1 01 2345 6784', returnAddress: 'Acme IT\n1 Main Street' }),
  'POST /v1/import-jobs/:jobId/receive': () => ({}),
  'POST /v1/import-jobs/:jobId/disks/:index/ingest': (w) => ({ diskId: diskRegistration(0, w.jobId).diskId, manifestSha256: 'cd'.repeat(32) }),
  'POST /v1/import-jobs/:jobId/disks/:index/results': () => ({
    results: [{ path: 'data/ab/abab', size: 5, sha256: 'ef'.repeat(32), code: 'Ok', message: null }],
    progress: { bytesDone: 5, filesDone: 1 },
  }),
  'POST /v1/import-jobs/:jobId/disks/:index/finish': () => ({}),
  'POST /v1/import-jobs/:jobId/errors': () => ({ diskIndex: null, path: null, code: 'ForeignDisk', message: 'hostile' }),
  'POST /v1/import-jobs/:jobId/service-ingest': () => ({ disks: ['/mnt/hostile'] }),
  'POST /v1/import-jobs/:jobId/adopt': () => ({ exclude: [] }),
  'POST /v1/import-jobs/:jobId/close': () => ({}),
};

type Caller = 'anonymous' | 'admin' | 'tenantAdmin' | 'agent' | 'otherTenantAgent' | 'job' | 'operator';
const ROLE_OF: Readonly<Record<Exclude<Caller, 'anonymous'>, Role>> = {
  admin: 'admin', tenantAdmin: 'tenant-admin', agent: 'agent', otherTenantAgent: 'agent', job: 'job', operator: 'operator',
};

function tokenOf(world: World, caller: Exclude<Caller, 'anonymous'>): string {
  switch (caller) {
    case 'admin': return world.adminToken;
    case 'tenantAdmin': return world.a.tenantAdminToken;
    case 'agent': return world.a.agentToken;
    case 'otherTenantAgent': return world.b.agentToken;
    case 'job': return world.jobToken;
    case 'operator': return world.operatorToken;
  }
}

/** The callers tried on a route: each valid token whose role the route lets in; anonymous on public routes. */
function callersOf(route: RegisteredRoute): Caller[] {
  if (route.access === 'public') return ['anonymous'];
  const access = route.access;
  return (Object.keys(ROLE_OF) as Exclude<Caller, 'anonymous'>[]).filter((caller) => access.includes(ROLE_OF[caller]));
}

/** Saves a small real repository (config, keys, packs, index) into `storage`: what a backup leaves. */
async function seedRepository(storage: Storage, seed: number): Promise<void> {
  const repo = await Repository.init(storage, PASSWORD, repoContext, { kdf: INSECURE_TEST_KDF, packSize: 64 * 1024 });
  const writer = repo.createWriter();
  for (let i = 0; i < 12; i++) await writer.save('data', seededBytes(40 * 1024 + i, seed * 100 + i));
  await writer.flush();
}

/** Every object of `storage` with the SHA-256 of its bytes. */
async function fingerprint(storage: Storage): Promise<Map<string, string>> {
  const keys: string[] = [];
  await storage.list('', (info) => void keys.push(info.key));
  const result = new Map<string, string>();
  for (const key of keys.sort()) result.set(key, sha256(await storage.load(key)));
  return result;
}

/** A part of the routes, run by one test file. */
export interface HostilePart {
  readonly name: string;
  readonly includes: (route: RegisteredRoute) => boolean;
  /** Requests the part must send at least (a floor that a shrunken corpus or a lost route trips). */
  readonly minimumRequests: number;
  /** The part holds the object reads: some Range headers are served (206) and some refused (416). */
  readonly servesRanges: boolean;
}

const underVaults = (route: RegisteredRoute): boolean => route.url.startsWith('/v1/vaults/');
const underImportJobs = (route: RegisteredRoute): boolean => route.url.startsWith('/v1/import-jobs/');

/** The fixture's options: failed authentications are part of the corpus; the throttle (tested on its own) must not hide what they reach. */
export const HOSTILE_FIXTURE_OPTIONS = { authThrottle: { perAddress: { max: 1e9, windowMs: 60_000 }, perPrefix: { max: 1e9, windowMs: 60_000 } } };

/** Every route is in exactly one part: the last takes what the others leave. */
export const HOSTILE_PARTS = {
  vaults: { name: 'vault routes', includes: underVaults, minimumRequests: 700, servesRanges: true },
  importJobs: { name: 'import-job routes', includes: underImportJobs, minimumRequests: 700, servesRanges: false },
  rest: { name: 'every other route', includes: (route) => !underVaults(route) && !underImportJobs(route), minimumRequests: 500, servesRanges: false },
} as const satisfies Record<string, HostilePart>;

/**
 * Declares the corpus's test of one part. `startFixture` starts the service (the calling test file names
 * startServiceFixture itself, so the PostgreSQL pass of npm test picks the file up).
 */
export function describeHostileCorpus(part: HostilePart, startFixture: () => Promise<ServiceFixture>): void {
  describe(`the hostile-request corpus against the ${part.name}`, () => {
    let fixture: ServiceFixture;
    let world: World;
    let vaults: Storage[];
    let before_: Map<string, string>[];

    before(async () => {
      fixture = await startFixture();
      world = await buildWorld(fixture);
      vaults = [];
      for (const [i, tenant] of [world.a, world.b].entries()) {
        const storage = await openVaultStorage(fixture.ctx, await getVault(fixture.ctx, SETUP, tenant.vaultId));
        await seedRepository(storage, i + 1);
        vaults.push(storage);
      }
      before_ = await Promise.all(vaults.map(fingerprint));
      await vaults[0]!.save(TARGET_KEY, TARGET_BYTES);
      await fixture.app.ready();
    });
    after(async () => {
      for (const storage of vaults) await storage.close();
      await fixture.close();
    });

    it('never answers 5xx (but 503), always answers /healthz, and leaves the data whole', async () => {
      const cases = hostileCases();
      const routes = fixture.routes.filter(part.includes).sort((x, y) => Number(x.method === 'DELETE') - Number(y.method === 'DELETE'));
      const failures: string[] = [];
      const statuses = new Map<number, number>();
      let sent = 0;
      for (const route of routes) {
        const base: BaseRequest = {
          params: {
            tenantId: world.a.tenantId,
            storageAccountId: world.a.storageAccountId,
            vaultId: world.a.vaultId,
            jobId: world.jobId,
            tokenId: 'no-such-token',
            index: '0',
            // Reads and writes hit the target object; a removal one that does not exist (the data stays whole).
            '*': route.method === 'DELETE' ? `locks/${'0'.repeat(64)}` : TARGET_KEY,
          },
          headers: {},
          body: BODIES[routeKey(route)]?.(world),
        };
        for (const caller of callersOf(route)) {
          const auth: Record<string, string> = caller === 'anonymous' ? {} : { authorization: `Bearer ${tokenOf(world, caller)}` };
          for (const hostile of cases) {
            const built = hostile.build(route, { ...base, headers: auth });
            if (built === undefined) continue;
            const label = `${routeKey(route)} as ${caller}, ${hostile.name}`;
            let status: number;
            try {
              status = (await fixture.app.inject(built)).statusCode;
            } catch (err) {
              failures.push(`${label}: inject threw ${(err as Error).message}`);
              continue;
            }
            sent++;
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
            if (status >= 500 && status !== 503) failures.push(`${label}: ${status}`);
            const health = await fixture.app.inject({ method: 'GET', url: '/healthz' });
            if (health.statusCode !== 200) failures.push(`${label}: /healthz answered ${health.statusCode} afterwards`);
          }
        }
      }
      assert.deepEqual(failures.slice(0, 40), [], `${failures.length} failures`);
      assert.ok(sent >= part.minimumRequests, `the corpus sent ${sent} requests to the ${part.name}`);
      if (part.servesRanges) assert.ok((statuses.get(206) ?? 0) > 0 && (statuses.get(416) ?? 0) > 0, `ranges were served and refused: ${JSON.stringify([...statuses])}`);
      assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was polluted');
      assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined);

      // The seeded data is whole: every object of both vaults, byte for byte, and a repository that checks clean.
      const after_ = await Promise.all(vaults.map(fingerprint));
      for (const [i, seeded] of before_.entries()) {
        for (const [key, hash] of seeded) assert.equal(after_[i]!.get(key), hash, `vault ${i === 0 ? 'A' : 'B'}: ${key}`);
      }
      for (const storage of vaults) {
        const repo = await Repository.open(storage, PASSWORD, repoContext);
        const report = await checkRepository(repo, { readData: true });
        assert.deepEqual(report.errors, []);
        assert.ok(report.packsRead > 0);
      }
    });
  });
}
