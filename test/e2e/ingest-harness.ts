// What the end-to-end tests of the datacenter's ingest share: a service with a tenant, two storage accounts and
// the tokens of each side; a staging repository of three backups; and import jobs whose three disks diskprep
// made from it, shipped (and received), ready to ingest.
import assert from 'node:assert/strict';
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SEED_FILE_NAME } from '../../src/seed/seed-file.js';
import { seededBytes } from '../../src/seed/testing/staging-fixture.js';
import { ferryOk, lastJson } from './harness.js';
import { callApi } from './service-harness.js';

/** A job whose disks were prepared. */
export interface PreparedJob {
  readonly name: string;
  readonly id: string;
  /** The disks in index order. */
  readonly disks: string[];
}

/** The tokens of a service set up for ingest, and the staging repository its jobs carry. */
export interface IngestWorld {
  readonly adminToken: string;
  readonly tenantAdmin: string;
  readonly operator: string;
  readonly staging: string;
  /** The staging repository's carried files (keys), sorted. */
  readonly carried: string[];
}

/** The most diskprep puts on one disk: the staging repository of about 3.2 MB spans three disks. */
const MAX_BYTES_PER_DISK = '1.6MB';

/** Tracking numbers are unique across a service's jobs. */
let shipped = 0;

/**
 * Sets up the service at `url` (its data dir `serviceDir`): tenant "acme", storage accounts "files" and
 * "imports", a tenant-admin and an operator token; and a staging repository of three backups in `dir`.
 */
export async function setUpIngestWorld(url: string, serviceDir: string, dir: string, seed: string): Promise<IngestWorld> {
  const adminToken = (await readFile(join(serviceDir, 'admin.token'), 'utf8')).trim();
  const as = { env: { FERRY_SERVER: url, FERRY_TOKEN: adminToken } };
  await ferryOk(['tenant', 'create', 'acme'], as);
  await ferryOk(['storage-account', 'create', 'files', '--tenant', 'acme'], as);
  await ferryOk(['storage-account', 'create', 'imports', '--tenant', 'acme'], as);
  const tenantAdmin = lastJson<{ token: string }>((await ferryOk(['token', 'create', '--role', 'tenant-admin', '--tenant', 'acme', '--json'], as)).stdout).token;
  const operator = lastJson<{ token: string }>((await ferryOk(['token', 'create', '--role', 'operator', '--json'], as)).stdout).token;
  // A staging repository of three backups (their packs, index files and snapshots): about 3.2 MB.
  const staging = join(dir, 'staging');
  await ferryOk(['init', '-r', staging]);
  for (const [i, size] of [1_200_000, 900_000, 1_100_000].entries()) {
    const source = join(dir, `source-${i}`);
    await mkdir(source);
    await writeFile(join(source, 'data.bin'), seededBytes(`${seed}-${i}`, size));
    await ferryOk(['backup', '-r', staging, source]);
  }
  const carried: string[] = [];
  for (const folder of ['data', 'index', 'snapshots']) {
    for (const entry of await readdir(join(staging, folder), { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) carried.push(join(entry.parentPath, entry.name).slice(staging.length + 1));
    }
  }
  carried.sort();
  assert.ok(carried.length >= 9, carried.join('\n'));
  return { adminToken, tenantAdmin, operator, staging, carried };
}

/**
 * A new import job `name` of a new vault (one open job per vault), its three disks made under `disksDir` by
 * diskprep from a copy (in `dir`) of the staging repository, shipped, and received unless told not to.
 */
export async function prepareImportJob(url: string, world: IngestWorld, dir: string, disksDir: string, name: string, options: { receive?: boolean } = {}): Promise<PreparedJob> {
  const as = (token: string) => ({ env: { FERRY_SERVER: url, FERRY_TOKEN: token } });
  const vaultId = lastJson<{ id: string }>((await ferryOk(['vault', 'create', `server-${name}`, '--tenant', 'acme', '--storage-account', 'files', '--json'], as(world.adminToken))).stdout).id;
  const created = await callApi<{ job: { id: string }; jobToken: string }>(url, world.tenantAdmin, 'POST', `/v1/vaults/${vaultId}/import-jobs`, { name, storageAccount: 'imports', container: `import-${name}` });
  const copy = join(dir, `staging-${name}`);
  await cp(world.staging, copy, { recursive: true });
  const seed = { format: 'ferry-seed', version: 1, server: url, jobId: created.job.id, jobName: name, jobToken: created.jobToken, vault: { id: vaultId, name: `server-${name}` } };
  await writeFile(join(copy, SEED_FILE_NAME), JSON.stringify(seed), { mode: 0o600 });
  const disks = [1, 2, 3].map((n) => join(disksDir, `${name}-disk-${n}`));
  for (const disk of disks) await mkdir(disk);
  await ferryOk(['diskprep', '--staging', copy, ...disks.flatMap((d) => ['--disk', d]), '--max-bytes-per-disk', MAX_BYTES_PER_DISK], { env: { FERRY_TOKEN: undefined } });
  await ferryOk(['job', 'ship', name, '--carrier', 'DHL', '--tracking', `JD ${++shipped} 0146`, '--return-address', 'Acme IT'], as(world.tenantAdmin));
  if (options.receive !== false) {
    const received = await ferryOk(['datacenter', 'receive', name], as(world.operator));
    assert.match(received.stdout, new RegExp(`import job ${name} is Received: 3 disks expected`));
  }
  return { name, id: created.job.id, disks };
}
