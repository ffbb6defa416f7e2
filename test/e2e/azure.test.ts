// The Azure Blob back end end to end through bin/ferry, on Azurite (started once for this file): a
// repository used directly with `-r azure://…`, and a `ferry serve` whose storage account is in Azure —
// offline seeding through it (seed start → diskprep → ingest → adoption by server-side copy → incremental
// backup → check --read-data → restore → cleanup). In CI a missing Azurite fails this file, never skips.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import { AZURITE_ACCOUNT, azuriteSkipReason, useAzurite, type Azurite } from '../../src/storage/testing/azurite.js';
import { ferry, ferryOk, lastJson, makeTempDir, type TempDir } from './harness.js';
import { startServe, type ServeProcess } from './service-harness.js';

const PASSPHRASE = 'a long enough vault passphrase';
const JOB = 'blob-seed';

describe('Azure Blob back end end to end (Azurite)', { skip: azuriteSkipReason() }, () => {
  const azurite = useAzurite();
  let server: Azurite;
  let tmp: TempDir;
  const path = (name: string): string => join(tmp.path, name);
  const blobNames = async (container: string): Promise<string[]> => {
    const names: string[] = [];
    for await (const blob of BlobServiceClient.fromConnectionString(server.connectionString()).getContainerClient(container).listBlobsFlat()) names.push(blob.name);
    return names;
  };

  before(async () => {
    server = await azurite();
    tmp = await makeTempDir('ferry-e2e-azure-');
    await mkdir(path('srv/docs'), { recursive: true });
    for (let i = 0; i < 3; i++) await writeFile(path(`srv/docs/scan-${i}.bin`), randomBytes(1024 * 1024 + i));
    for (let i = 0; i < 20; i++) await writeFile(path(`srv/docs/note-${i}.txt`), `note ${i}\n`.repeat(100 + i));
  });
  after(() => tmp?.cleanup());

  it('backs up to and restores from -r azure://ACCOUNT/CONTAINER/PREFIX, init creating the container', async () => {
    const container = server.newContainer();
    const repo = `azure://${AZURITE_ACCOUNT}/${container}/restic-users/laptop`;
    const env = { env: { ...server.env, FERRY_REPOSITORY: undefined } };
    const missing = await ferry(['init', '-r', repo], { env: { FERRY_REPOSITORY: undefined, AZURE_STORAGE_CONNECTION_STRING: undefined, AZURE_STORAGE_KEY: undefined } });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /set AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_KEY/);
    await ferryOk(['init', '-r', repo], env);
    const first = lastJson<{ snapshot_id: string; data_added: number }>((await ferryOk(['backup', '-r', repo, path('srv'), '--json'], env)).stdout);
    assert.ok(first.data_added > 3 * 1024 * 1024);
    const second = lastJson<{ data_added: number }>((await ferryOk(['backup', '-r', repo, path('srv'), '--json'], env)).stdout);
    assert.ok(second.data_added < 10_000, 'the second backup is incremental');
    await ferryOk(['check', '-r', repo, '--read-data'], env);
    await ferryOk(['restore', '-r', repo, 'latest', '--target', path('restored-direct')], env);
    assert.deepEqual(await digest(join(path('restored-direct'), path('srv'))), await digest(path('srv')));
    const names = await blobNames(container);
    assert.ok(names.includes('restic-users/laptop/config'));
    assert.ok(names.every((name) => name.startsWith('restic-users/laptop/')), 'everything under the prefix');
  });

  describe('a vault in an Azure storage account, seeded offline', () => {
    let serve: ServeProcess;
    let tenantAdmin: string;
    let operator: string;
    let container: string;
    const as = (token: string) => ({ env: { FERRY_SERVER: serve.url, FERRY_TOKEN: token, FERRY_STATE_DIR: path('nobody') } });
    // The agent and the copy computer have no Azure credentials: only the service talks to the store.
    const noAzure = { AZURE_STORAGE_CONNECTION_STRING: undefined, AZURE_STORAGE_KEY: undefined, FERRY_REPOSITORY: undefined };
    const asAgent = () => ({ env: { ...noAzure, FERRY_STATE_DIR: path('agent'), FERRY_PASSWORD: PASSPHRASE, FERRY_TOKEN: undefined, FERRY_SERVER: undefined } });
    const asCopyComputer = () => ({ env: { ...noAzure, FERRY_STATE_DIR: path('copy-computer'), FERRY_PASSWORD: undefined, FERRY_TOKEN: undefined, FERRY_SERVER: undefined } });
    const job = async () => JSON.parse((await ferryOk(['job', 'show', JOB, '--json'], as(tenantAdmin))).stdout) as { state: string; adoption: { serverSideCopy: boolean } | null };

    before(async () => {
      container = server.newContainer();
      serve = await startServe(path('service'), [], server.env);
      const admin = (await readFile(join(path('service'), 'admin.token'), 'utf8')).trim();
      await ferryOk(['tenant', 'create', 'acme'], as(admin));
      await ferryOk(['storage-account', 'create', 'blob', '--tenant', 'acme', '--backend', `azure://${AZURITE_ACCOUNT}/${container}/tenants/acme`], as(admin));
      const overlap = await ferry(['storage-account', 'create', 'steal', '--tenant', 'acme', '--backend', `azure://${AZURITE_ACCOUNT}/${container}/tenants`], as(admin));
      assert.equal(overlap.code, 1, 'an overlapping account is refused');
      await ferryOk(['vault', 'create', 'fileserver', '--tenant', 'acme', '--storage-account', 'blob'], as(admin));
      tenantAdmin = lastJson<{ token: string }>((await ferryOk(['token', 'create', '--role', 'tenant-admin', '--tenant', 'acme', '--json'], as(admin))).stdout).token;
      operator = lastJson<{ token: string }>((await ferryOk(['token', 'create', '--role', 'operator', '--json'], as(admin))).stdout).token;
      await ferryOk(['vault', 'credentials', 'fileserver', '--tenant', 'acme', '--out', path('credentials.json')], as(admin));
      await ferryOk(['register', '--credentials', path('credentials.json')], asAgent());
      await mkdir(path('disk-1'));
    });
    after(async () => {
      await serve?.stop('SIGKILL');
    });

    it('seeds through disks into the Azure account, adopts by server-side copy, then backs up incrementally', async () => {
      await ferryOk(['seed', 'start', '--staging', path('staging'), '--storage-account', 'blob', '--container', JOB, '--job', JOB, '--paths', path('srv')], asAgent());
      await ferryOk(['backup', path('srv')], asAgent());
      await ferryOk(['diskprep', '--staging', path('staging'), '--disk', path('disk-1')], asCopyComputer());
      await ferryOk(['job', 'ship', JOB, '--carrier', 'DHL', '--tracking', 'JD 0146 0000 0101', '--return-address', 'Acme IT, 1 Main St'], as(tenantAdmin));
      await ferryOk(['datacenter', 'receive', JOB], as(operator));
      await ferryOk(['datacenter', 'ingest', JOB, '--disk', path('disk-1')], as(operator));
      assert.equal((await job()).state, 'Completed');
      assert.ok((await blobNames(container)).some((name) => name.startsWith(`tenants/acme/${JOB}/`)), 'the import is in the Azure container');

      await writeFile(path('srv/docs/today.txt'), 'written after the disk left\n'.repeat(50));
      const backup = await ferry(['backup', path('srv'), '--json'], asAgent());
      assert.equal(backup.code, 0, `${backup.stdout}\n${backup.stderr}`);
      assert.ok(lastJson<{ data_added: number }>(backup.stdout).data_added < 100_000, 'the backup after adoption is incremental');
      const adopted = await job();
      assert.equal(adopted.state, 'Adopted');
      assert.equal(adopted.adoption?.serverSideCopy, true, 'both containers are in one Azure storage account');

      const check = await ferry(['check', '--read-data'], asAgent());
      assert.equal(check.code, 0, `${check.stdout}\n${check.stderr}`);
      await ferryOk(['restore', 'latest', '--target', path('restored-vault')], asAgent());
      assert.deepEqual(await digest(join(path('restored-vault'), path('srv'))), await digest(path('srv')));
    });

    it('cleans up: the imported copy leaves the Azure container, the vault stays whole', async () => {
      await ferryOk(['seed', 'cleanup', JOB, '--yes'], asAgent());
      assert.equal((await job()).state, 'Closed');
      const names = await blobNames(container);
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
