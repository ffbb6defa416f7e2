// The pass criteria every crash test applies (reliability.md, C1 and C2): right after the crash the
// repository checks clean and holds no broken object under a final name; then the next backup runs with
// no manual step, a full read-check passes and a restore equals the source.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { removeTree } from '../fixtures/remove-tree.js';
import { compareTrees } from '../fixtures/tree-compare.js';
import { describeRun, runFerry } from './crash-harness.js';
import { assertCheckPasses, damagedObjects, listRepositoryFiles, tempFilesIn, type CheckSummary, type RepoFile } from './repository-state.js';

export interface CrashState {
  readonly files: RepoFile[];
  readonly check: CheckSummary;
}

/**
 * Asserts what must hold right after a crash: no object under a final name is empty, truncated or misnamed
 * (every name is the SHA-256 of the bytes), and `ferry check` exits 0 without mentioning temp files.
 * `verified` caches objects already hashed (they are immutable). Returns what is on disk and the check.
 */
export async function assertSoundAfterCrash(repo: string, context: string, verified?: Set<string>): Promise<CrashState> {
  const files = await listRepositoryFiles(repo);
  const empty = files.filter((f) => !f.temp && f.size === 0 && ['data', 'index', 'snapshots'].includes(f.folder));
  assert.deepEqual(empty.map((f) => f.key), [], `${context}: zero-byte objects under final names`);
  assert.deepEqual(await damagedObjects(repo, files, verified), [], `${context}: damaged objects under final names`);
  const check = await assertCheckPasses(repo, false, `${context}: check after the crash`);
  return { files, check };
}

export interface RecoveryOptions {
  readonly repo: string;
  readonly source: string;
  /** A folder for the restore (created and removed here). */
  readonly restoreTarget: string;
  readonly context: string;
  /** FERRY_HOSTNAME for the backup (the parent snapshot is looked up by host and paths). */
  readonly hostname: string;
}

/**
 * The next backup (no failpoint, no unlock) exits 0; `check --read-data` exits 0; the latest snapshot (the one
 * that backup made) restores to a tree equal to `source` in everything compareTrees checks. Returns the
 * backup's snapshot id and duration.
 */
export async function assertRecovers(options: RecoveryOptions): Promise<{ snapshotId: string; backupMs: number }> {
  const { repo, source, restoreTarget, context } = options;
  const backupArgs = ['backup', '-r', repo, source, '--json'];
  const backup = await runFerry(backupArgs, { env: { FERRY_HOSTNAME: options.hostname } });
  assert.equal(backup.code, 0, `${context}: the backup after the crash failed: ${describeRun(backupArgs, backup)}`);
  const lines = backup.stdout.trim().split('\n');
  const snapshotId = (JSON.parse(lines[lines.length - 1] ?? '{}') as { snapshot_id?: string }).snapshot_id ?? '';
  assert.match(snapshotId, /^[0-9a-f]{64}$/, `${context}: no snapshot id in ${backup.stdout}`);

  await assertCheckPasses(repo, true, `${context}: check --read-data after the next backup`);

  await removeTree(restoreTarget);
  try {
    const restoreArgs = ['restore', '-r', repo, 'latest', '--target', restoreTarget];
    const restore = await runFerry(restoreArgs);
    assert.equal(restore.code, 0, `${context}: ${describeRun(restoreArgs, restore)}`);
    assert.ok(restore.stdout.includes(`snapshot ${snapshotId.slice(0, 8)}`), `${context}: latest is not the new snapshot ${snapshotId}: ${restore.stdout}`);
    // The snapshot holds the source under its absolute path; the root's parents are the restore's own.
    const differences = await compareTrees(source, join(restoreTarget, source));
    assert.deepEqual(differences, [], `${context}: the restore differs from the source`);
  } finally {
    await removeTree(restoreTarget);
  }
  return { snapshotId, backupMs: backup.durationMs };
}

/** Temp files left by the crash, as one short line for the log. */
export function describeTempFiles(files: readonly RepoFile[]): string {
  const temps = tempFilesIn(files);
  return temps.length === 0 ? 'no temp files' : `temp files left: ${temps.map((f) => `${f.key} (${f.size} B)`).join(', ')}`;
}
