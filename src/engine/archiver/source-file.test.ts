import assert from 'node:assert/strict';
import { closeSync, openSync, readdirSync, readlinkSync, constants } from 'node:fs';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { seededBytes } from '../testing/arbitraries.js';
import { nativeOpenRead } from '../os/posix-extras.js';
import { openSourceFile, type ChunkSource, type SourceLocation } from './source-file.js';

const FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW;

let dir: string;
let dirFd: number;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-source-'));
  dirFd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
});
after(async () => {
  closeSync(dirFd);
  await rm(dir, { recursive: true, force: true });
});

/** Descriptors of this process open on the test's files (not on its folder, nor the runner's pipes and events). */
function openFds(): number {
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(`${dir}/`)) count++;
    } catch {
      // Closed while listed (the listing's own descriptor, or another part of the runtime's).
    }
  }
  return count;
}

async function readAll(file: ChunkSource, first: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let want = first;
  for (;;) {
    const buffer = Buffer.alloc(want + 3);
    const got = await file.read(buffer, 3, want);
    parts.push(buffer.subarray(3, 3 + got));
    if (got < want) return Buffer.concat(parts);
    want = 4096;
  }
}

describe('openSourceFile', () => {
  const locations = (name: string): [string, SourceLocation][] => [
    ['by folder descriptor', { path: Buffer.from(join(dir, name)), dirFd, name: Buffer.from(name) }],
    ['by path', { path: Buffer.from(join(dir, name)), dirFd: undefined, name: Buffer.from(name) }],
  ];

  it('has the native fused open and read (npm ci builds it)', () => assert.ok(nativeOpenRead()));

  it('reads every byte of files that end in, at and after the first read, and leaves no descriptor open', async () => {
    for (const size of [0, 1, 100, 4096, 10_000]) {
      const data = seededBytes(size, size);
      await writeFile(join(dir, `f${size}`), data);
      for (const first of [50, size, size + 1, 8192]) {
        for (const [how, location] of locations(`f${size}`)) {
          const before = openFds();
          const file = await openSourceFile(location, FLAGS, () => assert.fail('no flag is refused'));
          try {
            assert.ok((await readAll(file, first)).equals(data), `${how}: ${size} bytes, first read ${first}`);
          } finally {
            await file.close();
          }
          await file.close();
          assert.equal(openFds(), before, `${how}: descriptors after close`);
        }
      }
    }
  });

  it('fails as node:fs does for a missing file and for a symlink (never followed)', async () => {
    await symlink(join(dir, 'f100'), join(dir, 'link'));
    for (const [name, code] of [['missing', 'ENOENT'], ['link', 'ELOOP']] as const) {
      for (const [how, location] of locations(name)) {
        const before = openFds();
        await assert.rejects(
          async () => {
            const file = await openSourceFile(location, FLAGS, () => undefined);
            try {
              await file.read(Buffer.alloc(10), 0, 10);
            } finally {
              await file.close();
            }
          },
          (err: NodeJS.ErrnoException) => err.code === code,
          `${how}: ${name}`,
        );
        assert.equal(openFds(), before, `${how}: descriptors after the failure`);
      }
    }
  });
});
