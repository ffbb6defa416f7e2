// The datacenter's side of an import job, played by a test through the operator routes of the service
// (issue-6 contract, routes 1–5 and 8), so the adoption tests do not depend on `ferry datacenter`: receive
// the job, then per disk fetch its key, check the manifest, decrypt every file and upload it into the
// import, record the results and finish. `lose` drops files "in transit" (recorded as FileNotFound).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Id } from '../../src/engine/crypto/sha256.js';
import { readDiskFile } from '../../src/seed/disk-reader.js';
import { deriveDiskSubkeys, MANIFEST_NAME } from '../../src/seed/disk-format.js';
import { readLabel } from '../../src/seed/disk-label.js';
import { openManifest } from '../../src/seed/manifest.js';
import { HttpStorage } from '../../src/storage/http/http-storage.js';

/** One JSON request as the operator; throws with the answer on an error status. */
async function call<T>(server: string, token: string, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${server}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status} ${text}`);
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

export interface IngestPlay {
  readonly server: string;
  readonly operatorToken: string;
  readonly jobId: string;
  readonly disks: readonly string[];
  /** Staging paths (object keys) lost in transit: not uploaded, recorded FileNotFound. */
  readonly lose?: (path: string) => boolean;
}

/** Receives the job and ingests every disk; resolves with the job's final state. */
export async function playDatacenter(play: IngestPlay): Promise<string> {
  const { server, operatorToken: token, jobId } = play;
  const job = `/v1/import-jobs/${jobId}`;
  await call(server, token, 'POST', `${job}/receive`, {});
  const imported = new HttpStorage({ url: `${server}${job}`, token });
  let state = '';
  try {
    for (const disk of play.disks) {
      const label = await readLabel(disk);
      if (!label) throw new Error(`${disk} has no label`);
      const { diskKey } = await call<{ diskKey: string }>(server, token, 'GET', `${job}/disks/${label.index}/key?diskId=${label.diskId}`);
      const manifestBytes = await readFile(join(disk, MANIFEST_NAME));
      await call(server, token, 'POST', `${job}/disks/${label.index}/ingest`, { diskId: label.diskId, manifestSha256: sha256Id(manifestBytes) });
      const keys = deriveDiskSubkeys(Buffer.from(diskKey, 'base64'), label.diskId);
      const manifest = openManifest(keys.manifestKey, manifestBytes, label.diskId);
      const results = [];
      for (const entry of manifest.files) {
        if (play.lose?.(entry.path)) {
          results.push({ path: entry.path, size: entry.size, sha256: null, code: 'FileNotFound', message: 'the file is not on the disk' });
          continue;
        }
        const bytes = await readDiskFile(disk, label.diskId, keys.fileKey, manifest.segmentSize, entry);
        await imported.save(entry.path, bytes, { length: bytes.length, sha256: entry.sha256 });
        results.push({ path: entry.path, size: entry.size, sha256: entry.sha256, code: 'Ok', message: null });
      }
      await call(server, token, 'POST', `${job}/disks/${label.index}/results`, { results, progress: { bytesDone: results.reduce((s, r) => s + r.size, 0), filesDone: results.length } });
      state = (await call<{ state: string }>(server, token, 'POST', `${job}/disks/${label.index}/finish`, {})).state;
    }
  } finally {
    await imported.close();
  }
  return state;
}
