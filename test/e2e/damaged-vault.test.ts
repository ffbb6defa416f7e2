// One damaged object in a vault of a real `ferry serve` (issue 11, finding 4; issue 12): a snapshot file
// damaged at rest in the vault's back end, and a junk snapshot object put there by a tenant-admin (full
// access), must not lock the vault. The agent's snapshots, backup and restore go on; the agent is told to
// ask a tenant-admin, whose `forget ID` and `repair snapshots --forget` against the vault remove them.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { flipBit } from './damage.js';
import { ferry, ferryOk, lastJson, makeTempDir, type TempDir } from './harness.js';
import { startServe, type ServeProcess } from './service-harness.js';

const PASSPHRASE = 'a long enough vault passphrase';

/** The file of `key` in the service's data directory (the default fs back end of the storage account). */
async function objectFile(dataDir: string, key: string): Promise<string> {
  const found = (await readdir(dataDir, { recursive: true })).filter((path) => path.endsWith(key));
  assert.equal(found.length, 1, `one file for ${key} under the data directory: ${found.join(', ')}`);
  return join(dataDir, found[0]!);
}

describe('a damaged snapshot in a vault of ferry serve', () => {
  let tmp: TempDir;
  let serve: ServeProcess;
  let vaultUrl: string;
  let tenantAdminToken: string;
  let source: string;
  let first: string;
  let second: string;
  let junk: string;
  const dataDir = (): string => join(tmp.path, 'service');
  const asAgent = { env: { FERRY_STATE_DIR: '', FERRY_PASSWORD: PASSPHRASE, FERRY_REPOSITORY: undefined, FERRY_TOKEN: undefined } };
  const asTenantAdmin = (): { env: Record<string, string | undefined> } => ({ env: { FERRY_TOKEN: tenantAdminToken, FERRY_PASSWORD: PASSPHRASE, FERRY_STATE_DIR: join(tmp.path, 'admin-state') } });

  before(async () => {
    tmp = await makeTempDir('ferry-e2e-badvault-');
    asAgent.env.FERRY_STATE_DIR = join(tmp.path, 'agent-state');
    serve = await startServe(dataDir());
    const adminToken = (await readFile(join(dataDir(), 'admin.token'), 'utf8')).trim();
    const asAdmin = { env: { FERRY_SERVER: serve.url, FERRY_TOKEN: adminToken } };
    await ferryOk(['tenant', 'create', 'acme'], asAdmin);
    await ferryOk(['storage-account', 'create', 'files', '--tenant', 'acme'], asAdmin);
    const vault = lastJson<{ id: string }>((await ferryOk(['vault', 'create', 'fileserver', '--tenant', 'acme', '--storage-account', 'files', '--json'], asAdmin)).stdout);
    vaultUrl = `${serve.url}/v1/vaults/${vault.id}`;
    tenantAdminToken = lastJson<{ token: string }>((await ferryOk(['token', 'create', '--role', 'tenant-admin', '--tenant', 'acme', '--json'], asAdmin)).stdout).token;
    const credentials = join(tmp.path, 'machine.json');
    await ferryOk(['vault', 'credentials', 'fileserver', '--tenant', 'acme', '--out', credentials], asAdmin);
    await ferryOk(['register', '--credentials', credentials], asAgent);

    source = join(tmp.path, 'srv');
    await mkdir(source, { recursive: true });
    await writeFile(join(source, 'plan.txt'), 'the plan\n'.repeat(500));
    first = lastJson<{ snapshot_id: string }>((await ferryOk(['backup', source, '--json'], asAgent)).stdout).snapshot_id;
    await writeFile(join(source, 'plan.txt'), 'the new plan\n'.repeat(500));
    second = lastJson<{ snapshot_id: string }>((await ferryOk(['backup', source, '--json'], asAgent)).stdout).snapshot_id;

    // Damage at rest: a bit flips in the vault's copy of the newest snapshot.
    await flipBit(await objectFile(dataDir(), `snapshots/${second}`));
    // A junk object under snapshots/, named by its own SHA-256 (so the service accepts it), by a full-access token.
    const bytes = Buffer.from('x'.repeat(100));
    junk = createHash('sha256').update(bytes).digest('hex');
    const put = await fetch(`${vaultUrl}/objects/snapshots/${junk}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${tenantAdminToken}`, 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    assert.equal(put.status, 201);
  });
  after(async () => {
    await serve?.stop('SIGKILL');
    await tmp?.cleanup();
  });

  it("the agent's snapshots lists the intact one and names both bad files, telling it to ask a tenant-admin", async () => {
    const listed = await ferry(['snapshots', '--json'], asAgent);
    assert.equal(listed.code, 3, listed.stderr);
    assert.deepEqual((JSON.parse(listed.stdout) as { id: string }[]).map((s) => s.id), [first]);
    const lines = listed.stderr.trim().split('\n');
    assert.equal(lines.length, 2, listed.stderr);
    for (const id of [second, junk]) {
      const line = lines.find((l) => l.includes(`snapshots/${id}`));
      assert.ok(line, `${id} is named`);
      assert.match(line, new RegExp(`agent token may only add to the vault, so ask a tenant-admin to run \`ferry forget ${id} -r ${vaultUrl}\``));
    }
  });

  it('the agent restores the intact snapshot (by id and as latest) and backs up', async () => {
    for (const ref of [first, 'latest']) {
      const target = join(tmp.path, `restore-${ref}`);
      await ferryOk(['restore', ref, '--target', target], asAgent);
      assert.equal(await readFile(join(target, source, 'plan.txt'), 'utf8'), 'the plan\n'.repeat(500));
    }
    const backup = await ferryOk(['backup', source], asAgent);
    assert.match(backup.stdout, new RegExp(`using parent snapshot ${first.slice(0, 8)}`));
    const check = await ferry(['check'], asAgent);
    assert.equal(check.code, 1);
    assert.match(check.stderr, new RegExp(`snapshots/${second} cannot be read`));
    assert.match(check.stderr, /agent token may only add to the vault: ask a tenant-admin/);
  });

  it("the agent's forget is refused; the tenant-admin's forget ID and repair snapshots --forget remove the bad files", async () => {
    const refused = await ferry(['forget', junk], asAgent);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /tenant-admin/);

    const forget = await ferryOk(['forget', '-r', vaultUrl, junk], asTenantAdmin());
    assert.match(forget.stdout, new RegExp(`removed snapshot ${junk.slice(0, 8)}`));
    const repair = await ferryOk(['repair', 'snapshots', '--forget', '-r', vaultUrl], asTenantAdmin());
    assert.match(repair.stderr, new RegExp(`snapshots/${second} cannot be read .*; removed`));

    const listed = await ferryOk(['snapshots', '--json'], asAgent);
    assert.equal(listed.stderr, '');
    assert.equal((JSON.parse(listed.stdout) as unknown[]).length, 2);
    await ferryOk(['check', '--read-data'], asAgent);
  });
});
