// What a crashed run left in a filesystem repository, looked at from outside ferry: which objects exist
// under final names, whether each is whole, and which temp files remain. Every object but `config` is named
// by the SHA-256 of its bytes (docs/repository-format.md, sections 2 and 3), so "whole" is checkable
// without the password: a truncated or empty object under a final name cannot hash to its name.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describeRun, runFerry } from './crash-harness.js';

/** The folders of a repository that hold content-named objects. */
export const OBJECT_FOLDERS = ['data', 'index', 'snapshots', 'keys', 'locks'] as const;
export type ObjectFolder = (typeof OBJECT_FOLDERS)[number];

const TEMP_PREFIX = '.tmp-';
const ID = /^[0-9a-f]{64}$/;

export interface RepoFile {
  /** Path relative to the repository root, `/`-separated. */
  readonly key: string;
  readonly folder: ObjectFolder;
  readonly name: string;
  readonly size: number;
  readonly temp: boolean;
}

/** Every file under the object folders (missing folders are empty), temp files included. */
export async function listRepositoryFiles(repo: string): Promise<RepoFile[]> {
  const files: RepoFile[] = [];
  const walk = async (folder: ObjectFolder, rel: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(join(repo, rel), { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const entry of entries) {
      const key = `${rel}/${entry.name}`;
      if (entry.isDirectory()) await walk(folder, key);
      else {
        const { size } = await stat(join(repo, key));
        files.push({ key, folder, name: entry.name, size, temp: entry.name.startsWith(TEMP_PREFIX) });
      }
    }
  };
  for (const folder of OBJECT_FOLDERS) await walk(folder, folder);
  return files.sort((a, b) => a.key.localeCompare(b.key));
}

/** Objects (not temp files) under final names in `folder`. */
export function objectsIn(files: readonly RepoFile[], folder: ObjectFolder): RepoFile[] {
  return files.filter((f) => f.folder === folder && !f.temp);
}

/** Temp files left in `folder`, or in every folder. */
export function tempFilesIn(files: readonly RepoFile[], folder?: ObjectFolder): RepoFile[] {
  return files.filter((f) => f.temp && (folder === undefined || f.folder === folder));
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * One line per object under a final name that is not whole: a name that is not an id (or a pack outside its
 * fan-out folder), zero bytes, or bytes whose SHA-256 is not the name. Objects are immutable, so keys in
 * `known` (already verified) are not read again; verified keys are added to it.
 */
export async function damagedObjects(repo: string, files: readonly RepoFile[], known: Set<string> = new Set()): Promise<string[]> {
  const problems: string[] = [];
  for (const file of files) {
    if (file.temp || known.has(file.key)) continue;
    const parts = file.key.split('/');
    const wellPlaced = file.folder === 'data' ? parts.length === 3 && parts[1] === file.name.slice(0, 2) : parts.length === 2;
    if (!ID.test(file.name) || !wellPlaced) {
      problems.push(`${file.key}: not a valid object name`);
      continue;
    }
    if (file.size === 0) {
      problems.push(`${file.key}: zero bytes under a final name`);
      continue;
    }
    const actual = await sha256Of(join(repo, file.key));
    if (actual !== file.name) problems.push(`${file.key}: ${file.size} bytes hashing to ${actual}, not to its name (truncated or partial)`);
    else known.add(file.key);
  }
  return problems;
}

export interface CheckSummary {
  readonly ok: boolean;
  readonly errors: string[];
  readonly warnings: string[];
  readonly snapshots: number;
  readonly packs: number;
  readonly packs_read?: number;
}

/**
 * Runs `ferry check [--read-data] --json` and asserts it exits 0 with no errors, and that no temp file shows
 * up in what it reports (they must be invisible to listings). `context` prefixes assertion messages (seed,
 * failpoint, iteration). Returns the summary.
 */
export async function assertCheckPasses(repo: string, readData: boolean, context: string): Promise<CheckSummary> {
  const args = ['check', '-r', repo, '--json', ...(readData ? ['--read-data'] : [])];
  const result = await runFerry(args);
  const lines = result.stdout.trim().split('\n');
  let summary: CheckSummary | undefined;
  try {
    summary = JSON.parse(lines[lines.length - 1] ?? '') as CheckSummary;
  } catch {
    summary = undefined;
  }
  assert.ok(result.code === 0 && summary !== undefined && summary.errors.length === 0, `${context}: ${describeRun(args, result)}`);
  const mentioned = [...summary.errors, ...summary.warnings].filter((line) => line.includes(TEMP_PREFIX));
  assert.deepEqual(mentioned, [], `${context}: check reports temp files`);
  return summary;
}
