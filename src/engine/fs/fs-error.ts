import { getSystemErrorMap } from 'node:util';

/** The fields Node puts on an error from a system call (open, lstat, …). */
interface SystemError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
}

function isSystemError(err: unknown): err is SystemError {
  if (!(err instanceof Error)) return false;
  const e = err as Partial<SystemError>;
  return typeof e.code === 'string' && typeof e.errno === 'number' && typeof e.syscall === 'string';
}

/**
 * What went wrong, for a message that already names the entry: a system call's error becomes its
 * description and code (`permission denied (EACCES)`) without the path Node put in its message, which
 * for entries reached through a directory handle is a meaningless `/proc/self/fd/N/…`. Other errors
 * keep their message.
 */
export function describeError(err: unknown): string {
  if (!isSystemError(err)) return err instanceof Error ? err.message : String(err);
  const description = getSystemErrorMap().get(err.errno)?.[1];
  return description ? `${description} (${err.code})` : err.code;
}
