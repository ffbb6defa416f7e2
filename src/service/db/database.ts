import { closeSync, openSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, PostgresAdapter, SqliteDialect, sql, type SqliteDatabase as SqliteDialectDatabase } from 'kysely';
import { PermanentError, UserError } from '../../core/errors.js';
import type { DatabaseLocation } from './database-location.js';
import { migrationProvider } from './migrations/index.js';
import { openPostgresDatabase, type PostgresOptions } from './postgres-database.js';
import type { ServiceTables } from './schema.js';

export type { DatabaseLocation } from './database-location.js';
export { parseDatabaseUrl } from './database-location.js';

/** The service's database handle: every query goes through kysely's builder, portable to PostgreSQL. */
export type ServiceDatabase = Kysely<ServiceTables>;

/**
 * Opens the database at `location` ({@link openSqliteDatabase} or a checked PostgreSQL pool:
 * ./postgres-database.ts). Does not migrate. The caller closes it with `db.destroy()`.
 */
export async function openServiceDatabase(location: DatabaseLocation, postgres: PostgresOptions = {}): Promise<ServiceDatabase> {
  return location.kind === 'sqlite' ? openSqliteDatabase(location.path) : openPostgresDatabase(location.url, postgres);
}

/** How long a writer waits for another connection's lock before SQLite reports SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;

/**
 * Opens (creating if needed) the SQLite database at `path` (`:memory:` for tests) with write-ahead
 * logging, foreign keys enforced and a busy timeout. Does not migrate: call {@link migrateToLatest}.
 * The caller closes it with `db.destroy()`.
 */
export function openSqliteDatabase(path: string): ServiceDatabase {
  let sqlite: BetterSqlite3.Database;
  try {
    // Created owner-only: it holds token hashes and the tenants' records. SQLite gives -wal and -shm the same mode.
    if (path !== ':memory:') closeSync(openSync(path, 'a', 0o600));
    sqlite = new BetterSqlite3(path);
  } catch (err) {
    throw new PermanentError(`cannot open the service database ${path}: ${(err as Error).message}`, { cause: err });
  }
  // These are connection settings, not SQL the queries depend on; PostgreSQL needs none of them.
  if (path !== ':memory:') sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('foreign_keys = ON');
  // Deleted and overwritten content (a destroyed disk key, a plain key replaced by a sealed one) is zeroed, not left in free space.
  sqlite.pragma('secure_delete = ON');
  sqlite.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  return new Kysely<ServiceTables>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
}

/** Prepared statements kept per connection: the service's queries are a few hundred distinct texts. */
const CACHED_STATEMENTS = 256;

/**
 * `sqlite` with its prepared statements kept and reused by SQL text (least recently used out first): kysely
 * prepares every query anew, and compiling SQL was a tenth of a request's CPU. Safe to share: kysely runs one
 * query at a time per connection (a stream holds the connection until it ends), and SQLite re-prepares a
 * statement by itself when the schema changed.
 */
function withStatementCache(sqlite: BetterSqlite3.Database): SqliteDialectDatabase {
  const statements = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => sqlite.close(),
    prepare: (text: string) => {
      let statement = statements.get(text);
      if (statement === undefined) {
        statement = sqlite.prepare(text);
        if (statements.size >= CACHED_STATEMENTS) statements.delete(statements.keys().next().value!);
      } else {
        statements.delete(text);
      }
      statements.set(text, statement);
      return statement;
    },
  };
}

/** True when `db` talks to PostgreSQL (else SQLite). */
export function isPostgres(db: ServiceDatabase): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/**
 * On PostgreSQL, the schema the service's tables are in (the first of the search path): kysely's Migrator
 * looks for its own tables in every schema unless told which one, and would take another schema's for its own.
 */
async function migrationTableSchema(db: ServiceDatabase): Promise<{ migrationTableSchema?: string }> {
  if (!isPostgres(db)) return {};
  const { rows } = await sql<{ schema: string | null }>`SELECT current_schema() AS schema`.execute(db);
  const schema = rows[0]?.schema;
  if (!schema) throw new UserError('the database has no schema to create the service\'s tables in: the search_path names none that exists');
  return { migrationTableSchema: schema };
}

/** kysely's Migrator over the service's migrations, set up for `db`'s dialect (tests use it to migrate part way). */
export async function serviceMigrator(db: ServiceDatabase): Promise<Migrator> {
  return new Migrator({ db, provider: migrationProvider, ...(await migrationTableSchema(db)) });
}

/**
 * Applies every migration not yet applied, in order, each in its own transaction; idempotent (a second
 * run applies nothing). Returns the names applied by this call. On failure the database stays at the
 * last migration that succeeded and a `PermanentError` names the one that failed.
 */
export async function migrateToLatest(db: ServiceDatabase): Promise<string[]> {
  const migrator = await serviceMigrator(db);
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    const message = error instanceof Error ? error.message : JSON.stringify(error);
    throw new PermanentError(`database migration ${failed} failed: ${message}`, { cause: error });
  }
  return results.filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
