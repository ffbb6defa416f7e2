// The S3 back end end to end through bin/ferry, on Ceph radosgw (a one-node cluster started once for this
// file): a repository used directly with `-r s3://…`, and a `ferry serve` whose storage account is in S3 —
// offline seeding through it (seed start → diskprep → ingest → adoption by server-side copy → incremental
// backup → check --read-data → restore → cleanup). In CI a missing radosgw fails this file, never skips.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { createS3Client } from '../../src/storage/s3/s3-client.js';
import { s3ConfigFromEnv } from '../../src/storage/s3/s3-config.js';
import { DEFAULT_RETRY } from '../../src/storage/object-store/retry.js';
import { radosgwSkipReason, useRadosgw, type Radosgw } from '../../src/storage/testing/radosgw.js';
import { ferry, ferryOk, lastJson, makeTempDir, type TempDir } from './harness.js';
import { startServe, type ServeProcess } from './service-harness.js';

const PASSPHRASE = 'a long enough vault passphrase';
const JOB = 's3-seed';

describe('S3 back end end to end (Ceph radosgw)', { skip: radosgwSkipReason() }, () => {
  const radosgw = useRadosgw();
  let server: Radosgw;
  let tmp: TempDir;
  const path = (name: string): string => join(tmp.path, name);
  /** Every object name in the bucket (looked at behind Ferry's back). */
  const objectNames = async (bucket: string): Promise<string[]> => {
    const client = createS3Client(s3ConfigFromEnv(server.env), DEFAULT_RETRY);
    const names: string[] = [];
    let ContinuationToken: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ...(ContinuationToken ? { ContinuationToken } : {}) }));
      for (const item of page.Contents ?? []) names.push(item.Key ?? '');
      ContinuationToken = page.NextContinuationToken;
    } while (ContinuationToken);
    return names;
  };
  const noS3 = { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_REGION: undefined, AWS_ENDPOINT_URL_S3: undefined, AWS_ENDPOINT_URL: undefined };

  before(async () => {
    server = await radosgw();
    tmp = await makeTempDir('ferry-e2e-s3-');
    await mkdir(path('srv/docs'), { recursive: true });
    for (let i = 0; i < 3; i++) await writeFile(path(`srv/docs/scan-${i}.bin`), randomBytes(1024 * 1024 + i));
    for (let i = 0; i < 20; i++) await writeFile(path(`srv/docs/note-${i}.txt`), `note ${i}\n`.repeat(100 + i));
  });
  after(() => tmp?.cleanup());

  it('backs up to and restores from -r s3://BUCKET/PREFIX, init creating the bucket', async () => {
    const bucket = server.newBucket();
    const repo = `s3://${bucket}/restic-users/laptop`;
    const env = { env: { ...server.env, FERRY_REPOSITORY: undefined } };
    const missing = await ferry(['init', '-r', repo], { env: { FERRY_REPOSITORY: undefined, ...noS3 } });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
    const init = await ferryOk(['init', '-r', repo], env);
    assert.doesNotMatch(init.stderr, /NodeVersionSupportWarning/, 'the SDK warns of nothing on Node 20');
    const first = lastJson<{ snapshot_id: string; data_added: number }>((await ferryOk(['backup', '-r', repo, path('srv'), '--json'], env)).stdout);
    assert.ok(first.data_added > 3 * 1024 * 1024);
    const second = lastJson<{ data_added: number }>((await ferryOk(['backup', '-r', repo, path('srv'), '--json'], env)).stdout);
    assert.ok(second.data_added < 10_000, 'the second backup is incremental');
    await ferryOk(['check', '-r', repo, '--read-data'], env);
    await ferryOk(['restore', '-r', repo, 'latest', '--target', path('restored-direct')], env);
    assert.deepEqual(await digest(join(path('restored-direct'), path('srv'))), await digest(path('srv')));
    const names = await objectNames(bucket);
    assert.ok(names.includes('restic-users/laptop/config'));
    assert.ok(names.every((name) => name.startsWith('restic-users/laptop/')), 'everything under the prefix');
  });

  describe('a vault in an S3 storage account, seeded offline', () => {
    let serve: ServeProcess;
    let tenantAdmin: string;
    let operator: string;
    let bucket: string;
    const as = (token: string) => ({ env: { FERRY_SERVER: serve.url, FERRY_TOKEN: token, FERRY_STATE_DIR: path('nobody') } });
    // The agent and the copy computer have no S3 keys: only the service talks to the store.
    const noStore = { ...noS3, FERRY_REPOSITORY: undefined };
    const asAgent = () => ({ env: { ...noStore, FERRY_STATE_DIR: path('agent'), FERRY_PASSWORD: PASSPHRASE, FERRY_TOKEN: undefined, FERRY_SERVER: undefined } });
    const asCopyComputer = () => ({ env: { ...noStore, FERRY_STATE_DIR: path('copy-computer'), FERRY_PASSWORD: undefined, FERRY_TOKEN: undefined, FERRY_SERVER: undefined } });
    const job = async () => JSON.parse((await ferryOk(['job', 'show', JOB, '--json'], as(tenantAdmin))).stdout) as { state: string; adoption: { serverSideCopy: boolean } | null };

    before(async () => {
      bucket = server.newBucket();
      serve = await startServe(path('service'), [], server.env);
      const admin = (await readFile(join(path('service'), 'admin.token'), 'utf8')).trim();
      await ferryOk(['tenant', 'create', 'acme'], as(admin));
      await ferryOk(['storage-account', 'create', 'objects', '--tenant', 'acme', '--backend', `s3://${bucket}/tenants/acme`], as(admin));
      const overlap = await ferry(['storage-account', 'create', 'steal', '--tenant', 'acme', '--backend', `s3://${bucket}/tenants`], as(admin));
      assert.equal(overlap.code, 1, 'an overlapping account is refused');
      await ferryOk(['vault', 'create', 'fileserver', '--tenant', 'acme', '--storage-account', 'objects'], as(admin));
      tenantAdmin = lastJson<{ token: string }>((await ferryOk(['token', 'create', '--role', 'tenant-admin', '--tenant', 'acme', '--json'], as(admin))).stdout).token;
      operator = lastJson<{ token: string }>((await ferryOk(['token', 'create', '--role', 'operator', '--json'], as(admin))).stdout).token;
      await ferryOk(['vault', 'credentials', 'fileserver', '--tenant', 'acme', '--out', path('credentials.json')], as(admin));
      await ferryOk(['register', '--credentials', path('credentials.json')], asAgent());
      await mkdir(path('disk-1'));
    });
    after(async () => {
      await serve?.stop('SIGKILL');
    });

    it('seeds through disks into the S3 account, adopts by server-side copy, then backs up incrementally', async () => {
      await ferryOk(['seed', 'start', '--staging', path('staging'), '--storage-account', 'objects', '--container', JOB, '--job', JOB, '--paths', path('srv')], asAgent());
      await ferryOk(['backup', path('srv')], asAgent());
      await ferryOk(['diskprep', '--staging', path('staging'), '--disk', path('disk-1')], asCopyComputer());
      await ferryOk(['job', 'ship', JOB, '--carrier', 'DHL', '--tracking', 'JD 0146 0000 0101', '--return-address', 'Acme IT, 1 Main St'], as(tenantAdmin));
      await ferryOk(['datacenter', 'receive', JOB], as(operator));
      await ferryOk(['datacenter', 'ingest', JOB, '--disk', path('disk-1')], as(operator));
      assert.equal((await job()).state, 'Completed');
      assert.ok((await objectNames(bucket)).some((name) => name.startsWith(`tenants/acme/${JOB}/`)), 'the import is in the bucket');

      await writeFile(path('srv/docs/today.txt'), 'written after the disk left\n'.repeat(50));
      const backup = await ferry(['backup', path('srv'), '--json'], asAgent());
      assert.equal(backup.code, 0, `${backup.stdout}\n${backup.stderr}`);
      assert.ok(lastJson<{ data_added: number }>(backup.stdout).data_added < 100_000, 'the backup after adoption is incremental');
      const adopted = await job();
      assert.equal(adopted.state, 'Adopted');
      assert.equal(adopted.adoption?.serverSideCopy, true, 'both containers are in one S3 endpoint');

      const check = await ferry(['check', '--read-data'], asAgent());
      assert.equal(check.code, 0, `${check.stdout}\n${check.stderr}`);
      await ferryOk(['restore', 'latest', '--target', path('restored-vault')], asAgent());
      assert.deepEqual(await digest(join(path('restored-vault'), path('srv'))), await digest(path('srv')));
    });

    it('cleans up: the imported copy leaves the bucket, the vault stays whole', async () => {
      await ferryOk(['seed', 'cleanup', JOB, '--yes'], asAgent());
      assert.equal((await job()).state, 'Closed');
      const names = await objectNames(bucket);
      assert.ok(!names.some((name) => name.startsWith(`tenants/acme/${JOB}/`)), 'no imported object is left');
      assert.ok(names.every((name) => name.startsWith('tenants/acme/')), 'everything stays under the account prefix');
      const check = await ferry(['check', '--read-data'], asAgent());
      assert.equal(check.code, 0, `${check.stdout}\n${check.stderr}`);
    });
  });
});

/** Relative path → content hash (files), 'dir' or 'other' for every entry under `root`. */
async function digest(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(root, { recursive: true })) {
    const full = join(root, entry);
    const st = await lstat(full);
    out[relative(root, full)] = st.isFile() ? createHash('sha256').update(await readFile(full)).digest('hex') : st.isDirectory() ? 'dir' : 'other';
  }
  return out;
}
