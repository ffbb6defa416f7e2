import { lstat, readdir } from 'node:fs/promises';
import { bytePath, joinBytePath } from '../fs/byte-path.js';
import type { Excludes } from './excludes.js';

export interface ScanTotals {
  files: number;
  bytes: number;
  finished: boolean;
}

/**
 * Counts the files and bytes below `paths` (metadata only) so progress can show an ETA. Runs beside
 * the backup; unreadable entries are ignored here (the archiver reports them). Stops early on abort.
 */
export async function scanTotals(paths: readonly string[], excludes: Excludes, totals: ScanTotals, signal?: AbortSignal): Promise<void> {
  const visit = async (path: Buffer): Promise<void> => {
    if (signal?.aborted) return;
    let st;
    try {
      st = await lstat(path);
    } catch {
      return;
    }
    if (!excludes.empty && (await excludes.excluded(path, st))) return;
    if (st.isDirectory()) {
      let names: Buffer[] = [];
      try {
        names = await readdir(path, { encoding: 'buffer' });
      } catch {
        return;
      }
      for (const name of names) await visit(joinBytePath(path, name));
      return;
    }
    totals.files++;
    if (st.isFile()) totals.bytes += st.size;
  };
  for (const path of paths) await visit(bytePath(path));
  totals.finished = true;
}
