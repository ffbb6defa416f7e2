/**
 * The POSIX calls a restore needs that Node 20's fs lacks, from the native addon built out of
 * native/ferry_fs.c by `npm ci` (binding.gyp at the package root): nanosecond file times, creating
 * FIFOs, sockets and device nodes, and extended attributes (which also hold POSIX ACLs).
 *
 * Paths may be Buffers holding any bytes (file names need not be UTF-8) or strings (encoded as UTF-8, as
 * Node's fs does). Every function is synchronous. A failing system call throws an Error shaped like Node's
 * system errors (`code` such as 'ENOENT', 'EEXIST' or 'EPERM'; `errno`, `syscall`, `path`), so callers test
 * `err.code` exactly as they do for node:fs errors.
 */
import { createRequire } from 'node:module';
import { UserError } from '../../core/errors.js';
import { ADDON_PATH, PACKAGE_ROOT } from '../../os/native-addon.js';

/** What native/ferry_fs.c exports. */
interface FerryFsAddon {
  utimensat(
    path: Buffer,
    atimeSec: bigint,
    atimeNsec: number,
    mtimeSec: bigint,
    mtimeNsec: number,
    noFollow: boolean,
  ): void;
  mknod(path: Buffer, mode: number, dev: bigint): void;
  mkfifo(path: Buffer, mode: number): void;
  llistxattr(path: Buffer): Buffer[];
  lgetxattr(path: Buffer, name: Buffer): Buffer;
  lsetxattr(path: Buffer, name: Buffer, value: Buffer): void;
  setMmapThreshold(bytes: number): boolean;
  /** See directory-scan.ts. */
  scanDirectory(fd: number, wantXattrs: boolean): Promise<[Buffer, ArrayBuffer]>;
  /** FastCDC's inner loop; see GearScanner in src/engine/chunker/gear-scan.ts. Missing from an addon built before it. */
  gearScan?: (buf: Uint8Array, gear: Int32Array, h: number, i: number, end: number, mask: number) => number;
  /** See source-file.ts: open and first read of a backup's source file. Missing from an addon built before it. */
  openRead?: (dirFd: number, name: Buffer, flags: number, buffer: Uint8Array, offset: number, length: number) => Promise<[number, number, number]>;
  /** memmove of `source` into `target` at `targetOffset`. Missing from an addon built before it. */
  copyBytes?: (target: Uint8Array, targetOffset: number, source: Uint8Array) => void;
  // Restore block: calls on descriptors.
  createat(dirFd: number, name: Buffer, mode: number): number;
  unlinkat(dirFd: number, name: Buffer): void;
  futimens(fd: number, atimeSec: bigint, atimeNsec: number, mtimeSec: bigint, mtimeNsec: number): void;
  gcmOpenInto?: (key: Uint8Array, sealed: Uint8Array, aad: Uint8Array | undefined, target: Uint8Array, offset: number) => number;
  gcmSealInto?: (key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array | undefined, target: Uint8Array, offset: number) => number;
  /** Missing where the addon was built without SSE2 (see native/scrypt_romix.h). */
  scryptRomix?: (lanes: Uint8Array, r: number, N: number) => Promise<void>;
}

const NS_PER_SECOND = 1_000_000_000n;

let addon: FerryFsAddon | undefined;
let loadFailure: UserError | undefined;

/** Loads the addon on first use, so commands that never restore special files run without it. */
export function loadAddon(): FerryFsAddon {
  if (addon !== undefined) return addon;
  if (loadFailure !== undefined) throw loadFailure;
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH) as FerryFsAddon;
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    loadFailure = new UserError(
      `ferry's native addon ${ADDON_PATH} is missing or does not load (${reason}): run \`npm ci\` in ${PACKAGE_ROOT} to build it`,
      { cause },
    );
    throw loadFailure;
  }
  return addon;
}

/** The calls only some builds of the addon have; each has a JavaScript fallback with the same results. */
type OptionalCall = 'gearScan' | 'openRead' | 'copyBytes' | 'gcmOpenInto' | 'gcmSealInto' | 'scryptRomix';

/** The addon's call `name`, or undefined when the addon does not load or was built without it. */
function optionalCall<K extends OptionalCall>(name: K): FerryFsAddon[K] {
  try {
    return loadAddon()[name];
  } catch {
    return undefined;
  }
}

/**
 * The addon's gear scanner (FastCDC's inner loop in C), or undefined when the addon does not load or was
 * built before it had one: the chunker then uses its JavaScript scanner, which gives the same boundaries.
 */
export function nativeGearScan(): FerryFsAddon['gearScan'] {
  return optionalCall('gearScan');
}

