/** The calls of a pino (or fastify) logger the workers use. */
export interface WorkerLogger {
  info(object: object, message: string): void;
  error(object: object, message: string): void;
}

/** A background task of `ferry serve`. */
export interface RunningWorker {
  /** Stops the timer and waits for a pass in progress to finish. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Runs `pass` at once, then again `intervalMs` after each pass ended, until stopped. `pass` must not
 * throw (it logs its own failures); it may ask `stopped()` to end early.
 */
export function runPeriodically(intervalMs: number, pass: (stopped: () => boolean) => Promise<void>): RunningWorker {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  const tick = (): void => {
    current = pass(() => stopped).then(() => {
      if (!stopped) timer = setTimeout(tick, intervalMs).unref();
    });
  };
  tick();
  let stopping: Promise<void> | undefined;
  return {
    stop: () =>
      (stopping ??= (async () => {
        stopped = true;
        clearTimeout(timer);
        await current;
      })()),
  };
}
