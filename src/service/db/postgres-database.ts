import { Kysely, PostgresDialect, sql, type DatabaseIntrospector } from 'kysely';
import pg from 'pg';
import { PermanentError, UserError } from '../../core/errors.js';
import type { ServiceTables } from './schema.js';
import { CurrentSchemaIntrospector } from './schema-introspector.js';

/** PostgreSQL type OIDs whose text the service reads as numbers (schema.ts: counts and byte totals are numbers). */
const INT8_OID = 20;
const NUMERIC_OID = 1700;

/** Collations under which text compares by bytes, as in SQLite: the only ones the service accepts. */
const BYTE_ORDER_COLLATIONS = new Set(['C', 'POSIX', 'C.UTF-8', 'C.utf8', 'ucs_basic']);

/** The oldest PostgreSQL the service is tested on (Debian 12's). */
const MIN_SERVER_VERSION = 150000;

export interface PostgresOptions {
  /** Connections in the pool; default 10. */
  readonly poolSize?: number;
}

/**
 * Int8 (`bigint`, what COUNT(*) returns) and numeric (what SUM(bigint) returns) as JavaScript numbers:
 * every such value the service stores is a count or a byte total below 2^53. A larger one is refused
 * rather than rounded.
 */
function parseWholeNumber(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new PermanentError(`the database returned ${text}, not a whole number the service can hold`);
  return value;
}

/** pg's parser of a type, with ours for int8 and numeric. */
function serviceTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
  if (oid === INT8_OID || oid === NUMERIC_OID) return parseWholeNumber;
  return pg.types.getTypeParser(oid, format ?? 'text') as (value: string) => unknown;
}

/** Given to this pool only: pg's global parsers stay as they are. */
const serviceTypes: pg.CustomTypesConfig = { getTypeParser: serviceTypeParser as pg.CustomTypesConfig['getTypeParser'] };

/** `postgres://user:password@host/db` with the password replaced, for messages and logs. */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres://…';
  }
}

/**
 * Opens a pool of connections to the PostgreSQL database at `url` (`postgres://` or `postgresql://`; a
 * password is better given by PGPASSWORD or ~/.pgpass than in the URL; `?options=-c%20search_path%3DNAME`
 * keeps the service's tables in schema NAME) and checks, with one query, that
 * it can be used: the server answers (else `UserError` naming the database, password hidden), is
 * PostgreSQL 15 or newer, and the database compares text by bytes (collation C: `UserError` saying how to
 * create one). Does not migrate. The caller closes it with `db.destroy()`.
 */
export async function openPostgresDatabase(url: string, options: PostgresOptions = {}): Promise<Kysely<ServiceTables>> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    types: serviceTypes,
  });
  // An idle connection the server closed (a restart, a timeout) leaves the pool; the next query opens another.
  // Without a listener, pg would throw the error at the process.
  pool.on('error', () => undefined);
  const db = new Kysely<ServiceTables>({ dialect: new ServicePostgresDialect({ pool }) });
  try {
    await checkServer(db, url);
    return db;
  } catch (err) {
    await db.destroy();
    throw err;
  }
}

/** kysely's PostgreSQL dialect, whose introspection (what the Migrator asks) sees only the service's schema. */
class ServicePostgresDialect extends PostgresDialect {
  override createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new CurrentSchemaIntrospector(db);
  }
}

async function checkServer(db: Kysely<ServiceTables>, url: string): Promise<void> {
  let row: { version: number; collation: string } | undefined;
  try {
    const result = await sql<{ version: number; collation: string }>`
      SELECT current_setting('server_version_num')::int AS version, datcollate AS collation
      FROM pg_database WHERE datname = current_database()`.execute(db);
    row = result.rows[0];
  } catch (err) {
    throw new UserError(`cannot use the database ${redactDatabaseUrl(url)}: ${(err as Error).message}`, { cause: err });
  }
  if (row === undefined) throw new UserError(`cannot use the database ${redactDatabaseUrl(url)}: it does not list itself in pg_database`);
  if (row.version < MIN_SERVER_VERSION) throw new UserError(`the database ${redactDatabaseUrl(url)} runs PostgreSQL ${row.version}: Ferry needs 15 or newer`);
  if (!BYTE_ORDER_COLLATIONS.has(row.collation)) {
    throw new UserError(
      `the database ${redactDatabaseUrl(url)} sorts text by the collation ${row.collation}; Ferry needs byte order: ` +
        `create it with CREATE DATABASE … TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C' ENCODING 'UTF8'`,
    );
  }
}