/** The addon's fused open and first read (see source-file.ts), or undefined when it does not load or lacks it. */
export function nativeOpenRead(): FerryFsAddon['openRead'] {
  return optionalCall('openRead');
}

/**
 * `copyBytes(target, targetOffset, source)`: `target.set(source, targetOffset)` at memmove's speed also when
 * either lies in a SharedArrayBuffer, where V8 copies byte by byte unless both are aligned alike (a
 * chunk copied into an encoder worker's ring: about three times as fast, measured). Falls back to `set`
 * when the addon does not load or was built before it had copyBytes.
 */
export function bytesCopier(): (target: Uint8Array, targetOffset: number, source: Uint8Array) => void {
  return optionalCall('copyBytes') ?? ((target, targetOffset, source) => target.set(source, targetOffset));
}

function toBuffer(path: Buffer | string): Buffer {
  return typeof path === 'string' ? Buffer.from(path, 'utf8') : path;
}

/** Splits nanoseconds since the epoch into whole seconds and a nanosecond part in [0, 1e9), also before 1970. */
function splitNs(ns: bigint): [bigint, number] {
  let seconds = ns / NS_PER_SECOND;
  let nanoseconds = ns % NS_PER_SECOND;
  if (nanoseconds < 0n) {
    seconds -= 1n;
    nanoseconds += NS_PER_SECOND;
  }
  return [seconds, Number(nanoseconds)];
}

/**
 * Sets a file's access and modification times, to the nanosecond (utimensat(2)).
 *
 * @param atimeNs - access time in nanoseconds since the Unix epoch (negative before 1970).
 * @param mtimeNs - modification time, likewise.
 * @param options - `noFollow`: when true and `path` is a symbolic link, sets the link's own times instead of
 *   its target's.
 * @throws a Node-style system error (`code` 'ENOENT', 'EPERM', …) when the call fails; a `UserError` when
 *   the addon is not built.
 */
export function setTimesNs(
  path: Buffer | string,
  atimeNs: bigint,
  mtimeNs: bigint,
  options: { noFollow: boolean },
): void {
  const [atimeSec, atimeNsec] = splitNs(atimeNs);
  const [mtimeSec, mtimeNsec] = splitNs(mtimeNs);
  loadAddon().utimensat(toBuffer(path), atimeSec, atimeNsec, mtimeSec, mtimeNsec, options.noFollow);
}

/**
 * Creates a file system node (mknod(2)): a socket, FIFO, character or block device.
 *
 * @param mode - the file type bits (`fs.constants.S_IFSOCK`, `S_IFCHR`, …) or'ed with the permission bits;
 *   the process umask applies to the permissions, as for any mknod.
 * @param rdev - the device number as `fs.statSync(p, { bigint: true }).rdev` reports it (ignored for
 *   sockets and FIFOs).
 * @throws a Node-style system error: 'EEXIST' when `path` exists (not idempotent), 'EPERM' when creating a
 *   device without the privilege; a `UserError` when the addon is not built.
 */
export function makeNode(path: Buffer | string, mode: number, rdev: bigint): void {
  loadAddon().mknod(toBuffer(path), mode, rdev);
}

/**
 * Creates a FIFO (named pipe) (mkfifo(3)); the process umask applies to `mode`.
 *
 * @throws a Node-style system error: 'EEXIST' when `path` exists (not idempotent); a `UserError` when the
 *   addon is not built.
 */
export function makeFifo(path: Buffer | string, mode: number): void {
  loadAddon().mkfifo(toBuffer(path), mode);
}

/**
 * The names of a file's extended attributes (llistxattr(2)), as raw bytes in the order the file system
 * gives them: every namespace the process may see (`user.`, `security.`, `system.` for POSIX ACLs, and
 * `trusted.` only with CAP_SYS_ADMIN). Never follows a symlink at the end of `path`.
 * @throws a Node-style system error: 'ENOTSUP'/'EOPNOTSUPP' when the file system has no extended
 *   attributes (and on systems other than Linux), 'ENOENT', …; a `UserError` when the addon is not built.
 */
export function listXattrNames(path: Buffer | string): Buffer[] {
  return loadAddon().llistxattr(toBuffer(path));
}

/**
 * One extended attribute's value (lgetxattr(2)); never follows a symlink at the end of `path`.
 * @throws a Node-style system error: 'ENODATA' when the attribute does not exist (any more), 'ENOTSUP', …;
 *   a `UserError` when the addon is not built.
 */
export function getXattr(path: Buffer | string, name: Buffer): Buffer {
  return loadAddon().lgetxattr(toBuffer(path), name);
}

