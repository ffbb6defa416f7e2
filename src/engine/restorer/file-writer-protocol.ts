import type { Id } from '../../core/ids.js';
import type { Compression } from '../compress/zstd.js';
import type { BlobType } from '../pack/pack-format.js';

/**
 * Messages between a restore's main thread and its file writers (see FileWriters). The main thread
 * reads sealed blobs; a writer authenticates, decrypts and decompresses them and writes them into the
 * file with synchronous system calls, so a restore pays no thread hand-off per write. Read buffers are
 * transferred to the writer and back, not copied. Messages go in batches (one per turn of the main
 * thread's event loop), so a directory of small files costs a few messages, not several per file.
 */
export interface FileWriterSetup {
  readonly encryptionKey: Uint8Array;
  /**
   * Bytes of each writer's write-behind ring (see FileWriterCore): large blobs are written by libuv's
   * thread pool while the writer decodes the next ones. 0 or absent: every write synchronous.
   */
  readonly writeBehind?: number;
  /**
   * The main thread creates each file (openat through its folder's descriptor) and hands the descriptor
   * over, so the writers, the slowest stage, spend no time in ext4's inode allocation.
   */
  readonly createOnMain?: boolean;
}

/**
 * A file to write, in one of three forms. `create`: the writer creates `path` (O_EXCL|O_NOFOLLOW, replacing
 * a non-directory in the way) with `mode` less the umask, as `name` inside the open directory `dirFd` when
 * given (the main thread keeps it open until the file is finished), so the kernel need not resolve a
 * `/proc/self/fd/N/name` path. `created`: the main thread created it (see FileWriterSetup.createOnMain) and
 * the writer owns `fd` now. `failed`: the main thread could not create it; the error shows at its finish.
 */
export type OpenRequest = { readonly kind: 'open'; readonly file: number } & (CreateFile | { readonly fd: number } | { readonly error: WireError });

/** Where and how a writer creates a file (see OpenRequest). */
export interface CreateFile {
  readonly path: Uint8Array;
  readonly at?: { readonly dirFd: number; readonly name: Uint8Array };
  readonly mode: number;
}

/** One sealed blob inside a write's buffer, and where its plaintext goes in the file. */
export interface BlobWrite {
  readonly type: BlobType;
  readonly id: Id;
  readonly compression: Compression;
  readonly rawLength: number;
  /** Where the sealed bytes start in the buffer, and how many. */
  readonly at: number;
  readonly length: number;
  /** Where the plaintext goes in the file. */
  readonly position: number;
}

export interface WriteRequest {
  readonly kind: 'write';
  readonly file: number;
  /** Which of the batch's buffers holds the blobs. */
  readonly buffer: number;
  readonly blobs: readonly BlobWrite[];
}

/**
 * Completes the file: with `abort`, only closes it (the main thread failed and removes it); otherwise
 * extends it to `size` (a trailing hole), sets owner and mode when given, sets its times when `mtimeNs`
 * is given (on the open file, last), and closes it.
 */
export interface FinishRequest {
  readonly kind: 'finish';
  readonly file: number;
  readonly abort: boolean;
  readonly size: number;
  readonly owner?: { readonly uid: number; readonly gid: number };
  readonly mode?: number;
  readonly mtimeNs?: bigint;
}

export type FileWriterOp = OpenRequest | WriteRequest | FinishRequest;

/**
 * What the main thread gathered since its last batch, in order: files to create, blobs to write, files
 * to complete. The buffers (sealed bytes read from packs, each holding blobs of one or more files) are
 * handed over whole and come back in the {@link BatchReply}.
 */
export interface BatchRequest {
  readonly buffers: ArrayBuffer[];
  readonly ops: readonly FileWriterOp[];
}

/** An error as it crosses threads: a system call's fields, or a blob that failed authentication. */
export interface WireError {
  readonly message: string;
  readonly code?: string;
  readonly errno?: number;
  readonly syscall?: string;
  /** A directory stands where the file goes. */
  readonly inTheWay?: boolean;
  /** The blob that did not decode (damaged, or another key). */
  readonly damagedBlob?: Id;
}

export interface FinishedReply {
  readonly file: number;
  /** Why the file could not be created or written (it is then incomplete and must be removed). */
  readonly error?: WireError;
  /** Why its times could not be set (the content is complete). */
  readonly timesError?: WireError;
}

/**
 * A batch done: its buffers back (as soon as its blobs are decoded), and how each file completed since the
 * last reply went (a file whose writes ran behind completes later; its reply may come alone, without buffers).
 */
export interface BatchReply {
  readonly buffers: ArrayBuffer[];
  readonly finished: FinishedReply[];
}
