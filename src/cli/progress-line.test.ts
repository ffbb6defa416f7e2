import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../core/errors.js';
import { ProgressLine, progressInterval, type ProgressSample } from './progress-line.js';

/** A stream that keeps what is written; ticks are driven by hand through the private draw. */
function captured(): { out: NodeJS.WriteStream; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const out = { write: (chunk: string) => chunks.push(chunk) > 0, isTTY: false } as unknown as NodeJS.WriteStream;
  return { out, lines: () => chunks.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('ProgressLine with --json', () => {
  it('prints restic status lines: zero fields left out, percent_done always, growing totals while the scan runs', () => {
    let now = 1_000_000;
    let sample: ProgressSample = { files: 0, bytes: 0, totalFiles: 0, totalBytes: 0, scanFinished: false, errors: 0 };
    const { out, lines } = captured();
    const line = new ProgressLine(out, 'json', { now: () => now }, () => sample);
    (line as unknown as { draw(): void }).draw();
    now += 2_500;
    sample = { files: 3, bytes: 500, totalFiles: 7, totalBytes: 1000, scanFinished: false, errors: 1, current: '/srv/a' };
    (line as unknown as { draw(): void }).draw();
    now += 1_000;
    sample = { ...sample, scanFinished: true };
    (line as unknown as { draw(): void }).draw();
    line.drawFinal();
    assert.deepEqual(lines(), [
      { message_type: 'status', percent_done: 0 },
      { message_type: 'status', seconds_elapsed: 2, percent_done: 0.5, total_files: 7, files_done: 3, total_bytes: 1000, bytes_done: 500, error_count: 1, current_files: ['/srv/a'] },
      { message_type: 'status', seconds_elapsed: 3, seconds_remaining: 4, percent_done: 0.5, total_files: 7, files_done: 3, total_bytes: 1000, bytes_done: 500, error_count: 1, current_files: ['/srv/a'] },
      { message_type: 'status', seconds_elapsed: 3, percent_done: 1, total_files: 3, files_done: 3, total_bytes: 500, bytes_done: 500, error_count: 1 },
    ]);
  });

  it('FERRY_PROGRESS_FPS sets the rate of status lines, within 1 a minute and 60 a second', () => {
    assert.equal(progressInterval({}, 'json'), 1000);
    assert.equal(progressInterval({ FERRY_PROGRESS_FPS: '4' }, 'json'), 250);
    assert.equal(progressInterval({ FERRY_PROGRESS_FPS: '1000' }, 'json'), 1000 / 60);
    assert.equal(progressInterval({ FERRY_PROGRESS_FPS: '0.001' }, 'json'), 60_000);
    assert.equal(progressInterval({ FERRY_PROGRESS_FPS: '' }, 'json'), 1000);
    for (const bad of ['0', '-2', 'fast', '1e3', '.5']) {
      for (const mode of ['json', 'tty'] as const) {
        assert.throws(() => progressInterval({ FERRY_PROGRESS_FPS: bad }, mode), (err: unknown) => err instanceof UserError && err.message.startsWith(`FERRY_PROGRESS_FPS=${bad} is not`), bad);
      }
    }
    assert.equal(progressInterval({ FERRY_PROGRESS_FPS: '60' }, 'tty'), 250, 'a terminal line is redrawn 4 times a second');
  });
});
