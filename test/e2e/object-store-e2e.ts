// The end-to-end flows every object-store back end goes through, on a real server: a repository used directly
// with `-r SCHEME://…`, and a `ferry serve` whose storage account is in the store — offline seeding through
// it (seed start → diskprep → ingest → adoption by server-side copy → incremental backup → check
// --read-data → restore → cleanup). azure.test.ts and s3.test.ts call it with their server.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ferry, ferryOk, lastJson, makeTempDir, type TempDir } from './harness.js';
import { startServe, type ServeProcess } from './service-harness.js';

/** One object store as the flows see it: how Ferry reaches it, and how a test looks behind Ferry's back. */
export interface ObjectStoreUnderTest {
  /** What a place in the store is called in titles: `container`, `bucket`. */
  readonly place: string;
  /** The environment a Ferry process needs to reach the store. */
  readonly env: Record<string, string>;
  /** The same variables, unset: a process that must not reach the store. */
  readonly noAccess: Record<string, undefined>;
  /** What `ferry init` says without credentials. */
  readonly missingCredentials: RegExp;
  /** A fresh, empty place (a container, a bucket). */
  newPlace(): string;
  /** The back-end URL of `prefix` in `place`. */
  url(place: string, prefix: string): string;
  /** Every object name in `place`, listed with the store's own SDK. */
  objectNames(place: string): Promise<string[]>;
}

const PASSPHRASE = 'a long enough vault passphrase';

/** A few files: three of a megabyte of random bytes, twenty small notes. */
export async function writeSampleTree(root: string): Promise<void> {
  await mkdir(join(root, 'docs'), { recursive: true });
  for (let i = 0; i < 3; i++) await writeFile(join(root, `docs/scan-${i}.bin`), randomBytes(1024 * 1024 + i));
  for (let i = 0; i < 20; i++) await writeFile(join(root, `docs/note-${i}.txt`), `note ${i}\n`.repeat(100 + i));
}

/**
 * Registers (in the current `describe`) the direct-repository and the seeding flows against the store that
 * `store` resolves to (called in a `before`, so a missing server fails the tests).
 */
