import { createHash, randomBytes } from 'node:crypto';
import { appendFile, lstat, mkdir, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

/**
 * The demo's file server: web pages that compress well, photos that do not, a copy of a photo
 * (deduplicated), a large database file, a log, an empty folder and a symbolic link. About 40 MB.
 */
export async function writeSampleTree(root: string): Promise<void> {
  await mkdir(join(root, 'projects', 'website'), { recursive: true });
  await mkdir(join(root, 'photos'), { recursive: true });
  await mkdir(join(root, 'empty-folder'));
  for (let i = 0; i < 300; i++) await writeFile(join(root, 'projects', 'website', `page-${i}.html`), `<h1>Page ${i}</h1>\n`.repeat(50 + i));
  for (let i = 0; i < 6; i++) await writeFile(join(root, 'photos', `photo-${i}.jpg`), randomBytes(2 * 1024 * 1024));
  await writeFile(join(root, 'photos', 'photo-0-copy.jpg'), await readFile(join(root, 'photos', 'photo-0.jpg')));
  await writeFile(join(root, 'database.db'), randomBytes(24 * 1024 * 1024));
  await symlink('projects/website/page-1.html', join(root, 'home.html'));
  await writeFile(join(root, 'server.log'), 'boot\n');
}

/** A day of work on the sample tree; answers how many bytes of new content it made. */
export async function changeSampleTree(root: string): Promise<number> {
  const logLines = 'request served\n'.repeat(2000);
  await appendFile(join(root, 'server.log'), logLines);
  const page = '<h1>Edited today</h1>\n';
  await writeFile(join(root, 'projects', 'website', 'page-7.html'), page);
  const photo = randomBytes(1024 * 1024);
  await writeFile(join(root, 'photos', 'new.jpg'), photo);
  return logLines.length + page.length + photo.length;
}

/**
 * A digest of every entry under `root` by relative path: type, mode, mtime and content hash for files,
 * the target for links. Two trees are identical for the demo when their digests are equal.
 */
export async function treeDigest(root: string): Promise<Map<string, string>> {
  const digest = new Map<string, string>();
  const walk = async (path: string): Promise<void> => {
    const st = await lstat(path);
    const key = relative(root, path);
    if (st.isDirectory()) {
      digest.set(key, `dir ${st.mode}`);
      for (const name of await readdir(path)) await walk(join(path, name));
    } else if (st.isSymbolicLink()) {
      digest.set(key, `link ${await readlink(path)}`);
    } else {
      const hash = createHash('sha256').update(await readFile(path)).digest('hex');
      digest.set(key, `file ${st.mode} ${st.mtimeMs} ${hash}`);
    }
  };
  await walk(root);
  return digest;
}

/** The relative paths whose digests differ between two trees (missing on either side included). */
export function treeDifferences(expected: Map<string, string>, actual: Map<string, string>): string[] {
  const paths = new Set([...expected.keys(), ...actual.keys()]);
  return [...paths].filter((path) => expected.get(path) !== actual.get(path)).sort();
}
