import { Worker } from 'node:worker_threads';

/**
 * Starts the worker module `name` (without extension) next to the calling module. From built code it
 * loads `name.js`; from TypeScript sources (tests run through tsx) it loads `name.ts` with tsx, which a
 * worker does not inherit from its parent thread.
 */
export function startWorker(name: string, callerUrl: string, workerData: unknown): Worker {
  const fromSource = callerUrl.endsWith('.ts');
  const entry = new URL(`./${name}${fromSource ? '.ts' : '.js'}`, callerUrl);
  if (!fromSource) return new Worker(entry, { workerData });
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData });
}
