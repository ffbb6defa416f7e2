import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { isErrno, UserError } from '../core/errors.js';
import { writeFileDurably } from '../os/durable-file.js';

/** The file `ferry seed start` writes into a staging location for the copy computer (mode 0600). */
export const SEED_FILE_NAME = 'FERRY-SEED.json';

const SeedFileSchema = z.object({
  format: z.literal('ferry-seed'),
  version: z.literal(1),
  server: z.string().min(1),
  jobId: z.string().min(1),
  jobName: z.string().min(1),
  jobToken: z.string().min(1),
  vault: z.object({ id: z.string().min(1), name: z.string().min(1) }),
});

/** `{format, version, server, jobId, jobName, jobToken, vault}`: the service, the import job and its token. */
export type SeedFile = z.infer<typeof SeedFileSchema>;

/** Reads FERRY-SEED.json of a staging location; a `UserError` saying what is wrong otherwise. */
export async function readSeedFile(stagingDir: string): Promise<SeedFile> {
  const path = join(stagingDir, SEED_FILE_NAME);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new UserError(`${stagingDir} has no ${SEED_FILE_NAME}: is it a staging location made by \`ferry seed start\`?`);
    throw new UserError(`cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return SeedFileSchema.parse(JSON.parse(text));
  } catch (cause) {
    throw new UserError(`${path} is not a valid seed file (${(cause as Error).message.split('\n')[0]}): it was damaged; start the seed again`, { cause });
  }
}

/**
 * Writes FERRY-SEED.json into a new staging location, durably (mode 0600); refuses to replace one
 * (`AlreadyExistsError`).
 */
export async function writeSeedFile(stagingDir: string, contents: Omit<SeedFile, 'format' | 'version'>): Promise<void> {
  const seedFile: SeedFile = { format: 'ferry-seed', version: 1, ...contents };
  await writeFileDurably(join(stagingDir, SEED_FILE_NAME), JSON.stringify(seedFile, null, 2) + '\n', { mode: 0o600, replace: false });
}
