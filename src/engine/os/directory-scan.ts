/**
 * A directory's entries with their lstat results, read in one go on libuv's thread pool by the native
 * addon (`scanDirectory` in native/ferry_fs.c): names sorted by bytes, each entry `fstatat`ed relative to
 * the open directory (no `/proc/self/fd/N/name` path lookups, no thread-pool round trip per entry), and
 * whether it has extended attributes at all, so they are read only for the entries that have some.
 * Several directories can be scanned at once, which keeps a cold disk busy with several inode reads.
 */
import { constants } from 'node:fs';
import { loadAddon } from './posix-extras.js';

/** Slots per entry in the addon's stats array (`enum scan_slot` in native/ferry_fs.c). */
const SLOTS = 13;
const DEV = 0;
const INO = 1;
const MTIME_NS = 2;
const CTIME_NS = 3;
const RDEV = 4;
const SIZE = 5;
const MODE = 6;
const NLINK = 7;
const UID = 8;
const GID = 9;
const STATUS = 10;
const XATTRS = 11;
const NAME_LENGTH = 12;

const { S_IFMT, S_IFREG, S_IFDIR, S_IFLNK, S_IFIFO, S_IFSOCK, S_IFCHR } = constants;

/** An entry's lstat result, with the names and types of Node's `BigIntStats` for the fields a tree stores. */
export class ScannedStat {
  constructor(
    readonly dev: bigint,
    readonly ino: bigint,
    readonly mode: number,
    readonly nlink: number,
    readonly uid: number,
    readonly gid: number,
    readonly rdev: bigint,
    readonly size: number,
    readonly mtimeNs: bigint,
    readonly ctimeNs: bigint,
  ) {}

  isFile(): boolean {
    return (this.mode & S_IFMT) === S_IFREG;
  }
  isDirectory(): boolean {
    return (this.mode & S_IFMT) === S_IFDIR;
  }
  isSymbolicLink(): boolean {
    return (this.mode & S_IFMT) === S_IFLNK;
  }
  isFIFO(): boolean {
    return (this.mode & S_IFMT) === S_IFIFO;
  }
  isSocket(): boolean {
    return (this.mode & S_IFMT) === S_IFSOCK;
  }
  isCharacterDevice(): boolean {
    return (this.mode & S_IFMT) === S_IFCHR;
  }
}

/** One entry of a scanned directory. */
export interface ScannedEntry {
  readonly name: Buffer;
  /** Undefined when the entry could not be looked at (the caller asks again to get the error). */
  readonly st: ScannedStat | undefined;
  /** False when the entry has no extended attributes (or they were not asked for). */
  readonly hasXattrs: boolean;
}

/**
 * The entries of the open directory `fd`, sorted by name bytes. `fd` must stay open until this settles.
 * @throws a Node-style system error (`code`, `errno`, `syscall`) when the directory cannot be read; a
 *   `UserError` when the native addon is not built.
 */
export async function scanDirectory(fd: number, wantXattrs: boolean): Promise<ScannedEntry[]> {
  const [names, stats] = await loadAddon().scanDirectory(fd, wantXattrs);
  const signed = new BigInt64Array(stats);
  const unsigned = new BigUint64Array(stats);
  const numbers = new Float64Array(stats);
  const entries: ScannedEntry[] = [];
  const count = numbers.length / SLOTS;
  for (let i = 0, at = 0, start = 0; i < count; i++, at += SLOTS) {
    const end = start + numbers[at + NAME_LENGTH]!;
    const name = names.subarray(start, end);
    start = end;
    const st =
      numbers[at + STATUS] !== 0
        ? undefined
        : new ScannedStat(
            unsigned[at + DEV]!,
            unsigned[at + INO]!,
            numbers[at + MODE]!,
            numbers[at + NLINK]!,
            numbers[at + UID]!,
            numbers[at + GID]!,
            unsigned[at + RDEV]!,
            numbers[at + SIZE]!,
            signed[at + MTIME_NS]!,
            signed[at + CTIME_NS]!,
          );
    entries.push({ name, st, hasXattrs: numbers[at + XATTRS] !== 0 });
  }
  return entries;
}
