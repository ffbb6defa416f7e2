import { spawn, type ChildProcess } from 'node:child_process';
import { FERRY_BIN } from './harness.js';

/** A `ferry serve` process started by a test. */
export interface ServeProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything the process wrote so far. */
  output(): { stdout: string; stderr: string };
  /** Sends `signal` and resolves when the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

/**
 * Starts the built CLI's `ferry serve --data-dir DIR --listen 127.0.0.1:0` (with `env` added to this
 * process's environment, e.g. FERRY_TEST_CLOCK_OFFSET_MS) and resolves with the URL it prints once it listens. Rejects (and kills the process) when it exits first or prints no URL in 60 s (a first start on a loaded machine can take 20).
 */
export function startServe(dataDir: string, extraArgs: readonly string[] = [], env: Record<string, string> = {}, nodeArgs: readonly string[] = []): Promise<ServeProcess> {
  const child = spawn(process.execPath, [...nodeArgs, FERRY_BIN, 'serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FERRY_LOG_LEVEL: 'info', ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ferry serve printed no URL within 60 s\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, 60_000);
    const onData = (): void => {
      const url = /listening on (https?:\/\/\S+)/.exec(stdout)?.[1];
      if (url === undefined) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      resolve({
        url,
        child,
        output: () => ({ stdout, stderr }),
        stop: async (signal = 'SIGTERM') => {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          const result = await exited;
          return { ...result, stdout, stderr };
        },
      });
    };
    child.stdout.on('data', onData);
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`ferry serve exited (${code}) before listening\nstdout: ${stdout}\nstderr: ${stderr}`));
    });
  });
}

/**
 * Calls the API of the service at `url` as `token` (a JSON body when given) and resolves with the parsed
 * answer (undefined for an empty one); a status other than 2xx fails with the status and the answer.
 */
export async function callApi<T>(url: string, token: string, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return (text === '' ? undefined : JSON.parse(text)) as T;
}
