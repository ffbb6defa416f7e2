import { InterruptedError, isErrno } from '../core/errors.js';

/** Why a command was told to stop: a signal, or its standard output was closed (`ferry ls … | head`). */
export type StopCause = 'SIGINT' | 'SIGTERM' | 'EPIPE';

/**
 * The exit code of a command stopped by `cause`: 128 + the signal number, as a shell reports a process
 * killed by that signal (SIGINT 2 → 130, SIGPIPE 13 → 141, SIGTERM 15 → 143).
 */
export const STOP_EXIT_CODES: Readonly<Record<StopCause, number>> = { SIGINT: 130, EPIPE: 141, SIGTERM: 143 };

/** The process surface an {@link Interruption} listens to and ends. */
export interface InterruptibleProcess {
  readonly pid: number;
  on(event: 'SIGINT' | 'SIGTERM', listener: () => void): unknown;
  removeAllListeners(event: 'SIGINT' | 'SIGTERM'): unknown;
  kill(pid: number, signal: 'SIGINT' | 'SIGTERM'): unknown;
  readonly stdout: Pick<NodeJS.WriteStream, 'on'>;
  readonly stderr: Pick<NodeJS.WriteStream, 'on' | 'write'>;
}

/**
 * Turns SIGINT, SIGTERM and a closed stdout into one abort of {@link signal}, so the running command
 * stops at its next step and the CLI releases its lock before exiting. A second signal ends the process
 * at once, by that signal (without releasing anything: that is what a user pressing Ctrl-C twice asks).
 */
export class Interruption {
  readonly #controller = new AbortController();
  readonly #process: InterruptibleProcess;
  #cause: StopCause | undefined;

  constructor(proc: InterruptibleProcess) {
    this.#process = proc;
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The first cause of a stop, if any. */
  get cause(): StopCause | undefined {
    return this.#cause;
  }

  /** Listens to the signals and to write errors of stdout and stderr. */
  install(): this {
    this.#process.on('SIGINT', () => this.stop('SIGINT'));
    this.#process.on('SIGTERM', () => this.stop('SIGTERM'));
    // Without a listener an EPIPE on stdout is an uncaught 'error' event: a stack trace and no cleanup.
    this.#process.stdout.on('error', (err: unknown) => this.#outputFailed(err));
    this.#process.stderr.on('error', () => this.stop('EPIPE'));
    return this;
  }

  /** Records a stop; the first one aborts {@link signal}, a second signal kills the process at once. */
  stop(cause: StopCause): void {
    if (this.#cause === undefined) {
      this.#cause = cause;
      this.#controller.abort(new InterruptedError(cause === 'EPIPE' ? 'standard output closed' : `interrupted by ${cause}`));
      return;
    }
    if (cause === 'EPIPE') return;
    this.#process.stderr.write(`ferry: ${cause} again, exiting at once: a lock of this process may be left (\`ferry unlock\` removes it)\n`);
    this.#dieBy(cause);
  }

  /**
   * Ends the process by the signal's default action, as if it had no handler (a shell reports 130 or
   * 143). `exit()` is not enough: it waits for file system calls still blocked in the thread pool (a
   * hung network mount, a FIFO), which is exactly when a user presses Ctrl-C twice.
   */
  #dieBy(cause: 'SIGINT' | 'SIGTERM'): void {
    this.#process.removeAllListeners(cause);
    this.#process.kill(this.#process.pid, cause);
  }

  #outputFailed(err: unknown): void {
    if (!isErrno(err, 'EPIPE')) {
      this.#process.stderr.write(`ferry: cannot write to standard output: ${err instanceof Error ? err.message : String(err)}\n`);
    }
    this.stop('EPIPE');
  }
}

/**
 * Resolves once everything written to `stream` so far is handed to the system or has failed, so a
 * closed stdout met by the command's last lines is known (as EPIPE) before the exit code is chosen.
 */
export function outputSettled(stream: Pick<NodeJS.WriteStream, 'write'>): Promise<void> {
  return new Promise((resolve) => {
    try {
      stream.write('', () => resolve());
    } catch {
      resolve();
    }
  });
}
