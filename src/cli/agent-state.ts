import { mkdir, readFile, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { UserError } from '../core/errors.js';
import { writeFileDurably } from '../os/durable-file.js';

/**
 * What `ferry register` leaves in FERRY_STATE_DIR (default ~/.config/ferry), one JSON file each, mode 0600
 * in a 0700 folder: `agent.json` (the service, vault, machine and agent token), `schedule.json` (what
 * `ferry schedule set` chose), `agent-run.json` (the last scheduled slot run), `seed.json` (an offline seed:
 * while pending, backups go to its staging location; once adopted, it remembers the job and staging for
 * `ferry seed cleanup`). The repository passphrase is
 * never stored here.
 */
const Ref = z.object({ id: z.string().min(1), name: z.string().min(1) });

const AgentFile = z.object({
  format: z.literal('ferry-agent'),
  version: z.literal(1),
  server: z.string().url(),
  tenant: Ref,
  vault: Ref,
  machine: z.object({ id: z.string().min(1), hostname: z.string().min(1) }),
  token: z.string().startsWith('fry_agt_'),
  tokenExpiresAt: z.iso.datetime({ offset: true }),
  /** When the token was issued (by a renewal); absent: at `registeredAt`. */
  tokenIssuedAt: z.iso.datetime({ offset: true }).optional(),
  /** Set while the service has not been told that `token`, a renewal, is stored (agent-token.ts). */
  renewalPending: z.literal(true).optional(),
  registeredAt: z.iso.datetime({ offset: true }),
  /**
   * PEM: the CA the service's TLS certificate must chain to, pinned by `ferry register` (the certificate
   * whose fingerprint the credentials file named, or --ca-cert/FERRY_CA_CERT). Absent: the system's CAs.
   */
  caCert: z.string().startsWith('-----BEGIN CERTIFICATE-----').optional(),
});
export type AgentRegistration = z.infer<typeof AgentFile>;

const Count = z.number().int().min(-1);
const ScheduleFile = z.object({
  paths: z.array(z.string().min(1)).min(1),
  daily: z.string().regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/),
  excludes: z.array(z.string()).default([]),
  retention: z
    .object({
      keepLast: Count.optional(),
      keepHourly: Count.optional(),
      keepDaily: Count.optional(),
      keepWeekly: Count.optional(),
      keepMonthly: Count.optional(),
      keepYearly: Count.optional(),
      keepWithin: z.string().optional(),
    })
    .nullable(),
  /** When it was set (epoch ms): slots before it are never run. */
  since: z.number().int().min(0),
});
export type LocalSchedule = z.infer<typeof ScheduleFile>;

const RunFile = z.object({ lastSlot: z.number().int().min(0) });

const SeedFile = z.object({
  jobId: z.string().min(1),
  jobName: z.string().min(1),
  /** Absolute path of the staging location, where backups go until the import is adopted. */
  staging: z.string().min(1),
  startedAt: z.iso.datetime({ offset: true }),
  /** Set when the import was adopted into the vault: backups go to the vault; staging is kept for cleanup. */
  adoptedAt: z.iso.datetime({ offset: true }).optional(),
  /** The snapshots the adoption brought into the vault, which `ferry seed cleanup` checks first. */
  seededSnapshots: z.array(z.string().regex(/^[0-9a-f]{64}$/)).optional(),
});
/** The offline seed of this machine (`seed.json`): pending until `adoptedAt` is set. */
export type SeedRecord = z.infer<typeof SeedFile>;
/** A seed whose import is not adopted yet: backups go to its staging location. */
export type PendingSeed = SeedRecord;

/** The agent's state folder: FERRY_STATE_DIR, or ~/.config/ferry. */
export function stateDir(env: NodeJS.ProcessEnv): string {
  return env.FERRY_STATE_DIR && env.FERRY_STATE_DIR !== '' ? env.FERRY_STATE_DIR : join(homedir(), '.config', 'ferry');
}

/** The registration, or undefined when this machine is not registered (no agent.json). */
export function readRegistration(env: NodeJS.ProcessEnv): Promise<AgentRegistration | undefined> {
  return readState(env, 'agent.json', AgentFile);
}

