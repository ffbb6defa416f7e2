import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { sql } from 'kysely';
import { migrateToLatest, openServiceDatabase, type DatabaseLocation, type ServiceDatabase } from '../db/database.js';

/**
 * Which database the service tests run on. The test runner (scripts/run-tests.mjs) runs the files that use
 * this factory once on SQLite and, when {@link POSTGRES_URL_ENV} names a server, a second time with
 * {@link DATABASE_KIND_ENV}=postgres.
 */
export const DATABASE_KIND_ENV = 'FERRY_TEST_DATABASE';
/** A PostgreSQL server the tests may use (`postgres://ferry@127.0.0.1:PORT/postgres`): scripts/test-postgres.sh prints one. */
export const POSTGRES_URL_ENV = 'FERRY_TEST_POSTGRES_URL';

export type TestDatabaseKind = 'sqlite' | 'postgres';

/** The kind this run of the tests uses: `postgres` when {@link DATABASE_KIND_ENV} says so, else `sqlite`. */
export function testDatabaseKind(): TestDatabaseKind {
  return process.env[DATABASE_KIND_ENV] === 'postgres' ? 'postgres' : 'sqlite';
}

/** A fresh, empty service database of this run's kind. */
export interface TestDatabase {
  readonly kind: TestDatabaseKind;
  readonly db: ServiceDatabase;
  /** Where it is: what `ferry serve --database` or `startService` of a second instance is given. */
  readonly location: DatabaseLocation;
  /** Opens another connection (pool) to the same database, as another service instance would; closed by {@link close}. */
  openAnother(): Promise<ServiceDatabase>;
  /** Closes every connection and removes the database. */
  close(): Promise<void>;
}

export interface TestDatabaseOptions {
  /** Apply every migration first (default true). */
  readonly migrate?: boolean;
  /** On SQLite: a file instead of `:memory:`, so that {@link TestDatabase.openAnother} reaches it (default false). */
  readonly shared?: boolean;
}

/**
 * Opens a fresh service database: on SQLite `:memory:` (or a file in a temporary folder when `shared`); on
 * PostgreSQL a schema of the server named by {@link POSTGRES_URL_ENV} (search_path in the URL): a new one,
 * or an emptied one this process used before; `close` empties it again (or drops it when not migrated).
 * The schemas a process leaves are dropped with the database the test runner made for the run
 * (scripts/run-tests.mjs). Throws when the run is on PostgreSQL and no server is named (never falls back to SQLite).
 */
export async function openTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const kind = testDatabaseKind();
  const others: ServiceDatabase[] = [];
  let location: DatabaseLocation;
  let removeDatabase: (db: ServiceDatabase) => Promise<void>;
  let fresh = true;
  if (kind === 'postgres') {
    const server = process.env[POSTGRES_URL_ENV];
    if (!server) throw new Error(`${DATABASE_KIND_ENV}=postgres needs ${POSTGRES_URL_ENV} (scripts/test-postgres.sh start DIR prints it)`);
    const migrated = options.migrate !== false;
    const spare = migrated ? spareSchemas.pop() : undefined;
    const schema = spare ?? (await createSchema(server));
    const url = new URL(server);
    url.searchParams.set('options', `-c search_path=${schema}`);
    location = { kind: 'postgres', url: url.toString() };
    fresh = spare === undefined;
    // Migrating takes ~0.2 s, emptying ~10 ms: a migrated schema is emptied and kept for this process's next database.
    removeDatabase = migrated
      ? async (db) => {
          await emptySchema(db);
          spareSchemas.push(schema);
        }
      : async (db) => void (await sql`DROP SCHEMA ${sql.id(schema)} CASCADE`.execute(db));
  } else if (options.shared === true) {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-test-db-'));
    location = { kind: 'sqlite', path: join(dir, 'ferry.sqlite') };
    removeDatabase = () => rm(dir, { recursive: true, force: true });
  } else {
    location = { kind: 'sqlite', path: ':memory:' };
    removeDatabase = () => Promise.resolve();
  }
  // Small pools: a test file may hold dozens of databases open at once.
  const open = () => openServiceDatabase(location, { poolSize: 4 });
  const db = await open();
  if (options.migrate !== false && fresh) await migrateToLatest(db);
  return {
    kind,
    db,
    location,
    openAnother: async () => {
      const another = await open();
      others.push(another);
      return another;
    },
    close: async () => {
      for (const other of others) await other.destroy();
      try {
        if (kind === 'postgres') await removeDatabase(db);
      } finally {
        await db.destroy();
      }
      if (kind === 'sqlite') await removeDatabase(db);
    },
  };
}

/**
 * Migrated, empty schemas of this process (PostgreSQL), for the next {@link openTestDatabase}. A schema is
 * taken (`pop`, no await between looking and taking) by one database at a time and put back only once
 * emptied, so two open databases never share one; schemas are dropped only when never migrated. (A
 * `schema "test_…" does not exist` once seen in the PostgreSQL pass came from the Migrator's introspection
 * meeting a schema another test process dropped: db/schema-introspector.ts.)
 */
const spareSchemas: string[] = [];

async function createSchema(server: string): Promise<string> {
  const schema = `test_${process.pid}_${randomBytes(6).toString('hex')}`;
  const admin = await openServiceDatabase({ kind: 'postgres', url: server }, { poolSize: 1 });
  try {
    await sql`CREATE SCHEMA ${sql.id(schema)}`.execute(admin);
  } finally {
    await admin.destroy();
  }
  return schema;
}

/**
 * Removes every row of the service's tables (the migrations' own tables keep theirs). DELETE with the
 * foreign-key triggers off (the test cluster's user is a superuser): TRUNCATE makes new files for every
 * table and index and takes ten times as long.
 */
async function emptySchema(db: ServiceDatabase): Promise<void> {
  const { rows } = await sql<{ name: string }>`
    SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() AND tablename NOT LIKE 'kysely_%'`.execute(db);
  // One round trip: a query without parameters may hold several statements, run as one transaction.
  const deletes = rows.map(({ name }) => `DELETE FROM "${name}";`).join(' ');
  await sql.raw(`SET LOCAL session_replication_role = replica; ${deletes}`).execute(db);
}

/**
 * The URL of the PostgreSQL server for tests that need one whatever this run's kind (several instances,
 * `ferry serve --database`). Without one the test is skipped, except in CI (CI=true), where it fails.
 */
export function postgresServerForTest(t: TestContext): string | undefined {
  const url = process.env[POSTGRES_URL_ENV];
  if (url) return url;
  if (process.env.CI === 'true') throw new Error(`${POSTGRES_URL_ENV} is not set: .ci/run starts PostgreSQL (scripts/test-postgres.sh) and must export it`);
  t.skip(`no PostgreSQL: set ${POSTGRES_URL_ENV} (scripts/test-postgres.sh start DIR prints it)`);
  return undefined;
}
