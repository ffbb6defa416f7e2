import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/**
 * Stops V8's young generation from growing past `semiSpaceBytes` per semi-space, on a running heap.
 *
 * V8 (11.3, Node 20) doubles a semi-space whenever more bytes survived scavenges since its last growth
 * than it holds, so any long command ends with two 16 MiB semi-spaces (32 MiB committed, and touched)
 * whatever it keeps alive. `--max-semi-space-size` only works on the command line, but the growth factor
 * is read at each growth: once the new space reached the cap, a factor of 1 keeps it there. Checked every
 * `intervalMs` (a growth needs several scavenges' worth of survivors, so it is caught in time). V8's flags
 * are per process: worker threads' heaps stop growing too. Returns a function that stops watching.
 */
export function capYoungGeneration(semiSpaceBytes: number, intervalMs = 20): () => void {
  const reached = (): boolean => (getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0) >= 2 * semiSpaceBytes;
  const freeze = (): void => setFlagsFromString('--semi-space-growth-factor=1');
  if (reached()) {
    freeze();
    return () => undefined;
  }
  const timer = setInterval(() => {
    if (!reached()) return;
    freeze();
    clearInterval(timer);
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
