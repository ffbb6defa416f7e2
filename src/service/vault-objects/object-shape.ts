/**
 * Whether an object an append-only client (an agent) adds to a vault is shaped like the repository format
 * allows (docs/repository-format.md), judged without the repository key: a pure function of the object key,
 * its size and, where the format shows something in clear, those bytes. No I/O; vault-objects.ts gathers
 * the facts while the upload streams and refuses what this module refuses. Full-access clients (tenant-admin,
 * admin) are not judged: they can remove what they add.
 *
 * What can be seen without the key:
 *
 * - Every sealed object (config, locks, snapshots, index files) is `nonce(12) ‖ ciphertext ‖ tag(16)` with no
 *   magic and no version in clear (versions are inside the ciphertext), so only its size can be judged: at
 *   least the seal overhead plus the smallest plaintext a reader accepts (or, for index files, that a backup
 *   writes), and for the small kinds at most {@link MAX_SMALL_OBJECT_BYTES}.
 * - A pack ends with the clear length of its sealed header, `33 + 42 n` for n ≥ 1 blobs, and its blobs
 *   (each sealing at least one byte) fill exactly the bytes before the header.
 * - A key slot is plaintext JSON: it must parse as one the engine accepts, with a salt and a wrapped secret
 *   of the lengths the format gives.
 *
 * The service cannot tell random bytes from ciphertext, so an object of a plausible size still passes: the
 * engine treats one unreadable snapshot or index file as that file's problem. These checks refuse what is
 * plainly not a repository object (junk, truncations, the wrong kind of file under a name).
 */
import { UserError } from '../../core/errors.js';
import { ID_BYTES } from '../../core/ids.js';
import { SEAL_OVERHEAD } from '../../engine/crypto/aead.js';
import { parseKeySlot } from '../../engine/crypto/key-slot.js';
import { PACK_TRAILER_BYTES } from '../../engine/pack/pack-format.js';
import { CONFIG_KEY, idOfKey, type ObjectKind } from '../../storage/layout.js';

/** An upload refused because it cannot be a repository object of the kind its key names (400). */
export class ObjectShapeError extends UserError {
  override readonly code = 'OBJECT_SHAPE';
}

/** Config, locks and key slots are small documents; anything larger is not one. */
export const MAX_SMALL_OBJECT_BYTES = 64 * 1024;

const SHORTEST_TIME = '0'; // Date.parse accepts it: the shortest `time` a reader takes
const ZERO_ID = '0'.repeat(2 * ID_BYTES);

/** The shortest JSON documents the engine's readers accept (validateSnapshot, the lock reader, validateConfig). */
const SHORTEST_SNAPSHOT = JSON.stringify({ version: 1, time: SHORTEST_TIME, tree: ZERO_ID, paths: [], hostname: '', tags: [], skipped: [] });
const SHORTEST_LOCK = JSON.stringify({ time: SHORTEST_TIME, exclusive: true, hostname: '', username: '', pid: 0, nonce: '' });
// The numbers at their fewest digits: packSize ≥ 64 KiB is written `1e5` at best.
const SHORTEST_CONFIG = `{"version":1,"id":"${ZERO_ID}","chunker":{"minSize":64,"avgSize":128,"maxSize":129},"compressionLevel":1,"packSize":1e5}`;

/**
 * The smallest index file a backup writes (the only writer an append-only client runs: prune and repairs
 * remove objects, so they need full access): flag byte ‖ version ‖ 0 superseded ‖ 1 pack (id, count) with
 * 1 blob entry, uncompressed (compression needs at least 128 bytes of plaintext). Section 9.
 */
const SMALLEST_BACKUP_INDEX_BODY = 1 + (1 + 4 + 4 + (ID_BYTES + 4) + (1 + 1 + 4 + 4 + 4 + ID_BYTES));

/** Pack header (section 8): `33 + 42 n` sealed bytes for n blobs, each blob sealing at least one byte. */
const PACK_HEADER_BASE = SEAL_OVERHEAD + 1 + 4;
const PACK_ENTRY_BYTES = 1 + 1 + 4 + 4 + ID_BYTES;
const SMALLEST_SEALED_BLOB = SEAL_OVERHEAD + 1;

/** Key slot fields of fixed length (section 4): a 32-byte salt, a wrapped 32-byte secret (12 + 32 + 16 bytes). */
const SALT_BYTES = 32;
const WRAPPED_BYTES = SEAL_OVERHEAD + 32;

/** What the upload path must gather for {@link decideObjectShape}, by kind. */
export interface ShapeRule {
  readonly minSize: number;
  /** Undefined: only the route's object size limit. */
  readonly maxSize?: number;
  /** The whole object is needed (key slots: at most MAX_SMALL_OBJECT_BYTES). */
  readonly readsWhole: boolean;
  /** The last PACK_TRAILER_BYTES bytes are needed (packs). */
  readonly readsTrailer: boolean;
}

/** What was seen of one upload. */
export interface ShapeFacts {
  readonly size: number;
  /** The whole object, when the rule `readsWhole`. */
  readonly bytes?: Uint8Array;
  /** Its last PACK_TRAILER_BYTES bytes (fewer when it is shorter), when the rule `readsTrailer`. */
  readonly trailer?: Uint8Array;
}

export type ShapeDecision = { readonly accepted: true } | { readonly accepted: false; readonly reason: string };

