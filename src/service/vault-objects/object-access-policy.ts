/**
 * Who may do what to the objects of a vault: a pure function of the caller's access, the operation and the
 * object key (plus, for removing locks, who created the lock). No I/O; the callers (vault-objects.ts) gather
 * the facts and enforce the answer. The rules, in short (docs/service-http-storage.md, "Append-only"):
 *
 * - `full` (tenant-admin, admin): everything.
 * - `append-only` (the vault's agent): read, stat and list everything; create `config` and the content-named
 *   objects of the repository layout (`keys/`, `locks/`, `snapshots/`, `index/`, `data/<xx>/`), nothing else;
 *   never overwrite anything; remove only lock objects its own machine created.
 *
 * Every object but `config` is named by the SHA-256 of its bytes, and the server checks every upload against
 * the name it claims, so an upload to an existing content-named key can only carry the bytes already there:
 * for an append-only caller that is an idempotent no-op (`planUpload` → `verify-existing`), not an overwrite.
 * The same holds for `config` when the uploaded bytes equal the stored ones, which makes every upload of an
 * agent safe to retry.
 */
import { idOfKey, CONFIG_KEY, type ObjectKind } from '../../storage/layout.js';

/** What a caller may do to a vault's objects: see the module comment. */
export type ObjectAccess = 'full' | 'append-only';

/** The operations the policy decides on; `list` is given the listing prefix in place of a key. */
export type ObjectOperation = 'read' | 'stat' | 'list' | 'create' | 'overwrite' | 'remove';

/** The facts one decision needs. */
export interface ObjectAccessRequest {
  readonly access: ObjectAccess;
  readonly operation: ObjectOperation;
  /** The object key, or the prefix for `list`. */
  readonly key: string;
  /** The machine of an agent; locks are owned per machine. */
  readonly machineId?: string;
  /** For `remove` of a lock: the machine that created it, when known. */
  readonly lockOwner?: string;
}

/** The answer: allowed, or refused with a reason fit to show the caller. */
export type AccessDecision = { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

/** What the server does with an upload (see {@link planUpload}). */
export type UploadPlan =
  /** Save the bytes (verified against the name's SHA-256 when the key claims one). */
  | { readonly action: 'store' }
  /** Store nothing: check that the uploaded bytes are the stored ones and answer success. */
  | { readonly action: 'verify-existing' }
  | { readonly action: 'refuse'; readonly reason: string };

/** The content-named kinds of the repository layout (storage/layout.ts), with the words used in reasons. */
const CONTENT_NAMED: ReadonlyArray<readonly [Exclude<ObjectKind, 'config'>, string]> = [
  ['pack', 'packs (data/)'],
  ['index', 'index files (index/)'],
  ['snapshot', 'snapshots (snapshots/)'],
  ['key', 'key slots (keys/)'],
  ['lock', 'locks (locks/)'],
];

const ALLOWED: AccessDecision = { allowed: true };
const refuse = (reason: string): AccessDecision => ({ allowed: false, reason });

/**
 * The SHA-256 (lowercase hex) that `key` claims for its bytes, or undefined when the key is not a
 * content-named object of the repository layout (`config`, temp names, strays, a pack outside its fan-out
 * folder, an upper-case id).
 */
export function claimedSha256(key: string): string | undefined {
  for (const [kind] of CONTENT_NAMED) {
    const id = idOfKey(kind, key);
    if (id !== undefined) return id;
  }
  return undefined;
}

/** True when `key` is a lock object of the repository layout (`locks/<64 hex>`). */
export function isLockKey(key: string): boolean {
  return idOfKey('lock', key) !== undefined;
}

/** Decides one operation; pure and total (every input gets an answer). */
export function decideObjectAccess(request: ObjectAccessRequest): AccessDecision {
  if (request.access === 'full') return ALLOWED;
  const { operation, key } = request;
  switch (operation) {
    case 'read':
    case 'stat':
    case 'list':
      return ALLOWED;
    case 'create':
      return decideAgentCreate(key, request.machineId);
    case 'overwrite':
      return refuse(`agents are append-only: they may not overwrite ${describe(key)}; a tenant-admin may`);
    case 'remove':
      return decideAgentRemove(key, request.machineId, request.lockOwner);
  }
}

/**
 * What to do with an upload of `key` by a caller with `access`, given whether the object `exists`.
 * Full access always stores. An append-only caller stores only what does not exist yet; for an existing
 * `config` or content-named object it gets `verify-existing` (the upload must equal what is stored: an
 * idempotent re-send, never an overwrite); anything else is refused with the reason.
 */
export function planUpload(access: ObjectAccess, key: string, exists: boolean, machineId?: string): UploadPlan {
  if (access === 'full') return { action: 'store' };
  const create = decideAgentCreate(key, machineId);
  if (!create.allowed) return { action: 'refuse', reason: create.reason };
  return exists ? { action: 'verify-existing' } : { action: 'store' };
}

function decideAgentCreate(key: string, machineId: string | undefined): AccessDecision {
  if (key === CONFIG_KEY) return ALLOWED;
  if (claimedSha256(key) === undefined) {
    return refuse(
      `agents may create only the objects of the repository layout (config, keys/, locks/, snapshots/, ` +
        `index/, data/<xx>/, named by the SHA-256 of their bytes); ${JSON.stringify(key)} is not one`,
    );
  }
  if (isLockKey(key) && machineId === undefined) {
    return refuse('this credential has no machine, so it cannot own a lock; register the machine first');
  }
  return ALLOWED;
}

function decideAgentRemove(key: string, machineId: string | undefined, lockOwner: string | undefined): AccessDecision {
  if (!isLockKey(key)) {
    return refuse(
      `agents are append-only: they may not remove ${describe(key)}; forget and prune need a tenant-admin`,
    );
  }
  if (machineId !== undefined && lockOwner === machineId) return ALLOWED;
  if (lockOwner === undefined) return refuse(`lock ${key} was not created by this machine; agents may remove only their own locks`);
  return refuse(`lock ${key} was created by another machine; agents may remove only their own locks`);
}

/** How reasons name the object: by its kind where the layout knows it. */
function describe(key: string): string {
  if (key === CONFIG_KEY) return 'the config';
  for (const [kind, words] of CONTENT_NAMED) {
    if (idOfKey(kind, key) !== undefined) return words;
  }
  return `the object ${JSON.stringify(key)}`;
}

