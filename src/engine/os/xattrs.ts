/**
 * Reading and writing all of an entry's extended attributes at once (POSIX ACLs included: they are the
 * `system.posix_acl_access` and `system.posix_acl_default` attributes). Built on the native addon's
 * l*xattr calls, so a symlink's own attributes are read and written, never its target's.
 */
import { isErrno } from '../../core/errors.js';
import { sortXattrs, type Xattr } from '../snapshot/tree-format.js';
import { getXattr, listXattrNames, setXattr } from './posix-extras.js';

/** One attribute that could not be read or set, and the system error why. */
export interface XattrFailure {
  readonly name: Buffer;
  readonly error: unknown;
}

/** True for the errors of a file system (or OS) without extended attributes. */
export function isUnsupported(err: unknown): boolean {
  return isErrno(err, 'ENOTSUP') || isErrno(err, 'EOPNOTSUPP');
}

/**
 * Every attribute of the entry at `path` the process may read, sorted by name bytes. A file system
 * without extended attributes gives none; an attribute removed between listing and reading is left out.
 * @returns the attributes, and the ones that exist but could not be read.
 * @throws the system error of listing the names (other than "not supported"), e.g. ENOENT.
 */
export function readXattrs(path: Buffer): { xattrs: Xattr[]; failures: XattrFailure[] } {
  let names: Buffer[];
  try {
    names = listXattrNames(path);
  } catch (err) {
    if (isUnsupported(err)) return { xattrs: [], failures: [] };
    throw err;
  }
  const xattrs: Xattr[] = [];
  const failures: XattrFailure[] = [];
  for (const name of names) {
    try {
      xattrs.push({ name, value: getXattr(path, name) });
    } catch (err) {
      if (!isErrno(err, 'ENODATA')) failures.push({ name, error: err });
    }
  }
  return { xattrs: sortXattrs(xattrs), failures };
}

/**
 * Sets each attribute on the entry at `path`, in name order; one that fails does not stop the others.
 * Attributes the entry has but `xattrs` lacks are left alone.
 * @returns the attributes that could not be set, with the system error of each.
 */
export function writeXattrs(path: Buffer, xattrs: readonly Xattr[]): XattrFailure[] {
  const failures: XattrFailure[] = [];
  for (const { name, value } of xattrs) {
    try {
      setXattr(path, name, value);
    } catch (err) {
      failures.push({ name, error: err });
    }
  }
  return failures;
}

/**
 * Why an attribute could not be read or set, in words, without the path the system call was given (which
 * may be a `/proc/self/fd/N/…` handle path, meaningless to the user).
 */
export function xattrFailureReason(failure: XattrFailure, action: 'read' | 'set'): string {
  const { error } = failure;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const name = failure.name.toString('latin1');
  if (isUnsupported(error)) return `${code}: the file system does not support extended attributes (or this namespace)`;
  if (code === 'EPERM' || code === 'EACCES') {
    if (action === 'set' && (name.startsWith('trusted.') || name.startsWith('security.'))) return `${code}: setting trusted. and security. attributes needs root (CAP_SYS_ADMIN, CAP_SETFCAP for security.capability)`;
    if (action === 'set' && name.startsWith('system.posix_acl_')) return `${code}: only the owner or root may set an ACL`;
    return `${code}: permission denied`;
  }
  if (code === 'ENOSPC' || code === 'E2BIG' || code === 'EDQUOT') return `${code}: no room for the attribute on this file system`;
  if (code === 'EINVAL') return `${code}: the file system refused the value`;
  const message = error instanceof Error ? error.message : String(error);
  // Node-style messages end with ", syscall 'path'"; keep the code and its description only.
  return message.replace(/, l?[a-z]+xattr '.*'$/s, '');
}
