import { randomBytes } from 'node:crypto';
import { IntegrityError, NotFoundError, withContext } from '../../core/errors.js';
import { forEachLimit } from '../../core/concurrency.js';
import { shortId, type Id } from '../../core/ids.js';
import { objectKey } from '../../storage/layout.js';
import { sha256Id } from '../crypto/sha256.js';
import type { Repository } from './repository.js';
import { openJson, sealJson } from './sealed-json.js';

/** The sealed document stored as `locks/<id>` (docs/repository-format.md, section 13). */
export interface LockDocument {
  /** When the holder last wrote this lock (taken or refreshed), ISO 8601 UTC by the holder's clock. */
  readonly time: string;
  readonly exclusive: boolean;
  readonly hostname: string;
  readonly username: string;
  readonly pid: number;
  /** 16 random bytes, hex: makes every lock object, and so its id, unique. */
  readonly nonce: string;
}

/** A lock object and its id. */
export interface LockRecord {
  readonly id: Id;
  readonly document: LockDocument;
}

/** A new lock document for this process, dated `time` (ms since the epoch), with a fresh nonce. */
export function newLockDocument(repo: Repository, exclusive: boolean, pid: number, time: number): LockDocument {
  return {
    time: new Date(time).toISOString(),
    exclusive,
    hostname: repo.context.hostname,
    username: repo.context.username,
    pid,
    nonce: randomBytes(16).toString('hex'),
  };
}

/** Seals and saves `document` as `locks/<SHA-256 of the sealed bytes>`; returns that id. */
export async function saveLockDocument(repo: Repository, document: LockDocument): Promise<Id> {
  const sealed = sealJson(repo.key.encryptionKey, 'lock', document);
  const id = sha256Id(sealed);
  await repo.storage.save(objectKey('lock', id), sealed, { length: sealed.length });
  return id;
}

/**
 * Loads and checks one lock. Resolves undefined when the object no longer exists (released meanwhile);
 * rejects with `IntegrityError` when it does not authenticate or is not a lock document, and with the
 * storage's error otherwise, both with the lock id as context.
 */
export async function loadLockDocument(repo: Repository, id: Id): Promise<LockDocument | undefined> {
  try {
    return validateLockDocument(openJson<unknown>(repo.key.encryptionKey, 'lock', await repo.storage.load(objectKey('lock', id))));
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw withContext(`reading lock ${shortId(id)}`, err);
  }
}

/**
 * Lists `locks/` and loads every lock but `except`, skipping those that vanish meanwhile. Any other
 * failure rejects (see {@link loadLockDocument}): a lock that cannot be read is never taken as absent.
 */
export async function loadLocks(repo: Repository, except?: Id): Promise<LockRecord[]> {
  const ids = (await repo.listIds('lock')).filter((id) => id !== except);
  const records: LockRecord[] = [];
  await forEachLimit(ids, 8, async (id) => {
    const document = await loadLockDocument(repo, id);
    if (document) records.push({ id, document });
  });
  return records;
}

/** A coarse age for messages: `12 s`, `41 min`, `5 h`, `3 days`; negative ages (clock skew) read `0 s`. */
export function formatAge(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 120 * 60) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 48 * 3600) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86400)} days`;
}

function validateLockDocument(value: unknown): LockDocument {
  const v = value as Partial<Record<keyof LockDocument, unknown>> | null;
  const valid =
    typeof v === 'object' &&
    v !== null &&
    typeof v.time === 'string' &&
    !Number.isNaN(Date.parse(v.time)) &&
    typeof v.exclusive === 'boolean' &&
    typeof v.hostname === 'string' &&
    typeof v.username === 'string' &&
    typeof v.pid === 'number' &&
    typeof v.nonce === 'string';
  if (!valid) throw new IntegrityError('not a valid lock document');
  return v as LockDocument;
}
