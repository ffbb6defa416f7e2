import type { FileResult, IngestProgressReport } from '../contract/ingest.js';
import type { IngestService } from './ingest-service.js';
import { MAX_RESULTS_PER_BATCH } from '../contract/ingest.js';

/**
 * Sends one disk's file results to the service in batches (route 4), with the disk's progress: when a
 * batch is full, and every `intervalMs` while the ingest runs (an empty batch then carries the progress
 * alone, also unchanged: the service's `updatedAt` shows the ingest is alive). One request at a time, in order. A failed request fails the next `add`/`flush`/
 * `close` (the ingest stops there; a rerun resumes from what the service recorded).
 */
export class ResultReporter {
  private queue: FileResult[] = [];
  private sending: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sentProgress = '';

  constructor(
    private readonly service: IngestService,
    private readonly jobId: string,
    private readonly index: number,
    private readonly progress: () => IngestProgressReport,
    intervalMs: number,
  ) {
    this.timer = setInterval(() => void this.send(true).catch(() => undefined), intervalMs);
    this.timer.unref();
  }

  /** Queues a result; sends a batch when one is full. */
  async add(result: FileResult): Promise<void> {
    this.check();
    this.queue.push(result);
    if (this.queue.length >= MAX_RESULTS_PER_BATCH) await this.flush();
  }

  /** Sends what is queued (or the progress alone when it changed), after the requests before it. */
  flush(): Promise<void> {
    return this.send(false);
  }

  private async send(heartbeat: boolean): Promise<void> {
    this.check();
    const batch = this.queue.splice(0, MAX_RESULTS_PER_BATCH);
    const more = this.queue.length > 0;
    this.sending = this.sending.then(async () => {
      if (this.failure) return;
      const progress = this.progress();
      const key = `${progress.bytesDone}/${progress.filesDone}`;
      if (batch.length === 0 && key === this.sentProgress && !heartbeat) return;
      try {
        await this.service.postResults(this.jobId, this.index, batch, progress);
        this.sentProgress = key;
      } catch (error) {
        this.failure ??= { error };
      }
    });
    return more ? this.sending.then(() => this.send(false)) : this.sending.then(() => this.check());
  }

  /** Sends everything left and stops the timer; throws the first failed request's error. */
  async close(): Promise<void> {
    this.stop();
    await this.flush();
  }

  /** Stops the timer without sending (the ingest is abandoned). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private check(): void {
    if (this.failure) throw this.failure.error;
  }
}
