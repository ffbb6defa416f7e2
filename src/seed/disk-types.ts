/** Types shared by diskprep's copier, verifier and crypto workers. */

/** A staging file to put on a disk. */
export interface PlannedFile {
  readonly path: string;
  readonly size: number;
}

/** Counters a progress display samples; copying and verification add to them. */
export interface TransferProgress {
  bytes: number;
  files: number;
}

/** What verification found for one file of a disk (docs/disk-format.md, section 7). */
export type FileStatus = 'ok' | 'missing' | 'wrong-size' | 'bad-header' | 'damaged';

export interface FileCheck {
  readonly n: number;
  readonly path: string;
  readonly status: FileStatus;
  /** For `damaged`: the segments that do not authenticate (the others do). */
  readonly badSegments?: readonly number[];
  readonly detail?: string;
}
