import assert from 'node:assert/strict';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it, type TestContext } from 'node:test';
import pg from 'pg';
import { postgresServerForTest } from '../../src/service/testing/test-database.js';
import { LATEST_MIGRATION } from '../../src/service/db/migrations/index.js';
import { ferry, ferryOk, lastJson, makeTempDir, type TempDir } from './harness.js';
import { startServe, type ServeProcess } from './service-harness.js';

/**
 * `ferry serve --database postgres://…` and `--migrate-only` end to end through bin/ferry, and two instances
 * sharing one PostgreSQL database. Needs the server of FERRY_TEST_POSTGRES_URL (skipped without it, failing in CI).
 */
describe('ferry serve on PostgreSQL, end to end through bin/ferry', () => {
  const made: { tmp: TempDir; admin: pg.Client; database: string }[] = [];
  const serves: ServeProcess[] = [];
  after(async () => {
    for (const serve of serves) await serve.stop('SIGKILL');
    for (const { tmp, admin, database } of made) {
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
      await tmp.cleanup();
    }
  });

  /** A fresh database (byte-order collation) on the test server and a temporary folder, or undefined when skipped. */
  async function setUp(t: TestContext, name: string): Promise<{ url: string; tmp: TempDir } | undefined> {
    const server = postgresServerForTest(t);
    if (server === undefined) return undefined;
    const database = `ferry_e2e_${name}_${process.pid}`;
    const admin = new pg.Client({ connectionString: server });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`);
    const tmp = await makeTempDir('ferry-e2e-pg-');
    made.push({ tmp, admin, database });
    const url = new URL(server);
    url.pathname = `/${database}`;
    return { url: url.toString(), tmp };
  }

  it('--migrate-only applies the migrations once, needs no data directory, and names an unusable database without its password', async (t) => {
    const env = await setUp(t, 'migrate');
    if (env === undefined) return;
    const first = await ferryOk(['serve', '--migrate-only', '--database', env.url]);
    // Migrations are numbered from 0001 without gaps: the latest's number is how many there are.
    assert.equal(first.stdout.match(/^applied migration /gm)?.length, Number(LATEST_MIGRATION.slice(0, 4)), first.stdout);
    assert.match(first.stdout, new RegExp(`applied migration 0001-initial\n[\\s\\S]*applied migration ${LATEST_MIGRATION}\n`));
    // Again, from the environment variable: nothing to do.
    const again = await ferryOk(['serve', '--migrate-only'], { env: { FERRY_DATABASE_URL: env.url } });
    assert.match(again.stdout, /no migration to apply/);

    const refused = await ferry(['serve', '--migrate-only', '--database', 'postgres://ferry:s3cret-pw@127.0.0.1:1/nowhere']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /cannot use the database postgres:\/\/ferry:\*\*\*@127\.0\.0\.1:1\/nowhere/);
    assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
    assert.ok(!refused.stderr.includes('s3cret-pw'), 'the password is never printed');

    const notPostgres = await ferry(['serve', '--migrate-only', '--database', 'mysql://x@127.0.0.1/db']);
    assert.notEqual(notPostgres.code, 0);
    assert.match(notPostgres.stderr, /--database takes a PostgreSQL URL/);
  });

  it('two instances on one database serve the same tenants and tokens, with one service key', async (t) => {
    const env = await setUp(t, 'two');
    if (env === undefined) return;
    const dirOne = join(env.tmp.path, 'one');
    const dirTwo = join(env.tmp.path, 'two');
    const one = await startServe(dirOne, ['--database', env.url]);
    serves.push(one);
    const adminToken = (await readFile(join(dirOne, 'admin.token'), 'utf8')).trim();

    // Without the first instance's service key, the second is refused: it could not open the sealed disk keys.
    const keyless = await ferry(['serve', '--data-dir', dirTwo, '--listen', '127.0.0.1:0', '--database', env.url]);
    assert.notEqual(keyless.code, 0);
    assert.match(keyless.stderr, /service key .* is missing, but the database holds secrets sealed with service key/);

    const two = await startServe(join(env.tmp.path, 'two-keyed'), ['--database', env.url, '--service-key-file', join(dirOne, 'service.key')]);
    serves.push(two);
    await assert.rejects(access(join(env.tmp.path, 'two-keyed', 'admin.token')), 'only the first start of the service writes an admin token');

    const via = (serve: ServeProcess, token: string) => ({ env: { FERRY_SERVER: serve.url, FERRY_TOKEN: token } });
    await ferryOk(['tenant', 'create', 'acme', '--json'], via(one, adminToken));
    const tenants = lastJson<{ name: string }[]>((await ferryOk(['tenant', 'list', '--json'], via(two, adminToken))).stdout);
    assert.deepEqual(tenants.map((x) => x.name), ['acme']);
    // Names are unique ignoring case whichever instance is asked.
    const clash = await ferry(['tenant', 'create', 'ACME'], via(two, adminToken));
    assert.notEqual(clash.code, 0);
    const tenantAdmin = lastJson<{ token: string }>((await ferryOk(['token', 'create', '--role', 'tenant-admin', '--tenant', 'acme', '--json'], via(two, adminToken))).stdout);
    await ferryOk(['storage-account', 'create', 'files', '--json'], via(one, tenantAdmin.token));
    const accounts = lastJson<{ name: string }[]>((await ferryOk(['storage-account', 'list', '--json'], via(two, tenantAdmin.token))).stdout);
    assert.deepEqual(accounts.map((x) => x.name), ['files']);

    for (const serve of [one, two]) {
      const stopped = await serve.stop('SIGTERM');
      assert.equal(stopped.code, 0, stopped.stderr);
    }
  });
});
