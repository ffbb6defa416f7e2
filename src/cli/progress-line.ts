import type { Clock } from '../core/clock.js';
import { formatBytes, formatDuration, formatRate } from './format.js';

export interface ProgressSample {
  readonly files: number;
  readonly bytes: number;
  readonly totalFiles?: number;
  readonly totalBytes?: number;
  readonly current?: string;
}

/**
 * A live status line on a terminal (redrawn in place, at most 4 times a second), or JSON status lines
 * once a second with --json; nothing at all otherwise.
 */
export class ProgressLine {
  private timer: NodeJS.Timeout | undefined;
  private readonly start: number;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly mode: 'tty' | 'json' | 'none',
    private readonly clock: Clock,
    private readonly sample: () => ProgressSample,
  ) {
    this.start = clock.now();
  }

  startTicking(): void {
    if (this.mode === 'none') return;
    this.timer = setInterval(() => this.draw(), this.mode === 'tty' ? 250 : 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.mode === 'tty') this.out.write('\r\x1b[K');
  }

  private draw(): void {
    const s = this.sample();
    const elapsed = this.clock.now() - this.start;
    const rate = elapsed > 0 ? (s.bytes * 1000) / elapsed : 0;
    const remaining = s.totalBytes !== undefined && rate > 0 ? ((s.totalBytes - s.bytes) / rate) * 1000 : undefined;
    if (this.mode === 'json') {
      const status = {
        message_type: 'status',
        seconds_elapsed: Math.round(elapsed / 1000),
        seconds_remaining: remaining !== undefined ? Math.max(0, Math.round(remaining / 1000)) : undefined,
        percent_done: s.totalBytes ? Math.min(1, s.bytes / s.totalBytes) : 0,
        total_files: s.totalFiles,
        files_done: s.files,
        total_bytes: s.totalBytes,
        bytes_done: s.bytes,
        current_files: s.current ? [s.current] : [],
      };
      this.out.write(JSON.stringify(status) + '\n');
      return;
    }
    const total = s.totalBytes !== undefined ? ` / ${formatBytes(s.totalBytes)}` : '';
    const files = s.totalFiles !== undefined ? `${s.files}/${s.totalFiles}` : `${s.files}`;
    const eta = remaining !== undefined ? ` ETA ${formatDuration(remaining)}` : '';
    const width = this.out.columns ?? 100;
    const line = `[${formatDuration(elapsed)}] ${files} files ${formatBytes(s.bytes)}${total} ${formatRate(s.bytes, elapsed)}${eta} ${s.current ?? ''}`;
    this.out.write(`\r\x1b[K${line.slice(0, width - 1)}`);
  }
}
