import type { BackupRun } from '../../resources/backup-runs.js';
import { html, type Html } from '../html.js';
import { bytesOf, durationOf } from '../portal-format.js';

const WIDTH = 640;
const BAR_AREA = 120;
const GAP = 4;

/**
 * The backup history as inline SVG (no script, no external file): one bar per run, oldest on the left,
 * for the bytes it added (top) and how long it took (bottom). A failed run's bar is hatched and its
 * tooltip says so; the runs table next to it has the same numbers as text.
 */
export function backupChart(runs: readonly BackupRun[]): Html {
  if (runs.length === 0) return html`<p class="muted">No backup runs reported yet.</p>`;
  const ordered = [...runs].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  const maxBytes = Math.max(1, ...ordered.map((r) => r.bytesAdded));
  const durations = ordered.map((r) => Math.max(0, Date.parse(r.finishedAt) - Date.parse(r.startedAt)));
  const maxDuration = Math.max(1, ...durations);
  const step = WIDTH / ordered.length;
  const barWidth = Math.max(2, step - GAP);
  const bars = ordered.map((run, i) => {
    const x = (i * step).toFixed(1);
    const bytesHeight = Math.max(1, (run.bytesAdded / maxBytes) * BAR_AREA);
    const durationHeight = Math.max(1, (durations[i]! / maxDuration) * BAR_AREA);
    const failed = run.status !== 'succeeded';
    const label = `${run.startedAt.slice(0, 16).replace('T', ' ')} UTC: ${run.status}, ${bytesOf(run.bytesAdded)} added in ${durationOf(durations[i]!)}`;
    return html`<g><title>${label}</title>
<rect x="${x}" y="${(20 + BAR_AREA - bytesHeight).toFixed(1)}" width="${barWidth.toFixed(1)}" height="${bytesHeight.toFixed(1)}" fill="${failed ? 'url(#failed)' : '#0b57a4'}"/>
<rect x="${x}" y="${(BAR_AREA + 60).toFixed(1)}" width="${barWidth.toFixed(1)}" height="${durationHeight.toFixed(1)}" fill="${failed ? 'url(#failed)' : '#4f5863'}"/></g>`;
  });
  const height = 2 * BAR_AREA + 70;
  const summary = `Backup history of ${ordered.length} runs: at most ${bytesOf(maxBytes)} added and ${durationOf(maxDuration)} per run`;
  return html`<figure><svg class="chart" role="img" aria-labelledby="chart-title" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" xmlns="http://www.w3.org/2000/svg">
<title id="chart-title">${summary}</title>
<defs><pattern id="failed" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/><rect width="3" height="6" fill="#a3161b"/></pattern></defs>
<text x="0" y="14" font-size="13" fill="#1b1f24">Bytes added per run (highest ${bytesOf(maxBytes)})</text>
<text x="0" y="${BAR_AREA + 54}" font-size="13" fill="#1b1f24">Duration per run (longest ${durationOf(maxDuration)})</text>
${bars}
</svg><figcaption class="muted">Oldest run on the left. Hatched bars: runs that failed or were partial. The table below lists every run.</figcaption></figure>`;
}
