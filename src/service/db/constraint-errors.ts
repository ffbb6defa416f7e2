import { AlreadyExistsError, NotFoundError } from '../../core/errors.js';

/** SQLite extended result codes (better-sqlite3's `code`) and PostgreSQL SQLSTATEs (pg's `code`). */
const UNIQUE_CODES = new Set(['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_PRIMARYKEY', '23505']);
const FOREIGN_KEY_CODES = new Set(['SQLITE_CONSTRAINT_FOREIGNKEY', '23503']);
/** Another connection's write got in the way: SQLite's busy codes, PostgreSQL's serialization failure and deadlock. */
const WRITE_CONFLICT_CODES = new Set(['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', '40001', '40P01']);

/** PostgreSQL cannot store the text: a NUL character (22021) or one the database's encoding lacks (22P05). SQLite stores any. */
const UNSTORABLE_TEXT_CODES = new Set(['22021', '22P05']);

function codeOf(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}

/** True when `err` is a unique or primary-key violation from SQLite or PostgreSQL. */
export function isUniqueViolation(err: unknown): boolean {
  return UNIQUE_CODES.has(codeOf(err) as string);
}

/** True when `err` is a foreign-key violation from SQLite or PostgreSQL. */
export function isForeignKeyViolation(err: unknown): boolean {
  return FOREIGN_KEY_CODES.has(codeOf(err) as string);
}

/** True when `err` says a concurrent writer got in the way, so running the transaction again on fresh reads may succeed. */
export function isWriteConflict(err: unknown): boolean {
  return WRITE_CONFLICT_CODES.has(codeOf(err) as string);
}

/** True when `err` is PostgreSQL refusing a text value it cannot store (a NUL character): the request's fault, not the service's. */
export function isUnstorableText(err: unknown): boolean {
  return UNSTORABLE_TEXT_CODES.has(codeOf(err) as string);
}

/**
 * Runs an insert and turns a unique violation into `AlreadyExistsError(whenDuplicate)` and a foreign-key
 * violation into `NotFoundError(whenMissingParent)`; other errors pass through unchanged.
 */
export async function insertOrExplain<T>(insert: () => Promise<T>, whenDuplicate: string, whenMissingParent = 'a referenced record does not exist'): Promise<T> {
  try {
    return await insert();
  } catch (err) {
    if (isUniqueViolation(err)) throw new AlreadyExistsError(whenDuplicate, { cause: err });
    if (isForeignKeyViolation(err)) throw new NotFoundError(whenMissingParent, { cause: err });
    throw err;
  }
}
