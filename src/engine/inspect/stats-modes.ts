/**
 * restic's counting modes:
 * - `restore-size`: every entry of every snapshot, and the bytes a restore writes (hard links once);
 * - `files-by-contents`: entries with distinct content (by their list of chunks), and their size;
 * - `raw-data`: the distinct blobs the snapshots use, and the bytes they occupy in packs;
 * - `blobs-per-file`: distinct files by content, then their blobs per path and those blobs' plaintext bytes.
 */
export type StatsMode = 'restore-size' | 'files-by-contents' | 'raw-data' | 'blobs-per-file';
export const STATS_MODES: readonly StatsMode[] = ['restore-size', 'files-by-contents', 'raw-data', 'blobs-per-file'];
