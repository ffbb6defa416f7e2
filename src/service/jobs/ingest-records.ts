import type { DoneFile, ErrorLogEntry, FileResult, IngestErrorCode, IngestProblem } from '../../contract/ingest.js';
import type { ServiceDatabase } from '../db/database.js';
import type { IngestTally } from './job-machine.js';

/** What each code means, for results reported without a message. */
const CODE_MEANINGS: Readonly<Record<IngestErrorCode, string>> = {
  FileNotFound: 'the file the manifest lists is not on the disk',
  ChecksumMismatch: "the file's SHA-256 differs from the manifest's",
  DecryptFailed: 'the file could not be decrypted (a segment failed authentication)',
  IOFailed: 'the file could not be read from the disk',
  UnexpectedFile: 'the disk holds a file its manifest does not list (not ingested)',
  PathRefused: 'the path leaves the disk root or is not a plain file',
  UploadFailed: 'the file could not be stored in the import',
  ManifestCorrupted: 'the manifest failed authentication or differs from the registered one',
  DiskIdMismatch: 'the disk presented is not the one registered at that index',
  ForeignDisk: 'the disk belongs to another import job',
  UnknownDisk: 'the job has no disk with that id or index',
};

/**
 * Records file results of disk `diskIndex`: a result replaces any earlier one for the same path (of this
 * job), so a retry that succeeds clears the error. Run it in the caller's transaction.
 */
export async function upsertFileResults(db: ServiceDatabase, jobId: string, diskIndex: number, results: readonly FileResult[], at: string): Promise<void> {
  for (const result of results) {
    const values = { disk_index: diskIndex, size: result.size, sha256: result.sha256, code: result.code, message: result.message, recorded_at: at };
    await db
      .insertInto('job_file_results')
      .values({ job_id: jobId, path: result.path, ...values })
      .onConflict((oc) => oc.columns(['job_id', 'path']).doUpdateSet(values))
      .execute();
  }
}

/** Adds a problem to the job's error log. */
export async function insertProblem(db: ServiceDatabase, id: string, jobId: string, problem: IngestProblem, actor: string, at: string): Promise<void> {
  await db
    .insertInto('job_problems')
    .values({ id, job_id: jobId, disk_index: problem.diskIndex, path: problem.path, code: problem.code, message: problem.message, created_at: at, actor })
    .execute();
}

/** The files of disk `diskIndex` recorded Ok, by path. */
export async function doneFiles(db: ServiceDatabase, jobId: string, diskIndex: number): Promise<DoneFile[]> {
  const rows = await db
    .selectFrom('job_file_results')
    .select(['path', 'size', 'sha256'])
    .where('job_id', '=', jobId)
    .where('disk_index', '=', diskIndex)
    .where('code', '=', 'Ok')
    .orderBy('path')
    .execute();
  return rows.map((r) => ({ path: r.path, size: Number(r.size), sha256: r.sha256 ?? '' }));
}

/** Counts what finishing disk `diskIndex` (or, without it, the job) decides on. */
export async function ingestTally(db: ServiceDatabase, jobId: string, diskIndex?: number): Promise<IngestTally> {
  const ok = await db
    .selectFrom('job_file_results')
    .select(['disk_index', (eb) => eb.fn.countAll<number>().as('count')])
    .where('job_id', '=', jobId)
    .where('code', '=', 'Ok')
    .groupBy('disk_index')
    .execute();
  const failed = await db.selectFrom('job_file_results').select((eb) => eb.fn.countAll<number>().as('count')).where('job_id', '=', jobId).where('code', '!=', 'Ok').executeTakeFirst();
  const problems = await db.selectFrom('job_problems').select((eb) => eb.fn.countAll<number>().as('count')).where('job_id', '=', jobId).executeTakeFirst();
  return {
    diskOkFiles: Number(ok.find((r) => Number(r.disk_index) === diskIndex)?.count ?? 0),
    jobOkFiles: ok.reduce((sum, r) => sum + Number(r.count), 0),
    errorCount: Number(failed?.count ?? 0) + Number(problems?.count ?? 0),
  };
}

/** The job's error log: every non-Ok file result and every problem, oldest first. */
export async function readErrorLog(db: ServiceDatabase, jobId: string): Promise<ErrorLogEntry[]> {
  const results = await db.selectFrom('job_file_results').selectAll().where('job_id', '=', jobId).where('code', '!=', 'Ok').execute();
  const problems = await db.selectFrom('job_problems').selectAll().where('job_id', '=', jobId).execute();
  const entries: ErrorLogEntry[] = [
    ...results.map((r) => {
      const code = r.code as IngestErrorCode;
      return { at: r.recorded_at, diskIndex: Number(r.disk_index), path: r.path, code, message: r.message ?? CODE_MEANINGS[code] ?? code };
    }),
    ...problems.map((p) => ({ at: p.created_at, diskIndex: p.disk_index === null ? null : Number(p.disk_index), path: p.path, code: p.code as IngestErrorCode, message: p.message })),
  ];
  return entries.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : (a.diskIndex ?? -1) - (b.diskIndex ?? -1) || (a.path ?? '').localeCompare(b.path ?? '')));
}
