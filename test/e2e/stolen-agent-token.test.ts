// Issue 11, findings 1 and 4, through a real `ferry serve` and bin/ferry: what a stolen agent token can try
// against its own vault (erase snapshots through retention with made-up run reports; poison the vault with
// junk objects), that all of it is refused or forgets nothing, and that afterwards every snapshot is there
// and backup, snapshots and restore still work. Then a genuine scheduled snapshot older than 7 days by the
// service's clock (a restart with FERRY_TEST_CLOCK_OFFSET_MS) is forgotten, and nothing else.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ferry, ferryOk, lastJson, makeTempDir, type TempDir } from './harness.js';
import { startServe, type ServeProcess } from './service-harness.js';

const PASSPHRASE = 'a long enough vault passphrase';
const DAY = 24 * 3600_000;

describe('a stolen agent token against its vault', () => {
  let tmp: TempDir;
  let serve: ServeProcess;
  let adminToken: string;
  let tenantAdminToken: string;
  let agentToken: string;
  let vaultId: string;
  let source: string;
  const serviceDir = (): string => join(tmp.path, 'service');
  const state = (): string => join(tmp.path, 'state');
  const vaultUrl = (): string => `${serve.url}/v1/vaults/${vaultId}`;
  const asAdmin = (token: string) => ({ env: { FERRY_SERVER: serve.url, FERRY_TOKEN: token } });
  const asAgent = () => ({ env: { FERRY_STATE_DIR: state(), FERRY_PASSWORD: PASSPHRASE, FERRY_REPOSITORY: undefined, FERRY_TOKEN: undefined } });
  /** bin/ferry on the vault's URL with a token: nothing is reported to the service (no registration is used). */
  const onVault = (token: string) => ({ env: { FERRY_STATE_DIR: join(tmp.path, 'no-state'), FERRY_PASSWORD: PASSPHRASE, FERRY_TOKEN: token } });
  const snapshotIds = async (): Promise<string[]> => (JSON.parse((await ferryOk(['snapshots', '--json'], asAgent())).stdout) as { id: string }[]).map((s) => s.id).sort();

  async function call(method: string, path: string, body?: unknown, token = agentToken): Promise<{ status: number; body: { code?: string; message?: string } & Record<string, unknown> }> {
    const response = await fetch(`${serve.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as { code?: string } };
  }
  const run = (snapshotId: string | null, trigger: string, startedAt: string, finishedAt = new Date().toISOString()) =>
    call('POST', `/v1/vaults/${vaultId}/backup-runs`, { startedAt, finishedAt, status: 'succeeded', snapshotId, filesProcessed: 1, bytesRead: 1, bytesAdded: 1, trigger });
  const backup = async (options: { env: Record<string, string | undefined> }, args: string[] = []): Promise<string> =>
    lastJson<{ snapshot_id: string }>((await ferryOk(['backup', ...args, '--json', source], options)).stdout).snapshot_id;

  before(async () => {
    tmp = await makeTempDir('ferry-e2e-stolen-');
    serve = await startServe(serviceDir());
    adminToken = (await readFile(join(serviceDir(), 'admin.token'), 'utf8')).trim();
    await ferryOk(['tenant', 'create', 'acme'], asAdmin(adminToken));
    await ferryOk(['storage-account', 'create', 'files', '--tenant', 'acme'], asAdmin(adminToken));
    vaultId = lastJson<{ id: string }>((await ferryOk(['vault', 'create', 'fileserver', '--tenant', 'acme', '--storage-account', 'files', '--json'], asAdmin(adminToken))).stdout).id;
    tenantAdminToken = lastJson<{ token: string }>((await ferryOk(['token', 'create', '--role', 'tenant-admin', '--tenant', 'acme', '--json'], asAdmin(adminToken))).stdout).token;
    const credentials = join(tmp.path, 'credentials.json');
    await ferryOk(['vault', 'credentials', 'fileserver', '--tenant', 'acme', '--out', credentials], asAdmin(adminToken));
    await ferryOk(['register', '--credentials', credentials], asAgent());
    agentToken = (JSON.parse(await readFile(join(state(), 'agent.json'), 'utf8')) as { token: string }).token;
    source = join(tmp.path, 'srv');
    await mkdir(source, { recursive: true });
    await writeFile(join(source, 'ledger.txt'), 'entry\n'.repeat(5000));
  });
  after(async () => {
    await serve?.stop('SIGKILL');
    await tmp?.cleanup();
  });

  let manual: string;
  let admins: string;

  it('refuses made-up run reports and junk objects; a short policy forgets nothing; everything is still there', async () => {
    manual = await backup(asAgent()); // reported by the CLI as a manual run
    await writeFile(join(source, 'ledger.txt'), 'entry\n'.repeat(6000));
    admins = await backup(onVault(tenantAdminToken), ['-r', vaultUrl()]);
    const before = await snapshotIds();
    assert.deepEqual(before, [manual, admins].sort());

    const now = Date.now();
    const recent = new Date(now - 60_000).toISOString();
    const cases: [string, Awaited<ReturnType<typeof run>>, RegExp][] = [
      ["a tenant-admin's snapshot", await run(admins, 'scheduled', recent), /stored by a tenant-admin token/],
      ['a snapshot the service never received', await run('ab'.repeat(32), 'scheduled', recent), /never received/],
      ['an old start, before the machine registered', await run(admins, 'scheduled', new Date(now - 40 * DAY).toISOString()), /before the machine registered/],
      ['a run dated 9999-12-31', await run(null, 'scheduled', '9999-12-31T00:00:00.000Z', '9999-12-31T00:00:00.000Z'), /in the future/],
    ];
    for (const [what, answer, message] of cases) {
      assert.equal(answer.status, 400, what);
      assert.equal(answer.body.code, 'RUN_REPORT_REFUSED', what);
      assert.match(answer.body.message ?? '', message, what);
    }
    const relabel = await run(manual, 'scheduled', recent);
    assert.equal(relabel.status, 409, 'a manual run cannot be reported again as scheduled');
    const negative = await call('POST', `/v1/vaults/${vaultId}/backup-runs`, { startedAt: recent, finishedAt: recent, status: 'succeeded', filesProcessed: -1, bytesRead: 0, bytesAdded: 0 });
    assert.equal(negative.status, 400);
    const unlimited = await call('PUT', `/v1/vaults/${vaultId}/schedule`, { daily: '02:30', retention: { keepLast: -1 } });
    assert.equal(unlimited.status, 400);
    assert.equal(unlimited.body.code, 'INVALID_REQUEST');
    const cli = await ferry(['schedule', 'set', '--paths', source, '--daily', '02:30', '--keep-last', '-1'], asAgent());
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /leave the rule out/);

    await ferryOk(['schedule', 'set', '--paths', source, '--daily', '02:30', '--keep-last', '1'], asAgent());
    const retention = await call('POST', `/v1/vaults/${vaultId}/retention`);
    assert.equal(retention.status, 200);
    assert.deepEqual(retention.body.forgotten, []);

    // Poisoning: 100 junk bytes named for their SHA-256 as a snapshot and as an index file.
    const junk = Buffer.from(createHash('sha512').update('junk').digest().toString('hex').slice(0, 100));
    const id = createHash('sha256').update(junk).digest('hex');
    for (const key of [`snapshots/${id}`, `index/${id}`, `data/${id.slice(0, 2)}/${id}`]) {
      const put = await fetch(`${vaultUrl()}/objects/${key}`, { method: 'PUT', headers: { authorization: `Bearer ${agentToken}`, 'content-type': 'application/octet-stream' }, body: junk });
      assert.equal(put.status, 400, key);
      const body = (await put.json()) as { code: string; message: string };
      assert.equal(body.code, 'OBJECT_SHAPE', key);
      assert.match(body.message, /is not (a snapshot|an index file|a pack) of the repository format/);
      assert.equal((await fetch(`${vaultUrl()}/objects/${key}`, { method: 'HEAD', headers: { authorization: `Bearer ${agentToken}` } })).status, 404, `${key} was not stored`);
    }

    // Nothing was lost and the vault works, for the agent and the tenant-admin.
    assert.deepEqual(await snapshotIds(), before);
    const listed = JSON.parse((await ferryOk(['snapshots', '-r', vaultUrl(), '--json'], onVault(tenantAdminToken))).stdout) as unknown[];
    assert.equal(listed.length, 2);
    await writeFile(join(source, 'ledger.txt'), 'entry\n'.repeat(7000));
    const after = await backup(asAgent());
    const target = join(tmp.path, 'restored');
    await ferryOk(['restore', admins, '--target', target], asAgent());
    assert.equal(await readFile(join(target, source, 'ledger.txt'), 'utf8'), 'entry\n'.repeat(6000));
    await ferryOk(['check'], asAgent());
    assert.deepEqual(await snapshotIds(), [...before, after].sort());
  });

  it("forgets a genuine scheduled snapshot once it is 7 days old by the service's clock, and nothing else", async () => {
    // Two scheduled runs, reported as `ferry agent run` does (the backup itself goes through -r: not reported twice).
    const older = await backup(onVault(agentToken), ['-r', vaultUrl()]);
    assert.equal((await run(older, 'scheduled', new Date(Date.now() - 60_000).toISOString())).status, 201);
    const newer = await backup(onVault(agentToken), ['-r', vaultUrl()]);
    assert.equal((await run(newer, 'scheduled', new Date(Date.now() - 60_000).toISOString())).status, 201);
    const before = await snapshotIds();
    assert.deepEqual((await call('POST', `/v1/vaults/${vaultId}/retention`)).body.forgotten, [], 'under 7 days old');

    // The service restarts 8 days later (its clock shifted): the older scheduled snapshot is now old enough.
    await serve.stop('SIGTERM');
    serve = await startServe(serviceDir(), [], { FERRY_TEST_CLOCK_OFFSET_MS: String(8 * DAY) });
    // The schedule set in the first test (keep-last 1) is the service's record: it outlives the restart.
    const retention = await call('POST', `/v1/vaults/${vaultId}/retention`);
    assert.equal(retention.status, 200);
    assert.deepEqual(retention.body.forgotten, [older]);
    assert.deepEqual(retention.body.kept, [newer]);
    const listed = JSON.parse((await ferryOk(['snapshots', '-r', vaultUrl(), '--json'], onVault(agentToken))).stdout) as { id: string }[];
    assert.deepEqual(listed.map((s) => s.id).sort(), before.filter((id) => id !== older), "the manual runs' and the tenant-admin's snapshots remain");
  });
});
