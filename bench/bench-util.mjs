// Helpers the bench steps share: medians, formatting, and what a staging location carries onto disks.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The folders of a repository that travel on disks (docs/disk-format.md, section 1). */
export const CARRIED = ['data', 'index', 'snapshots'];

/** Files and bytes under data/, index/ and snapshots/ of a repository (temp files left out). */
export function carried(staging) {
  let files = 0;
  let bytes = 0;
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && !entry.name.startsWith('.tmp-')) {
        files++;
        bytes += statSync(path).size;
      }
    }
  };
  for (const folder of CARRIED) walk(join(staging, folder));
  return { files, bytes };
}

/** The median of the finite values; NaN when there are none. */
export function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

export const secs = (s) => `${s.toFixed(2)} s`;
export const rate = (bytes, s) => `${(bytes / 1e6 / s).toFixed(1)} MB/s`;

/** A row of a step's table (the columns of the Ferry-vs-restic table); a target > 0 is judged met or missed. */
export const tableRow = (step, ferry, other, ratio, ratioIs, target) => ({
  step,
  ferry,
  other,
  ratio,
  ratioIs,
  target: target ? `≥ ${target.toFixed(2)}` : '',
  result: target ? (ratio >= target ? 'met' : 'missed') : '',
});