/**
 * Creates or replaces one extended attribute (lsetxattr(2)); never follows a symlink at the end of `path`.
 * Idempotent. POSIX ACLs are set as the `system.posix_acl_access`/`_default` attributes in the kernel's
 * binary form, exactly as {@link getXattr} returns them.
 * @throws a Node-style system error: 'EPERM' (e.g. `trusted.` or `security.capability` without the
 *   privilege, `user.` on a symlink), 'ENOTSUP'/'EOPNOTSUPP' (the file system has none), 'ENOSPC' (no room
 *   for more), …; a `UserError` when the addon is not built.
 */
export function setXattr(path: Buffer | string, name: Buffer, value: Buffer): void {
  loadAddon().lsetxattr(toBuffer(path), name, value);
}

/**
 * Gives every allocation of at least `bytes` its own memory mapping, returned to the system when freed
 * (glibc's mallopt(M_MMAP_THRESHOLD)). Without it glibc raises the threshold after large frees, and the
 * multi-MiB buffers of backups and restores stay in per-thread arenas: measured on the 1 GiB bench tree,
 * 1 MiB brings a full backup's peak RSS from ~380 to ~300 MiB at no measurable cost in time. Call it
 * first thing, before large buffers exist. Returns false where it does not apply (not glibc).
 * @throws a `UserError` when the addon is not built.
 */
export function setMmapThreshold(bytes: number): boolean {
  return loadAddon().setMmapThreshold(bytes);
}

// ---- Restore: calls on descriptors (the restore block of native/ferry_fs.c) ----

/**
 * Creates the new file `name` in the open directory `dirFd` (openat(2) with O_WRONLY|O_CREAT|O_EXCL|
 * O_NOFOLLOW|O_CLOEXEC) and returns its descriptor; `mode` is reduced by the umask. Reaching the
 * directory by its descriptor spares the kernel resolving a `/proc/self/fd/N/name` path.
 * @param name - one path segment's raw bytes.
 * @throws a Node-style system error: 'EEXIST' when anything is there (never followed), …
 */
export function createFileAt(dirFd: number, name: Uint8Array, mode: number): number {
  return loadAddon().createat(dirFd, asBuffer(name), mode);
}

/**
 * Removes the non-directory entry `name` of the open directory `dirFd` (unlinkat(2)).
 * @throws a Node-style system error: 'EISDIR' for a directory, 'ENOENT', …
 */
export function removeAt(dirFd: number, name: Uint8Array): void {
  loadAddon().unlinkat(dirFd, asBuffer(name));
}

/** Sets the access and modification times of an open file, to the nanosecond (futimens(3)). */
export function setFileTimesNs(fd: number, atimeNs: bigint, mtimeNs: bigint): void {
  const [atimeSec, atimeNsec] = splitNs(atimeNs);
  const [mtimeSec, mtimeNsec] = splitNs(mtimeNs);
  loadAddon().futimens(fd, atimeSec, atimeNsec, mtimeSec, mtimeNsec);
}

/**
 * AES-256-GCM open of `nonce(12) ‖ ciphertext ‖ tag(16)` straight into `target` at `offset` (OpenSSL's
 * EVP calls, which Node exports to addons): returns the plaintext's length, or -1 when authentication
 * fails. Undefined when the addon does not load or predates the call (callers use node:crypto then).
 * Node's decipher returns a new buffer per update: garbage that piles up in a thread's malloc arena until
 * V8 collects it (~30 MiB per restore writer thread).
 */
export function nativeGcmOpenInto(): FerryFsAddon['gcmOpenInto'] {
  return optionalCall('gcmOpenInto');
}

/**
 * AES-256-GCM seal of `plaintext` into `target` at `offset` as `nonce(12) ‖ ciphertext ‖ tag(16)`, the
 * nonce being the 12 bytes already at `target[offset..]`; returns the bytes written. Undefined without the
 * addon (callers use node:crypto then). Node's cipher returns a new buffer per update: in an encoder worker
 * that garbage grew its malloc arena by ~20 MiB in a backup.
 */
export function nativeGcmSealInto(): FerryFsAddon['gcmSealInto'] {
  return optionalCall('gcmSealInto');
}

/**
 * scrypt's ROMix of every 128*r-byte lane of `lanes`, in place, on libuv's thread pool (see
 * native/scrypt_romix.h and src/engine/crypto/scrypt.ts). Undefined when the addon does not load, predates
 * the call or was built where there is no SSE2 (callers use node:crypto's scrypt then).
 */
export function nativeScryptRomix(): FerryFsAddon['scryptRomix'] {
  return optionalCall('scryptRomix');
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
