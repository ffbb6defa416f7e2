import { readFile, writeFile } from 'node:fs/promises';

/** Flips one bit in the middle of a file, as a failing disk would. */
export async function flipBit(path: string): Promise<void> {
  const bytes = await readFile(path);
  bytes[bytes.length >> 1]! ^= 0x20;
  await writeFile(path, bytes);
}
