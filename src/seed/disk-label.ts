import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { IntegrityError, isErrno } from '../core/errors.js';
import { DISK_FORMAT_VERSION, DISK_TEMP_PREFIX, isDiskId, LABEL_MAX_BYTES, LABEL_NAME } from './disk-format.js';
import { writeFileDurably } from '../os/durable-file.js';

const Label = z.object({
  format: z.literal('ferry-disk'),
  version: z.number().int(),
  job: z.object({ id: z.string().min(1), name: z.string().min(1) }),
  diskId: z.string().refine(isDiskId, 'not a disk id'),
  index: z.number().int().min(0),
  count: z.number().int().min(1).optional(),
  createdAt: z.string(),
  notice: z.string().optional(),
});

/** The label `FERRY-DISK.json` (docs/disk-format.md, section 3). Never holds a key. */
export type DiskLabel = z.infer<typeof Label>;

/** The label of a disk, from what is known when diskprep starts it. */
export function makeLabel(job: { id: string; name: string }, diskId: string, index: number, createdAt: Date, count?: number): DiskLabel {
  return {
    format: 'ferry-disk',
    version: DISK_FORMAT_VERSION,
    job: { id: job.id, name: job.name },
    diskId,
    index,
    ...(count !== undefined ? { count } : {}),
    createdAt: createdAt.toISOString(),
    notice: `Ferry import disk ${index + 1} of job "${job.name}". Its files are encrypted; the key is held by the Ferry service. Do not change anything on this disk.`,
  };
}

/** Writes the label atomically and durably (replacing an older one). */
export async function writeLabel(disk: string, label: DiskLabel): Promise<void> {
  const bytes = Buffer.from(JSON.stringify(label, null, 2) + '\n', 'utf8');
  if (bytes.length > LABEL_MAX_BYTES) throw new RangeError(`the label would have ${bytes.length} bytes, more than ${LABEL_MAX_BYTES}: shorten the job name`);
  await writeFileDurably(join(disk, LABEL_NAME), bytes, { mode: 0o644, tempPrefix: DISK_TEMP_PREFIX });
}

/**
 * The label of the disk at `disk`; undefined when there is none. `IntegrityError` when there is a file
 * that is not a label this version can read (too large, not JSON, another format or version).
 */
export async function readLabel(disk: string): Promise<DiskLabel | undefined> {
  let handle;
  try {
    handle = await open(join(disk, LABEL_NAME), 'r');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
  let bytes: Buffer;
  try {
    const buffer = Buffer.alloc(LABEL_MAX_BYTES + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    if (bytesRead > LABEL_MAX_BYTES) throw new IntegrityError(`${LABEL_NAME} is larger than ${LABEL_MAX_BYTES} bytes: not a Ferry disk label`);
    bytes = buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  let label: DiskLabel;
  try {
    label = Label.parse(JSON.parse(bytes.toString('utf8')));
  } catch (cause) {
    throw new IntegrityError(`${LABEL_NAME} is not a Ferry disk label: ${(cause as Error).message.split('\n')[0]}`, { cause });
  }
  if (label.version !== DISK_FORMAT_VERSION) {
    const what = label.version < DISK_FORMAT_VERSION ? 'an older Ferry made it' : 'a newer Ferry made it';
    throw new IntegrityError(
      `the disk has format version ${label.version} (${what}); this Ferry reads version ${DISK_FORMAT_VERSION} only: use the Ferry version that prepared the disk, or prepare it again (ferry diskprep --replace-disk)`,
    );
  }
  return label;
}
