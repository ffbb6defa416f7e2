import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import type { ServiceFixture } from './service-fixture.js';
import { testDatabaseKind } from './test-database.js';

/** A fixture's state at one moment, to go back to: every table's rows, the data directory's files, the clock. */
export interface FixtureSnapshot {
  /**
   * Puts the fixture back as it was when the snapshot was taken: every table holds exactly its rows again
   * (one transaction; foreign keys are checked at its end on SQLite and not at all on PostgreSQL, as the
   * rows were consistent when taken), the data directory holds exactly its files again, the clock is reset.
   * What the server keeps in memory (throttle counters, metrics) is not reset.
   */
  restore(): Promise<void>;
}

type AnyDatabase = Kysely<Record<string, Record<string, unknown>>>;

/**
 * Takes a {@link FixtureSnapshot} of `fixture`: how a test gives every case a fresh copy of one world
 * without building a server and the world again (milliseconds instead of a few hundred). Meant for the
 * small worlds of tests: the data directory's files are kept in memory.
 */
export async function snapshotFixture(fixture: ServiceFixture): Promise<FixtureSnapshot> {
  const db = fixture.db as unknown as AnyDatabase;
  const postgres = testDatabaseKind() === 'postgres';
  // On PostgreSQL the introspection lists every schema's tables: the service's are in the current one.
  const schema = postgres ? (await sql<{ schema: string }>`SELECT current_schema() AS schema`.execute(db)).rows[0]!.schema : undefined;
  const tables = (await db.introspection.getTables()).filter((t) => !t.isView && t.schema === schema).map((t) => t.name);
  const rows = new Map<string, Record<string, unknown>[]>();
  for (const table of tables) rows.set(table, (await sql<Record<string, unknown>>`SELECT * FROM ${sql.table(table)}`.execute(db)).rows);
  const savedFiles = filesOf(fixture.dataDir);
  const now = fixture.clock.now();
  const snapshot: FixtureSnapshot = {
    restore: async () => {
      const currentFiles = filesOf(fixture.dataDir);
      // A database nobody wrote to since this snapshot's last restore is left as it is.
      const last = lastRestore.get(fixture.db);
      const untouched = last?.snapshot === snapshot && last.writes === (await writesOf(db, tables, postgres));
      if (!untouched) {
        await db.transaction().execute(async (trx) => {
          await (postgres ? sql`SET LOCAL session_replication_role = replica` : sql`PRAGMA defer_foreign_keys = ON`).execute(trx);
          for (const table of tables) await trx.deleteFrom(table).execute();
          for (const [table, saved] of rows) if (saved.length > 0) await trx.insertInto(table).values(saved).execute();
        });
        lastRestore.set(fixture.db, { snapshot, writes: await writesOf(db, tables, postgres) });
      }
      restoreFiles(fixture.dataDir, currentFiles, savedFiles);
      fixture.clock.advance(now - fixture.clock.now());
    },
  };
  return snapshot;
}

/** Per database: the snapshot restored last, and {@link writesOf} right after. */
const lastRestore = new WeakMap<object, { snapshot: FixtureSnapshot; writes: string }>();

/**
 * A value that changes with every write to the tables: on SQLite the (one) connection's count of rows
 * inserted, changed or deleted since it opened; on PostgreSQL each table's row count and the sum of its
 * rows' creating transaction ids (an insert or update makes a row version of a newer transaction).
 */
async function writesOf(db: AnyDatabase, tables: readonly string[], postgres: boolean): Promise<string> {
  const query = postgres
    ? sql<{ writes: string }>`SELECT concat_ws(',', ${sql.join(tables.map((t) => sql`(SELECT count(*) || '/' || coalesce(sum(xmin::text::bigint), 0) FROM ${sql.table(t)})`))}) AS writes`
    : sql<{ writes: string }>`SELECT total_changes() AS writes`;
  return String((await query.execute(db)).rows[0]!.writes);
}

/** The files under `root` by relative path, with their bytes; folders by a trailing `/` and no bytes. */
function filesOf(root: string, under = ''): Map<string, Buffer | null> {
  const found = new Map<string, Buffer | null>();
  for (const entry of readdirSync(join(root, under), { withFileTypes: true })) {
    const path = join(under, entry.name);
    if (entry.isDirectory()) {
      found.set(`${path}/`, null);
      for (const [inner, bytes] of filesOf(root, path)) found.set(inner, bytes);
    } else {
      found.set(path, readFileSync(join(root, path)));
    }
  }
  return found;
}

/** Makes the tree under `root` hold exactly `files` (as {@link filesOf} read them); synchronous, as the tree is small. */
function restoreFiles(root: string, current: ReadonlyMap<string, Buffer | null>, files: ReadonlyMap<string, Buffer | null>): void {
  // What was not there goes (a folder with what is in it).
  for (const path of current.keys()) if (!files.has(path)) rmSync(join(root, path), { recursive: true, force: true });
  // filesOf lists a folder before what is in it.
  for (const [path, bytes] of files) {
    if (bytes === null) mkdirSync(join(root, path), { recursive: true });
    else if (!(current.get(path)?.equals(bytes) ?? false)) writeFileSync(join(root, path), bytes);
  }
}
