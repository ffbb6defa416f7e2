/**
 * How the portal writes times, sizes and durations. Times are rendered as `<time datetime=ISO>` with the
 * UTC time as text; the page's script rewrites the text in the browser's locale and time zone.
 */
import { html, type Html } from './html.js';

/** A `<time>` element for an ISO-8601 UTC time, or a dash for null. */
export function timeOf(iso: string | null): Html {
  if (iso === null) return html`<span aria-label="none">–</span>`;
  return html`<time datetime="${iso}" data-local>${iso.slice(0, 16).replace('T', ' ')} UTC</time>`;
}

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];

/** Bytes in decimal units with up to three significant digits: `1.25 MB`. */
export function bytesOf(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  const digits = value.toPrecision(3);
  return `${unit === 0 ? value : digits.includes('.') ? digits.replace(/\.?0+$/, '') : digits} ${UNITS[unit]}`;
}

/** A duration in words: `2 d 4 h`, `3 h 12 min`, `45 s`. */
export function durationOf(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const min = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${min} min`;
  if (min > 0) return `${min} min ${s % 60} s`;
  return `${s} s`;
}

/** The time left until `deadline` at `now`, in words, or that it passed. */
export function countdownOf(deadline: string, now: number): string {
  const left = Date.parse(deadline) - now;
  return left > 0 ? `${durationOf(left)} left` : 'deadline passed';
}

/** A whole percentage of `done` in `total` (0 when total is 0). */
export function percentOf(done: number, total: number): number {
  return total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 0;
}