export function writeRegistration(env: NodeJS.ProcessEnv, registration: AgentRegistration): Promise<void> {
  return writeState(env, 'agent.json', registration);
}

/** The registration; a `UserError` saying how to register when there is none. */
export async function requireRegistration(env: NodeJS.ProcessEnv): Promise<AgentRegistration> {
  const registration = await readRegistration(env);
  if (!registration) {
    throw new UserError(`this machine is not registered (no agent.json in ${stateDir(env)}): run \`ferry register --credentials FILE\` first`);
  }
  return registration;
}

export function readSchedule(env: NodeJS.ProcessEnv): Promise<LocalSchedule | undefined> {
  return readState(env, 'schedule.json', ScheduleFile);
}

export function writeSchedule(env: NodeJS.ProcessEnv, schedule: LocalSchedule): Promise<void> {
  return writeState(env, 'schedule.json', schedule);
}

export async function readLastSlot(env: NodeJS.ProcessEnv): Promise<number | undefined> {
  return (await readState(env, 'agent-run.json', RunFile))?.lastSlot;
}

export function writeLastSlot(env: NodeJS.ProcessEnv, lastSlot: number): Promise<void> {
  return writeState(env, 'agent-run.json', { lastSlot });
}

/** The offline seed in progress (`ferry seed start`, not adopted yet), or undefined. */
export async function readPendingSeed(env: NodeJS.ProcessEnv): Promise<PendingSeed | undefined> {
  const seed = await readSeed(env);
  return seed?.adoptedAt === undefined ? seed : undefined;
}

export function writePendingSeed(env: NodeJS.ProcessEnv, seed: PendingSeed): Promise<void> {
  return writeState(env, 'seed.json', seed);
}

/** This machine's offline seed, pending or adopted (until `ferry seed cleanup` or `abandon` clears it), or undefined. */
export function readSeed(env: NodeJS.ProcessEnv): Promise<SeedRecord | undefined> {
  return readState(env, 'seed.json', SeedFile);
}

/** Records the seed adopted (atomically): from now on backups go to the vault. */
export function writeAdoptedSeed(env: NodeJS.ProcessEnv, seed: SeedRecord, adoptedAt: string, seededSnapshots: readonly string[]): Promise<void> {
  return writeState(env, 'seed.json', { ...seed, adoptedAt, seededSnapshots: [...seededSnapshots] });
}

/** Forgets the seed (removes `seed.json`); idempotent. */
export async function clearSeed(env: NodeJS.ProcessEnv): Promise<void> {
  const path = join(stateDir(env), 'seed.json');
  try {
    await rm(path, { force: true });
  } catch (err) {
    throw new UserError(`cannot remove ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** The repository location of the registered vault. */
export function vaultLocation(registration: AgentRegistration): string {
  return `${registration.server.replace(/\/+$/, '')}/v1/vaults/${encodeURIComponent(registration.vault.id)}`;
}

async function readState<T>(env: NodeJS.ProcessEnv, name: string, schema: z.ZodType<T>): Promise<T | undefined> {
  const path = join(stateDir(env), name);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UserError(`cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UserError(`${path} is damaged (not JSON): remove it and run the command that writes it again`);
  }
  const result = schema.safeParse(parsed);
  if (!result.success) throw new UserError(`${path} is damaged (${result.error.issues[0]?.message ?? 'invalid'}): remove it and run the command that writes it again`);
  return result.data;
}

/** Writes atomically and durably (temp file, fsync, rename, fsync of the folder) with mode 0600 in a 0700 folder. */
async function writeState(env: NodeJS.ProcessEnv, name: string, value: unknown): Promise<void> {
  const dir = stateDir(env);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new UserError(`cannot create the state folder ${dir}: ${(err as Error).message}; set FERRY_STATE_DIR to a writable folder`, { cause: err });
  }
  const target = join(dir, name);
  try {
    await writeFileDurably(target, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
  } catch (err) {
    throw new UserError(`cannot write ${target}: ${(err as Error).message}`, { cause: err });
  }
}
