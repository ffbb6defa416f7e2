// The deterministic source tree the crash tests back up: a few large files (random, text, repeated blocks),
// some medium ones and a few thousand small files in nested folders, plus the awkward entries every
// backup must keep (empty file, symlink, hard links, non-ASCII names, unusual modes). One seed gives the
// same bytes and names on every machine, so a failing seed can be replayed.
import { appendFile, chmod, link, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SeededRandom } from '../fixtures/seeded-random.js';

export const MiB = 1024 * 1024;
const KiB = 1024;

/** Sizes of the generated tree; {@link FULL_TREE} is the crash-test default, smaller ones suit quick tests. */
export interface TreeShape {
  /** Sizes in bytes of the incompressible large files. */
  readonly randomFiles: readonly number[];
  /** Size of one large compressible text file (a log). */
  readonly textBytes: number;
  /** Size of one large file of repeated 64 KiB blocks (deduplicates within itself). */
  readonly blockBytes: number;
  /** Number of medium files, each 256 KiB to 2.5 MiB. */
  readonly mediumFiles: number;
  /** Number of small files, each 0 to 16 KiB, spread over nested folders. */
  readonly smallFiles: number;
}

/**
 * About 64 MiB: 28 MiB random, 10 MiB text, 12 MiB repeated blocks, ~7 MiB medium, ~8 MiB small. With the
 * 4 MiB packs of the kill test's repositories a first backup writes about as many packs (15 or so) as a
 * 250 MiB tree does with the default 16 MiB packs.
 */
export const FULL_TREE: TreeShape = {
  randomFiles: [18 * MiB, 10 * MiB],
  textBytes: 10 * MiB,
  blockBytes: 12 * MiB,
  mediumFiles: 5,
  smallFiles: 1000,
};

/**
 * About 9 MiB: for the failpoint tests, whose repositories use 1 MiB packs, so that a first backup makes
 * several data packs (five or more) and a tree pack, all named by one index file.
 */
export const SMALL_TREE: TreeShape = {
  randomFiles: [5 * MiB],
  textBytes: 1 * MiB,
  blockBytes: 1 * MiB,
  mediumFiles: 3,
  smallFiles: 300,
};

/** Writes `length` bytes in 4 MiB pieces so large files never sit whole in memory. */
async function writeLarge(path: string, length: number, piece: (n: number) => Buffer): Promise<void> {
  await writeFile(path, Buffer.alloc(0));
  for (let done = 0; done < length; ) {
    const n = Math.min(4 * MiB, length - done);
    await appendFile(path, piece(n));
    done += n;
  }
}

/** Creates the tree under `root` (which must not exist) from `seed`; returns the total file bytes. */
export async function buildSourceTree(root: string, seed: number, shape: TreeShape = FULL_TREE): Promise<number> {
  const random = new SeededRandom(seed);
  let total = 0;
  await mkdir(join(root, 'big'), { recursive: true });
  for (const [i, size] of shape.randomFiles.entries()) {
    await writeLarge(join(root, 'big', `random-${i}.bin`), size, (n) => random.bytes(n));
    total += size;
  }
  // Text is slow to generate: repeat a seeded 1 MiB sample with a seeded line in front of each piece, so
  // it compresses well but is not one chunk repeated.
  const sample = random.text(MiB);
  await writeLarge(join(root, 'big', 'server.log'), shape.textBytes, (n) =>
    Buffer.concat([Buffer.from(`piece ${random.nextUint32()}\n`), sample]).subarray(0, n),
  );
  total += shape.textBytes;
  await writeLarge(join(root, 'big', 'disk.img'), shape.blockBytes, (n) => random.repeatedBlocks(n, 64 * KiB, 16));
  total += shape.blockBytes;

  await mkdir(join(root, 'medium'));
  for (let i = 0; i < shape.mediumFiles; i++) {
    const size = 256 * KiB + random.below(2304 * KiB);
    await writeFile(join(root, 'medium', `m-${String(i).padStart(3, '0')}.dat`), i % 2 === 0 ? random.bytes(size) : random.text(size));
    total += size;
  }

  // Nested folders: small/dNN/eNN[/fN], with more files in shallow folders than deep ones.
  const folders: string[] = [];
  for (let d = 0; d < 12; d++) {
    for (let e = 0; e < 8; e++) {
      folders.push(join('small', `d${d}`, `e${e}`));
      if (random.below(3) === 0) folders.push(join('small', `d${d}`, `e${e}`, `f${random.below(4)}`));
    }
  }
  for (const folder of folders) await mkdir(join(root, folder), { recursive: true });
  for (let i = 0; i < shape.smallFiles; i++) {
    const folder = folders[random.below(folders.length)] ?? 'small';
    const size = random.below(16 * KiB + 1);
    await writeFile(join(root, folder, `s${i}.${random.below(2) === 0 ? 'txt' : 'bin'}`), random.below(2) === 0 ? random.text(size) : random.bytes(size));
    total += size;
  }

  const odd = join(root, 'odd');
  await mkdir(odd);
  await writeFile(join(odd, 'empty'), '');
  await writeFile(join(odd, 'café-Ω-日本.txt'), random.text(3000));
  await writeFile(join(odd, 'pair-1'), random.text(5000));
  await link(join(odd, 'pair-1'), join(odd, 'pair-2'));
  await symlink('../big/server.log', join(odd, 'log-link'));
  await symlink('does-not-exist', join(odd, 'dangling'));
  await writeFile(join(odd, 'private.key'), random.bytes(64));
  await chmod(join(odd, 'private.key'), 0o600);
  await mkdir(join(odd, 'shared-dir'), { mode: 0o750 });
  await chmod(join(odd, 'shared-dir'), 0o750);
  await writeFile(join(odd, 'shared-dir', 'script.sh'), '#!/bin/sh\necho hi\n');
  await chmod(join(odd, 'shared-dir', 'script.sh'), 0o755);
  return total + 3000 + 5000 + 64 + 18;
}

/**
 * Changes the tree a little, as between two real backups: appends to the log, adds a new file of fresh
 * random data (so the next backup must write packs), rewrites one small file. Returns what it did.
 */
export async function mutateSourceTree(root: string, random: SeededRandom, step: number, newFileBytes: number): Promise<string> {
  const appended = 1 + random.below(256 * KiB);
  await appendFile(join(root, 'big', 'server.log'), random.text(appended));
  await mkdir(join(root, 'added'), { recursive: true });
  await writeFile(join(root, 'added', `step-${step}.bin`), random.bytes(newFileBytes));
  const rewritten = join('medium', `m-000.dat`);
  await appendFile(join(root, rewritten), random.bytes(1 + random.below(4 * KiB)));
  return `appended ${appended} bytes to big/server.log, added added/step-${step}.bin (${newFileBytes} bytes), appended to ${rewritten}`;
}
