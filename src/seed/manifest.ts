/**
 * The manifest of a disk (docs/disk-format.md, section 6): the list of its files with path, size and
 * SHA-256, encrypted and authenticated with the manifest subkey of the disk key.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { IntegrityError } from '../core/errors.js';
import {
  DISK_FORMAT_VERSION,
  FILE_ID_BYTES,
  isCarriedPath,
  isDiskId,
  manifestAad,
  MANIFEST_MAGIC,
  MANIFEST_NONCE_BYTES,
  MAX_FILE_NUMBER,
  MAX_SEGMENT_SIZE,
  MIN_SEGMENT_SIZE,
  TAG_BYTES,
} from './disk-format.js';

const Entry = z.object({
  n: z.number().int().min(0).max(MAX_FILE_NUMBER),
  path: z.string().refine(isCarriedPath, 'not a staging path under data/, index/ or snapshots/'),
  size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  fileId: z.string().regex(new RegExp(`^[0-9a-f]{${FILE_ID_BYTES * 2}}$`)),
});

const Body = z.object({
  format: z.literal('ferry-disk-manifest'),
  version: z.literal(DISK_FORMAT_VERSION),
  job: z.object({ id: z.string().min(1), name: z.string().min(1) }),
  diskId: z.string().refine(isDiskId, 'not a disk id'),
  index: z.number().int().min(0),
  segmentSize: z.number().int().min(MIN_SEGMENT_SIZE).max(MAX_SEGMENT_SIZE),
  createdAt: z.string(),
  files: z.array(Entry),
});

/** One file on a disk. `fileId` is hex; `sha256` and `size` describe the plaintext (the staging file). */
export type ManifestEntry = z.infer<typeof Entry>;
export type DiskManifest = z.infer<typeof Body>;

/** Bytes the manifest adds around its JSON body: magic, nonce, tag. */
const ENVELOPE_BYTES = MANIFEST_MAGIC.length + MANIFEST_NONCE_BYTES + TAG_BYTES;

/** The FERRY-MANIFEST file for `manifest`, sealed under `manifestKey` with a fresh random nonce. */
export function sealManifest(manifestKey: Uint8Array, manifest: DiskManifest): Buffer {
  checkEntries(manifest.files);
  const nonce = randomBytes(MANIFEST_NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', manifestKey, nonce);
  cipher.setAAD(manifestAad(manifest.diskId));
  const body = cipher.update(JSON.stringify(manifest), 'utf8');
  const tail = cipher.final();
  return Buffer.concat([MANIFEST_MAGIC, nonce, body, tail, cipher.getAuthTag()]);
}

/**
 * Opens a FERRY-MANIFEST file of disk `diskId`. `IntegrityError` when it is not a manifest, does not
 * authenticate (edited, truncated, another disk's or another key's) or breaks the format's rules.
 */
export function openManifest(manifestKey: Uint8Array, bytes: Uint8Array, diskId: string): DiskManifest {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (data.length < ENVELOPE_BYTES || !data.subarray(0, MANIFEST_MAGIC.length).equals(MANIFEST_MAGIC)) {
    const version = /^FERRYMF([0-9])$/.exec(data.subarray(0, MANIFEST_MAGIC.length).toString('latin1'))?.[1];
    if (version !== undefined && Number(version) !== DISK_FORMAT_VERSION) {
      throw new IntegrityError(`the manifest is of disk format version ${version}; this Ferry reads version ${DISK_FORMAT_VERSION} only: prepare the disk again (ferry diskprep --replace-disk)`);
    }
    throw new IntegrityError('the manifest is not a Ferry disk manifest (bad magic or too short)');
  }
  const nonceEnd = MANIFEST_MAGIC.length + MANIFEST_NONCE_BYTES;
  const decipher = createDecipheriv('aes-256-gcm', manifestKey, data.subarray(MANIFEST_MAGIC.length, nonceEnd));
  decipher.setAAD(manifestAad(diskId));
  decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
  let text: string;
  try {
    text = Buffer.concat([decipher.update(data.subarray(nonceEnd, data.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch (cause) {
    throw new IntegrityError('the manifest does not authenticate: it was edited, truncated, or belongs to another disk or key', { cause });
  }
  let parsed: DiskManifest;
  try {
    parsed = Body.parse(JSON.parse(text));
  } catch (cause) {
    throw new IntegrityError(`the manifest authenticates but breaks the format: ${(cause as Error).message.split('\n')[0]}`, { cause });
  }
  if (parsed.diskId !== diskId) throw new IntegrityError(`the manifest names disk ${parsed.diskId}, expected ${diskId}`);
  checkEntries(parsed.files);
  return parsed;
}

/** Ascending, unique file numbers and unique paths. */
function checkEntries(files: readonly ManifestEntry[]): void {
  const paths = new Set<string>();
  let last = -1;
  for (const entry of files) {
    if (entry.n <= last) throw new IntegrityError(`manifest entries out of order or repeated at file number ${entry.n}`);
    if (paths.has(entry.path)) throw new IntegrityError(`manifest lists ${entry.path} twice`);
    last = entry.n;
    paths.add(entry.path);
  }
}

/**
 * An upper bound of the manifest's size in bytes as entries are added: the empty manifest, then
 * {@link ManifestSize.add} for each file. Lets placement keep room for the manifest.
 */
export class ManifestSize {
  private total: number;

  /** `header`: the manifest without files (its job, disk id, index, segment size and a createdAt). */
  constructor(header: Omit<DiskManifest, 'files'>) {
    this.total = ENVELOPE_BYTES + Buffer.byteLength(JSON.stringify({ ...header, files: [] }));
  }

  get bytes(): number {
    return this.total;
  }

  /** The size once a file of `path` and `size` is added (without adding it). */
  with(path: string, size: number): number {
    return this.total + entryBound(path, size);
  }

  add(path: string, size: number): void {
    this.total += entryBound(path, size);
  }
}

function entryBound(path: string, size: number): number {
  const widest = { n: MAX_FILE_NUMBER, path, size, sha256: '0'.repeat(64), fileId: '0'.repeat(FILE_ID_BYTES * 2) };
  return Buffer.byteLength(JSON.stringify(widest)) + 1;
}