export function objectStoreFlows(store: () => Promise<ObjectStoreUnderTest>, job: string): void {
  let server: ObjectStoreUnderTest;
  let tmp: TempDir;
  const path = (name: string): string => join(tmp.path, name);

  before(async () => {
    server = await store();
    tmp = await makeTempDir('ferry-e2e-store-');
    await writeSampleTree(path('srv'));
  });
  after(() => tmp?.cleanup());

  it('backs up to and restores from a repository given directly with -r, init creating its place', async () => {
    const place = server.newPlace();
    const repo = server.url(place, 'restic-users/laptop');
    const env = { env: { ...server.env, FERRY_REPOSITORY: undefined } };
    const missing = await ferry(['init', '-r', repo], { env: { FERRY_REPOSITORY: undefined, ...server.noAccess } });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, server.missingCredentials);
    const init = await ferryOk(['init', '-r', repo], env);
    assert.doesNotMatch(init.stderr, /NodeVersionSupportWarning/, 'the SDK warns of nothing on Node 20');
    const first = lastJson<{ snapshot_id: string; data_added: number }>((await ferryOk(['backup', '-r', repo, path('srv'), '--json'], env)).stdout);
    assert.ok(first.data_added > 3 * 1024 * 1024);
    const second = lastJson<{ data_added: number }>((await ferryOk(['backup', '-r', repo, path('srv'), '--json'], env)).stdout);
    assert.ok(second.data_added < 10_000, 'the second backup is incremental');
    await ferryOk(['check', '-r', repo, '--read-data'], env);
    await ferryOk(['restore', '-r', repo, 'latest', '--target', path('restored-direct')], env);
    assert.deepEqual(await digest(join(path('restored-direct'), path('srv'))), await digest(path('srv')));
    const names = await server.objectNames(place);
    assert.ok(names.includes('restic-users/laptop/config'));
    assert.ok(names.every((name) => name.startsWith('restic-users/laptop/')), 'everything under the prefix');
  });

  describe('a vault in a storage account in the store, seeded offline', () => {
    let serve: ServeProcess;
    let tenantAdmin: string;
    let operator: string;
    let place: string;
    const as = (token: string) => ({ env: { FERRY_SERVER: serve.url, FERRY_TOKEN: token, FERRY_STATE_DIR: path('nobody') } });
    // The agent and the copy computer have no credentials for the store: only the service talks to it.
    const noStore = () => ({ ...server.noAccess, FERRY_REPOSITORY: undefined });
    const asAgent = () => ({ env: { ...noStore(), FERRY_STATE_DIR: path('agent'), FERRY_PASSWORD: PASSPHRASE, FERRY_TOKEN: undefined, FERRY_SERVER: undefined } });
    const asCopyComputer = () => ({ env: { ...noStore(), FERRY_STATE_DIR: path('copy-computer'), FERRY_PASSWORD: undefined, FERRY_TOKEN: undefined, FERRY_SERVER: undefined } });
    const jobState = async () => JSON.parse((await ferryOk(['job', 'show', job, '--json'], as(tenantAdmin))).stdout) as { state: string; adoption: { serverSideCopy: boolean } | null };

    before(async () => {
      place = server.newPlace();
      serve = await startServe(path('service'), [], server.env);
      const admin = (await readFile(join(path('service'), 'admin.token'), 'utf8')).trim();
      await ferryOk(['tenant', 'create', 'acme'], as(admin));
      await ferryOk(['storage-account', 'create', 'objects', '--tenant', 'acme', '--backend', server.url(place, 'tenants/acme')], as(admin));
      const overlap = await ferry(['storage-account', 'create', 'steal', '--tenant', 'acme', '--backend', server.url(place, 'tenants')], as(admin));
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

    it('seeds through disks into the account, adopts by server-side copy, then backs up incrementally', async () => {
      await ferryOk(['seed', 'start', '--staging', path('staging'), '--storage-account', 'objects', '--container', job, '--job', job, '--paths', path('srv')], asAgent());
      await ferryOk(['backup', path('srv')], asAgent());
      await ferryOk(['diskprep', '--staging', path('staging'), '--disk', path('disk-1')], asCopyComputer());
      await ferryOk(['job', 'ship', job, '--carrier', 'DHL', '--tracking', 'JD 0146 0000 0101', '--return-address', 'Acme IT, 1 Main St'], as(tenantAdmin));
      await ferryOk(['datacenter', 'receive', job], as(operator));
      await ferryOk(['datacenter', 'ingest', job, '--disk', path('disk-1')], as(operator));
      assert.equal((await jobState()).state, 'Completed');
      assert.ok((await server.objectNames(place)).some((name) => name.startsWith(`tenants/acme/${job}/`)), `the import is in the ${server.place}`);

      await writeFile(path('srv/docs/today.txt'), 'written after the disk left\n'.repeat(50));
      const backup = await ferry(['backup', path('srv'), '--json'], asAgent());
      assert.equal(backup.code, 0, `${backup.stdout}\n${backup.stderr}`);
      assert.ok(lastJson<{ data_added: number }>(backup.stdout).data_added < 100_000, 'the backup after adoption is incremental');
      const adopted = await jobState();
      assert.equal(adopted.state, 'Adopted');
      assert.equal(adopted.adoption?.serverSideCopy, true, 'both containers are in one store');

      const check = await ferry(['check', '--read-data'], asAgent());
      assert.equal(check.code, 0, `${check.stdout}\n${check.stderr}`);
      await ferryOk(['restore', 'latest', '--target', path('restored-vault')], asAgent());
      assert.deepEqual(await digest(join(path('restored-vault'), path('srv'))), await digest(path('srv')));
    });

    it('cleans up: the imported copy leaves the store, the vault stays whole', async () => {
      await ferryOk(['seed', 'cleanup', job, '--yes'], asAgent());
      assert.equal((await jobState()).state, 'Closed');
      const names = await server.objectNames(place);
      assert.ok(!names.some((name) => name.startsWith(`tenants/acme/${job}/`)), 'no imported object is left');
      assert.ok(names.every((name) => name.startsWith('tenants/acme/')), 'everything stays under the account prefix');
      const check = await ferry(['check', '--read-data'], asAgent());
      assert.equal(check.code, 0, `${check.stdout}\n${check.stderr}`);
    });
  });
}

/** Relative path → content hash (files), 'dir' or 'other' for every entry under `root`. */
export async function digest(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(root, { recursive: true })) {
    const full = join(root, entry);
    const st = await lstat(full);
    out[relative(root, full)] = st.isFile() ? createHash('sha256').update(await readFile(full)).digest('hex') : st.isDirectory() ? 'dir' : 'other';
  }
  return out;
}