const RULES: Readonly<Record<ObjectKind, ShapeRule>> = {
  config: { minSize: SEAL_OVERHEAD + SHORTEST_CONFIG.length, maxSize: MAX_SMALL_OBJECT_BYTES, readsWhole: false, readsTrailer: false },
  key: { minSize: 2, maxSize: MAX_SMALL_OBJECT_BYTES, readsWhole: true, readsTrailer: false },
  lock: { minSize: SEAL_OVERHEAD + SHORTEST_LOCK.length, maxSize: MAX_SMALL_OBJECT_BYTES, readsWhole: false, readsTrailer: false },
  snapshot: { minSize: SEAL_OVERHEAD + SHORTEST_SNAPSHOT.length, readsWhole: false, readsTrailer: false },
  index: { minSize: SEAL_OVERHEAD + SMALLEST_BACKUP_INDEX_BODY, readsWhole: false, readsTrailer: false },
  pack: { minSize: PACK_HEADER_BASE + PACK_ENTRY_BYTES + PACK_TRAILER_BYTES + SMALLEST_SEALED_BLOB, readsWhole: false, readsTrailer: true },
};

const WORDS: Readonly<Record<ObjectKind, string>> = {
  config: 'the config',
  key: 'a key slot',
  lock: 'a lock',
  snapshot: 'a snapshot',
  index: 'an index file',
  pack: 'a pack',
};

/** The kind of repository object `key` names, or undefined for keys outside the layout. */
export function objectKindOf(key: string): ObjectKind | undefined {
  if (key === CONFIG_KEY) return 'config';
  for (const kind of ['pack', 'index', 'snapshot', 'key', 'lock'] as const) {
    if (idOfKey(kind, key) !== undefined) return kind;
  }
  return undefined;
}

/** The rule for `key`, or undefined when the key is outside the layout (the access policy refuses those). */
export function shapeRuleFor(key: string): ShapeRule | undefined {
  const kind = objectKindOf(key);
  return kind === undefined ? undefined : RULES[kind];
}

/**
 * Refuses a size outside the kind's bounds; usable before any byte is read (a declared Content-Length)
 * and while bytes stream (`size` so far, against the maximum only, with `complete` false).
 */
export function decideObjectSize(key: string, size: number, complete = true): ShapeDecision {
  const kind = objectKindOf(key);
  if (kind === undefined) return ACCEPTED;
  const rule = RULES[kind];
  if (rule.maxSize !== undefined && size > rule.maxSize) {
    return refuse(`${key} is not ${WORDS[kind]} of the repository format: ${size} bytes, more than the ${rule.maxSize} it can have`);
  }
  if (complete && size < rule.minSize) {
    return refuse(`${key} is not ${WORDS[kind]} of the repository format: ${size} bytes, fewer than the ${rule.minSize} the smallest one has`);
  }
  return ACCEPTED;
}

/** Judges one complete upload; pure and total. Keys outside the layout are accepted here (not this module's rule). */
export function decideObjectShape(key: string, facts: ShapeFacts): ShapeDecision {
  const kind = objectKindOf(key);
  if (kind === undefined) return ACCEPTED;
  const size = decideObjectSize(key, facts.size);
  if (!size.accepted) return size;
  const not = `${key} is not ${WORDS[kind]} of the repository format`;
  if (kind === 'pack') return decidePack(not, facts);
  if (kind === 'key') return decideKeySlot(not, facts.bytes);
  return ACCEPTED;
}

function decidePack(not: string, facts: ShapeFacts): ShapeDecision {
  const trailer = facts.trailer;
  if (trailer === undefined || trailer.byteLength !== PACK_TRAILER_BYTES) return refuse(`${not}: its trailer was not seen`);
  const headerLength = Buffer.from(trailer.buffer, trailer.byteOffset, trailer.byteLength).readUInt32LE(0);
  const entries = (headerLength - PACK_HEADER_BASE) / PACK_ENTRY_BYTES;
  if (headerLength < PACK_HEADER_BASE + PACK_ENTRY_BYTES || !Number.isInteger(entries)) {
    return refuse(`${not}: its trailer gives a header of ${headerLength} bytes, which is not 33 + 42 × blobs for one blob or more`);
  }
  const blobBytes = facts.size - PACK_TRAILER_BYTES - headerLength;
  if (blobBytes < entries * SMALLEST_SEALED_BLOB) {
    return refuse(`${not}: its header of ${headerLength} bytes lists ${entries} blob(s), which cannot fit in the ${Math.max(0, blobBytes)} bytes before it`);
  }
  return ACCEPTED;
}

function decideKeySlot(not: string, bytes: Uint8Array | undefined): ShapeDecision {
  if (bytes === undefined) return refuse(`${not}: its bytes were not seen`);
  let slot: ReturnType<typeof parseKeySlot>;
  try {
    slot = parseKeySlot(bytes);
  } catch (err) {
    return refuse(`${not}: ${(err as Error).message}`);
  }
  const strings = typeof slot.created === 'string' && typeof slot.hostname === 'string' && typeof slot.username === 'string';
  if (!strings) return refuse(`${not}: created, hostname and username must be strings`);
  if (!isBase64Of(slot.kdf.salt, SALT_BYTES)) return refuse(`${not}: its salt is not the base64 of ${SALT_BYTES} bytes`);
  if (!isBase64Of(slot.wrapped, WRAPPED_BYTES)) return refuse(`${not}: its wrapped secret is not the base64 of ${WRAPPED_BYTES} bytes`);
  return ACCEPTED;
}

/** True when `text` is canonical padded base64 of exactly `bytes` bytes. */
function isBase64Of(text: string, bytes: number): boolean {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length !== 4 * Math.ceil(bytes / 3)) return false;
  return Buffer.from(text, 'base64').toString('base64') === text;
}

const ACCEPTED: ShapeDecision = { accepted: true };
const refuse = (reason: string): ShapeDecision => ({ accepted: false, reason });
