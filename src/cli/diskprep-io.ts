import type { DiskprepIO } from '../seed/diskprep.js';
import type { CliContext } from './context.js';
import { formatBytes, formatDuration, formatRate } from './format.js';
import { ProgressLine } from './progress-line.js';
import { askLine } from './terminal-question.js';

/**
 * How `ferry diskprep` talks to its user. On a terminal (stdin and stderr): typed confirmations, a
 * question for the next disk, and a live progress line per disk with rate and ETA (on stdout when it is a
 * terminal). Otherwise: `--yes` or refusal, no questions, and one line per phase. Notes go to stderr.
 */
export function diskprepIO(ctx: CliContext, options: { readonly yes: boolean; readonly json: boolean }): DiskprepIO {
  const interactive = ctx.stdin.isTTY === true && ctx.stderr.isTTY === true;
  const mode = options.json ? 'json' : ctx.stdout.isTTY ? 'tty' : 'none';
  const clock = ctx.repoContext.clock;
  return {
    async confirmErase(disk, reason) {
      if (options.yes) {
        ctx.stderr.write(`erasing ${disk.given}: ${reason} (--yes)\n`);
        return true;
      }
      if (!interactive) return false;
      const answer = await askLine(ctx, `The disk ${disk.given} is not empty: ${reason}.\nType "erase" to delete everything on it, anything else to stop: `);
      return answer?.trim() === 'erase';
    },
    async askNextDisk(left) {
      if (!interactive) return undefined;
      const answer = await askLine(
        ctx,
        `Disk ${left.diskNumber - 1} is full: ${left.files === 1 ? '1 file' : `${left.files} files`} (${formatBytes(left.bytes)}) ${left.files === 1 ? 'is' : 'are'} left.\n` +
          `Attach another disk and type the folder it is mounted at (Enter to stop): `,
      );
      const path = answer?.trim();
      return path ? path : undefined;
    },
    note(message) {
      // On a terminal the progress line (stdout) may be showing: clear it first, the next tick redraws it.
      if (mode === 'tty') ctx.stdout.write('\r\x1b[K');
      ctx.stderr.write(`${message}\n`);
    },
    phase(disk, what, total, progress) {
      const started = clock.now();
      if (mode === 'none') {
        ctx.stderr.write(`disk ${disk.number}: ${what} ${total.files} files (${formatBytes(total.bytes)}) at ${disk.path}\n`);
      }
      const line = new ProgressLine(ctx.stdout, mode, clock, () => ({
        files: progress.files,
        bytes: progress.bytes,
        totalFiles: total.files,
        totalBytes: total.bytes,
        current: `disk ${disk.number} ${what}`,
      }));
      line.startTicking();
      return () => {
        line.stop();
        const elapsed = clock.now() - started;
        if (mode !== 'json') {
          ctx.stderr.write(`disk ${disk.number}: ${what} done, ${progress.files} files, ${formatBytes(progress.bytes)} in ${formatDuration(elapsed)} (${formatRate(progress.bytes, elapsed)})\n`);
        }
      };
    },
  };
}

