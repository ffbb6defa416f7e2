/**
 * The typed errors shared by every layer. Callers test them by class or by `code`, never by message text.
 * `exitCode` is what the CLI exits with when such an error reaches it (DESIGN.md's CLI contract).
 */
export abstract class FerryError extends Error {
  abstract readonly code: string;
  readonly exitCode: number = 1;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The object, file or record asked for does not exist. */
export class NotFoundError extends FerryError {
  readonly code = 'NOT_FOUND';
}

/** Something that must be created once already exists. */
export class AlreadyExistsError extends FerryError {
  readonly code = 'ALREADY_EXISTS';
}

/**
 * The request conflicts with the current state of a record (an action its state does not allow, a value
 * another record holds): retrying the same request will not help, changing the record first might.
 * Subclasses name the rule in `code`.
 */
export class ConflictError extends FerryError {
  readonly code: string = 'CONFLICT';
}

/** Stored bytes do not match what they claim to be (hash, length, authentication tag, format). */
export class IntegrityError extends FerryError {
  readonly code = 'INTEGRITY';
}

/** A failure that retrying will not fix: no space left, permission denied, invalid name. */
export class PermanentError extends FerryError {
  readonly code: string = 'PERMANENT';
}

/**
 * The storage refuses to write: a read-only file system, or no permission to write. Reading may still
 * work (a read-only mount, a snapshot of a repository), which is what `--no-lock` is for.
 */
export class ReadOnlyStorageError extends PermanentError {
  override readonly code = 'READ_ONLY';
}

/** The user asked for something that cannot be done; the message says what to do instead. */
export class UserError extends FerryError {
  readonly code: string = 'USER';
}

/** No repository at the given location (exit 10). */
export class RepositoryMissingError extends UserError {
  override readonly code = 'REPOSITORY_MISSING';
  override readonly exitCode = 10;
}

/** A lock held by another process blocks the operation (exit 11). */
export class LockHeldError extends UserError {
  override readonly code = 'LOCK_HELD';
  override readonly exitCode = 11;
}

/** No key slot opens with the given password (exit 12). */
export class WrongPasswordError extends UserError {
  override readonly code = 'WRONG_PASSWORD';
  override readonly exitCode = 12;
}

/** A request carries no credential, or one that is unknown, expired, revoked or malformed. */
export class AuthenticationError extends UserError {
  override readonly code: string = 'UNAUTHENTICATED';
}

/** The credential is valid but its role may not do this (a resource of another tenant is a `NotFoundError`). */
export class ForbiddenError extends UserError {
  override readonly code: string = 'FORBIDDEN';
}

/**
 * Another program's answer (the Ferry service's) does not have the shape this version of Ferry reads: most
 * likely the two are different versions. The message says what was wrong and what to do.
 */
export class UnexpectedAnswerError extends UserError {
  override readonly code = 'UNEXPECTED_ANSWER';
}

/** The operation was cancelled by a signal (exit 130). */
/**
 * A storage or service could not be reached, or kept failing, through every retry: nothing is wrong with
 * the request or the data, and the same command may succeed once it is back.
 */
export class UnavailableError extends FerryError {
  readonly code = 'UNAVAILABLE';
}

export class InterruptedError extends FerryError {
  readonly code = 'INTERRUPTED';
  override readonly exitCode = 130;
}

/** Adds what was being done when `cause` happened, keeping the cause's class reachable via `cause`. */
export function withContext(context: string, cause: unknown): Error {
  const message = cause instanceof Error ? cause.message : String(cause);
  if (cause instanceof FerryError) {
    const Ctor = cause.constructor as new (m: string, o?: { cause?: unknown }) => FerryError;
    return new Ctor(`${context}: ${message}`, { cause });
  }
  return new Error(`${context}: ${message}`, { cause });
}

/** True when `err` is a Node system error with the given errno code (ENOENT, EEXIST, …). */
export function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
