import { Worker, type ResourceLimits } from 'node:worker_threads';
import { siblingModule } from '../../core/sibling-module.js';

/** How a worker is started. */
export interface WorkerStartOptions {
  /**
   * False for a worker that opens descriptors outside node:fs (the native addon) and closes them with it:
   * Node would warn on every such close ("closed but not opened in unmanaged mode"). Such a worker must
   * close what it opens itself, since Node does not close its descriptors when it ends.
   */
  readonly trackUnmanagedFds?: boolean;
  /** The worker isolate's heap limits (default Node's). */
  readonly resourceLimits?: ResourceLimits;
}

/**
 * Starts the worker module `name` (without extension) next to the calling module. From built code it
 * loads `name.js`; from TypeScript sources (tests run through tsx) it loads `name.ts` with tsx, which a
 * worker does not inherit from its parent thread.
 */
export function startWorker(name: string, callerUrl: string, workerData: unknown, options: WorkerStartOptions = {}): Worker {
  const { url: entry, tsx } = siblingModule(callerUrl, name);
  const trackUnmanagedFds = options.trackUnmanagedFds ?? true;
  const { resourceLimits } = options;
  if (!tsx) return new Worker(entry, { workerData, trackUnmanagedFds, resourceLimits });
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData, trackUnmanagedFds, resourceLimits });
}
