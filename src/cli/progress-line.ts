import type { Clock } from '../core/clock.js';
import { UserError } from '../core/errors.js';
import { formatBytes, formatDuration, formatRate } from './format.js';

export interface ProgressSample {
  readonly files: number;
  readonly bytes: number;
  /** What the scan beside the backup has counted so far (all of it once `scanFinished`). */
  readonly totalFiles?: number;
  readonly totalBytes?: number;
  readonly scanFinished?: boolean;
  /** Entries that could not be read so far. */
  readonly errors?: number;
  readonly current?: string;
}

/** Status lines per second with --json unless FERRY_PROGRESS_FPS says otherwise. */
const JSON_FPS = 1;
const TTY_INTERVAL_MS = 250;

/**
 * The interval between two status lines: on a terminal 250 ms; with --json one second, or
 * `1000 / FERRY_PROGRESS_FPS` ms (as restic's RESTIC_PROGRESS_FPS; at most 60 a second, at least one a
 * minute). A value that is not a positive number is a `UserError`, whatever the mode.
 */
export function progressInterval(env: NodeJS.ProcessEnv, mode: 'tty' | 'json' | 'none'): number {
  const raw = env.FERRY_PROGRESS_FPS;
  const fps = raw === undefined || raw === '' ? JSON_FPS : /^[0-9]{1,9}(\.[0-9]{1,9})?$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(fps > 0)) {
    const shown = raw !== undefined && raw.length > 40 ? `${raw.slice(0, 40)}…` : raw;
    throw new UserError(`FERRY_PROGRESS_FPS=${shown} is not a number of status lines per second: set it to a positive number such as 4 or 0.5 (at most 60, at least one a minute are drawn), or unset it`);
  }
  if (mode !== 'json') return TTY_INTERVAL_MS;
  return 1000 / Math.min(60, Math.max(1 / 60, fps));
}

/**
 * A live status line on a terminal (redrawn in place, at most 4 times a second), or with --json
 * restic's `status` lines (see {@link progressInterval}) and a last one at 100% ({@link drawFinal});
 * nothing at all otherwise.
 */
export class ProgressLine {
  private timer: NodeJS.Timeout | undefined;
  private readonly start: number;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly mode: 'tty' | 'json' | 'none',
    private readonly clock: Clock,
    private readonly sample: () => ProgressSample,
    private readonly intervalMs = mode === 'json' ? 1000 / JSON_FPS : TTY_INTERVAL_MS,
  ) {
    this.start = clock.now();
  }

  startTicking(): void {
    if (this.mode === 'none') return;
    this.timer = setInterval(() => this.draw(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.mode === 'tty') this.out.write('\r\x1b[K');
  }

  /** With --json, one last status line: everything done, the totals being what was done. */
  drawFinal(): void {
    if (this.mode !== 'json') return;
    const s = this.sample();
    this.writeStatus({ ...s, totalFiles: s.files, totalBytes: s.bytes, scanFinished: true, current: undefined }, true);
  }

  private draw(): void {
    if (this.mode === 'json') {
      this.writeStatus(this.sample(), false);
      return;
    }
    const s = this.sample();
    const elapsed = this.clock.now() - this.start;
    const scanned = s.scanFinished !== false;
    const remaining = scanned ? remainingMs(s, elapsed) : undefined;
    const total = scanned && s.totalBytes !== undefined ? ` / ${formatBytes(s.totalBytes)}` : '';
    const files = scanned && s.totalFiles !== undefined ? `${s.files}/${s.totalFiles}` : `${s.files}`;
    const eta = remaining !== undefined ? ` ETA ${formatDuration(remaining)}` : '';
    const width = this.out.columns ?? 100;
    const line = `[${formatDuration(elapsed)}] ${files} files ${formatBytes(s.bytes)}${total} ${formatRate(s.bytes, elapsed)}${eta} ${s.current ?? ''}`;
    this.out.write(`\r\x1b[K${line.slice(0, width - 1)}`);
  }

  /**
   * restic's status line. As restic, fields that are zero (or unknown) are left out, except
   * `percent_done`; the totals are what the scan has counted so far, so they grow while it runs.
   */
  private writeStatus(s: ProgressSample, done: boolean): void {
    const elapsed = this.clock.now() - this.start;
    const remaining = done ? 0 : s.scanFinished ? remainingMs(s, elapsed) : undefined;
    const percent = done ? 1 : s.totalBytes ? Math.min(1, s.bytes / s.totalBytes) : 0;
    const status: Record<string, unknown> = { message_type: 'status' };
    const put = (field: string, value: number | undefined): void => {
      if (value !== undefined && value !== 0) status[field] = value;
    };
    put('seconds_elapsed', Math.floor(elapsed / 1000));
    put('seconds_remaining', remaining !== undefined ? Math.max(0, Math.round(remaining / 1000)) : undefined);
    status.percent_done = percent;
    put('total_files', s.totalFiles);
    put('files_done', s.files);
    put('total_bytes', s.totalBytes);
    put('bytes_done', s.bytes);
    put('error_count', s.errors);
    if (s.current) status.current_files = [s.current];
    this.out.write(JSON.stringify(status) + '\n');
  }
}

/** The time left at the rate so far, once the totals are known. */
function remainingMs(s: ProgressSample, elapsed: number): number | undefined {
  const rate = elapsed > 0 ? (s.bytes * 1000) / elapsed : 0;
  return s.totalBytes !== undefined && rate > 0 ? ((s.totalBytes - s.bytes) / rate) * 1000 : undefined;
}
