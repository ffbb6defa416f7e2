/**
 * Azurite (the Azure Storage emulator, an npm devDependency) for tests: started once per test process on a
 * free 127.0.0.1 port with its data in a temp folder, stopped by its PID when the process's tests end.
 *
 * In CI (CI=true) an Azurite that is missing or does not start fails the tests; elsewhere the tests are
 * skipped with the reason only when Azurite is not installed (a failed start still fails).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';

/** Azurite's well-known development account and key (public, documented: not a secret). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The blob service's own bin (a link to azurite's blob main.js), run by this Node. */
const MAIN = join(ROOT, 'node_modules', '.bin', 'azurite-blob');
const START_TIMEOUT_MS = 60_000;

export interface Azurite {
  readonly port: number;
  /** `http://127.0.0.1:PORT/devstoreaccount1`. */
  readonly blobEndpoint: string;
  /** A connection string for the development account (optionally through another endpoint, e.g. a fault proxy). */
  connectionString(endpoint?: string): string;
  /** The environment a Ferry process needs to reach this Azurite. */
  readonly env: { readonly AZURE_STORAGE_CONNECTION_STRING: string };
  /** A fresh container name, for a test that needs its own. */
  newContainer(): string;
  /**
   * Stops the Azurite process by its PID (SIGTERM, so that it saves its metadata as a server going down
   * for maintenance does) and keeps its data folder and port: the store is unreachable until `restart`.
   */
  halt(): Promise<void>;
  /** Starts Azurite again on the same port with the same data, after `halt`; resolves once it listens. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Why Azurite tests are skipped here, or false when they run (CI=true never skips: a missing Azurite fails). */
export function azuriteSkipReason(env: NodeJS.ProcessEnv = process.env): string | false {
  if (existsSync(MAIN)) return false;
  if (env.CI === 'true') return false;
  return `Azurite is not installed (${MAIN} is missing): run npm ci to test the Azure Blob back end`;
}

/**
 * Registers (with node:test's `after`, so call it at a test file's top level or in a `describe` body) the
 * stop of an Azurite that the returned function starts on its first call and hands to every later one.
 * The returned promise rejects, and so fails the test awaiting it, when Azurite is missing or does not start.
 */
export function useAzurite(): () => Promise<Azurite> {
  let started: Promise<Azurite> | undefined;
  after(async () => {
    if (started) await (await started.catch(() => undefined))?.stop();
  });
  return () => (started ??= startAzurite());
}

/** Starts an Azurite blob service on a free port (port 0, read back from its log) with a temp data folder. */
export async function startAzurite(): Promise<Azurite> {
  if (!existsSync(MAIN)) throw new Error(`Azurite is not installed (${MAIN} is missing): run npm ci`);
  const location = await mkdtemp(join(tmpdir(), 'ferry-azurite-'));
  let child: ChildProcess | undefined;
  const killOnExit = (): void => void child?.kill('SIGKILL');
  process.once('exit', killOnExit);
  /** Starts the process on `port` (0: a free one) and resolves with the port it listens on. */
  const launch = async (port: number): Promise<number> => {
    child = spawn(
      process.execPath,
      [MAIN, '--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', location, '--disableTelemetry', '--skipApiVersionCheck', '--loose'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      return await listeningPort(child);
    } catch (err) {
      await stopChild(child);
      throw err;
    }
  };
  let port: number;
  try {
    port = await launch(0);
  } catch (err) {
    process.removeListener('exit', killOnExit);
    await rm(location, { recursive: true, force: true });
    throw err;
  }
  const blobEndpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  const connectionString = (endpoint = blobEndpoint): string =>
    `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${endpoint};`;
  return {
    port,
    blobEndpoint,
    connectionString,
    env: { AZURE_STORAGE_CONNECTION_STRING: connectionString() },
    newContainer: () => `t-${randomBytes(8).toString('hex')}`,
    halt: async () => {
      if (child) await stopChild(child);
    },
    restart: async () => {
      if (child && isAlive(child)) throw new Error('Azurite is running: halt it before restarting it');
      await launch(port);
    },
    stop: async () => {
      process.removeListener('exit', killOnExit);
      if (child) await stopChild(child);
      await rm(location, { recursive: true, force: true });
    },
  };
}

const isAlive = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null;

/** Resolves with the port once Azurite logs that it listens; rejects when it exits or takes too long. */
function listeningPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => fail(new Error(`Azurite did not start within ${START_TIMEOUT_MS} ms:\n${output}`)), START_TIMEOUT_MS);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      reject(err);
    };
    const onData = (data: Buffer): void => {
      output += data.toString();
      const match = /successfully listens on https?:\/\/127\.0\.0\.1:([0-9]+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        child.stdout?.removeListener('data', onData);
        // Keep draining its output, or a chatty Azurite would block on a full pipe.
        child.stdout?.resume();
        child.stderr?.resume();
        resolve(Number(match[1]));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (data: Buffer) => void (output += data.toString()));
    child.once('error', fail);
    child.once('exit', (code, signal) => fail(new Error(`Azurite exited (${signal ?? `code ${String(code)}`}) before it listened:\n${output}`)));
  });
}

/** Stops the child by its PID: SIGTERM, then SIGKILL after 5 s; resolves once it exited. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (!isAlive(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
