// The agent's whole life through bin/ferry, as an admin and a file server's operator would live it: a
// service with two tenants, a vault, credentials; register, back up and restore with no -r; what the
// agent may not do; the schedule and `ferry agent run` (started "three hours later" with a clock offset,
// stopped with SIGTERM); a second machine joining the vault.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FERRY_BIN, ferry, ferryOk, lastJson, makeTempDir, type TempDir } from './harness.js';
import { startServe, type ServeProcess } from './service-harness.js';

const PASSPHRASE = 'a long enough vault passphrase';
const HOUR = 3600_000;

interface Created {
  id: string;
  name: string;
}

describe('agent: register, back up to the vault, schedule, agent run', () => {
  let tmp: TempDir;
  let serve: ServeProcess;
  let adminToken: string;
  let acmeAdminToken: string;
  let globexAdminToken: string;
  let vault: Created;
  let source: string;
  const stateA = (): string => join(tmp.path, 'state-a');
  const asAdmin = (token: string) => ({ env: { FERRY_SERVER: serve.url, FERRY_TOKEN: token } });
  const asAgent = (state: string, extra: Record<string, string> = {}) => ({
    env: { FERRY_STATE_DIR: state, FERRY_PASSWORD: PASSPHRASE, FERRY_REPOSITORY: undefined, FERRY_TOKEN: undefined, ...extra },
  });
  const api = async <T>(token: string, path: string): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${serve.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: response.status, body: (await response.json()) as T };
  };
  const credentials = async (name: string): Promise<string> => {
    const file = join(tmp.path, `${name}.json`);
    await ferryOk(['vault', 'credentials', 'fileserver', '--tenant', 'acme', '--out', file], asAdmin(adminToken));
    return file;
  };

  before(async () => {
    tmp = await makeTempDir('ferry-e2e-agent-');
    serve = await startServe(join(tmp.path, 'service'));
    adminToken = (await readFile(join(tmp.path, 'service', 'admin.token'), 'utf8')).trim();
    await ferryOk(['tenant', 'create', 'acme'], asAdmin(adminToken));
    await ferryOk(['tenant', 'create', 'globex'], asAdmin(adminToken));
    await ferryOk(['storage-account', 'create', 'files', '--tenant', 'acme'], asAdmin(adminToken));
    vault = lastJson<Created>((await ferryOk(['vault', 'create', 'fileserver', '--tenant', 'acme', '--storage-account', 'files', '--json'], asAdmin(adminToken))).stdout);
    const token = (tenant: string) => ferryOk(['token', 'create', '--role', 'tenant-admin', '--tenant', tenant, '--json'], asAdmin(adminToken));
    acmeAdminToken = lastJson<{ token: string }>((await token('acme')).stdout).token;
    globexAdminToken = lastJson<{ token: string }>((await token('globex')).stdout).token;
    source = join(tmp.path, 'srv', 'data');
    await mkdir(join(source, 'projects'), { recursive: true });
    await writeFile(join(source, 'projects', 'plan.txt'), 'the plan\n'.repeat(1000));
    await writeFile(join(source, 'budget.csv'), Buffer.alloc(300_000, 7));
  });
  after(async () => {
    await serve?.stop('SIGKILL');
    await tmp?.cleanup();
  });

  it('register refuses a short passphrase before spending the code, then registers and creates the repository', async () => {
    const file = await credentials('machine-a');
    const short = await ferry(['register', '--credentials', file], asAgent(stateA(), { FERRY_PASSWORD: 'too short' }));
    assert.equal(short.code, 1);
    assert.match(short.stderr, /^ferry: the passphrase has 9 characters; a vault needs at least 16/m);

    const registered = await ferryOk(['register', '--credentials', file], asAgent(stateA()));
    assert.match(registered.stdout, /registered .* to vault "fileserver" of acme/);
    assert.match(registered.stdout, /created the vault's repository/);
    const state = JSON.parse(await readFile(join(stateA(), 'agent.json'), 'utf8')) as { token: string };
    assert.match(state.token, /^fry_agt_/);
    assert.doesNotMatch(await readFile(join(stateA(), 'agent.json'), 'utf8'), new RegExp(PASSPHRASE), 'the passphrase is never stored');

    const again = await ferry(['register', '--credentials', file], asAgent(join(tmp.path, 'state-x')));
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already used/);
  });

  it('backs up, lists and restores with no -r; the run is reported to the service', async () => {
    const summary = lastJson<{ snapshot_id: string }>((await ferryOk(['backup', source, '--json'], asAgent(stateA()))).stdout);
    const snapshots = JSON.parse((await ferryOk(['snapshots', '--json'], asAgent(stateA()))).stdout) as { id: string }[];
    assert.deepEqual(snapshots.map((s) => s.id), [summary.snapshot_id]);
    const target = join(tmp.path, 'restored');
    await ferryOk(['restore', 'latest', '--target', target], asAgent(stateA()));
    assert.equal(await readFile(join(target, source, 'projects', 'plan.txt'), 'utf8'), 'the plan\n'.repeat(1000));
    assert.ok((await readFile(join(target, source, 'budget.csv'))).equals(Buffer.alloc(300_000, 7)));
    await ferryOk(['check', '--read-data'], asAgent(stateA()));

    const runs = await api<{ backupRuns: { status: string; snapshotId: string; trigger: string; filesProcessed: number }[] }>(acmeAdminToken, `/v1/vaults/${vault.id}/backup-runs`);
    assert.equal(runs.status, 200);
    assert.deepEqual(runs.body.backupRuns.map((r) => [r.status, r.snapshotId, r.trigger, r.filesProcessed]), [['succeeded', summary.snapshot_id, 'manual', 2]]);
  });

  it('the agent cannot forget, prune or delete; another tenant sees nothing', async () => {
    const forget = await ferry(['forget', '--keep-last', '1'], asAgent(stateA()));
    assert.notEqual(forget.code, 0);
    assert.match(forget.stderr, /tenant-admin/);
    const prune = await ferry(['prune'], asAgent(stateA()));
    assert.notEqual(prune.code, 0);
    assert.match(prune.stderr, /tenant-admin/);
    const state = JSON.parse(await readFile(join(stateA(), 'agent.json'), 'utf8')) as { token: string };
    const listed = await fetch(`${serve.url}/v1/vaults/${vault.id}/objects?prefix=snapshots/`, { headers: { authorization: `Bearer ${state.token}` } });
    assert.equal(listed.status, 200, 'the agent may list');
    const listing = await listed.text();
    const key = (JSON.parse(listing.split('\n')[0]!) as { key: string }).key;
    const deleted = await fetch(`${serve.url}/v1/vaults/${vault.id}/objects/${key}`, { method: 'DELETE', headers: { authorization: `Bearer ${state.token}` } });
    assert.equal(deleted.status, 403);

    for (const path of [`/v1/vaults/${vault.id}`, `/v1/vaults/${vault.id}/backup-runs`, `/v1/vaults/${vault.id}/machines`, `/v1/vaults/${vault.id}/objects?prefix=`]) {
      const answer = await fetch(`${serve.url}${path}`, { headers: { authorization: `Bearer ${globexAdminToken}` } });
      assert.equal(answer.status, 404, `${path} for another tenant's admin`);
    }
  });

  it('`agent run` catches up the day\'s slot, reports it as scheduled, applies retention, and stops cleanly on SIGTERM', async () => {
    // The schedule is set "three hours ago" (a clock offset on that command only) for an hour ago, so the
    // agent, on the real clock like the service (which refuses run reports dated in its future), has a
    // missed slot to catch up at once.
    const at = new Date(Date.now() - 1 * HOUR);
    const daily = `${String(at.getHours()).padStart(2, '0')}:${String(at.getMinutes()).padStart(2, '0')}`;
    const set = await ferryOk(['schedule', 'set', '--paths', source, '--daily', daily, '--keep-last', '1', '--keep-daily', '7'], asAgent(stateA(), { FERRY_TEST_CLOCK_OFFSET_MS: String(-3 * HOUR) }));
    assert.match(set.stdout, new RegExp(`daily at ${daily} \\(local time\\)`));
    assert.match((await ferryOk(['schedule', 'show'], asAgent(stateA()))).stdout, /retention: keep-last 1, keep-daily 7/);

    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...process.env, ...asAgent(stateA(), { FERRY_INSECURE_TEST_KDF: '1' }).env })) {
      if (v !== undefined) env[k] = v;
    }
    const child = spawn(process.execPath, [FERRY_BIN, 'agent', 'run'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    while (!/next backup at/.test(stdout) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGTERM');
    assert.equal(await exited, 0, `agent run exited badly\nstdout: ${stdout}\nstderr: ${stderr}`);
    assert.match(stdout, /scheduled backup of .*backup finished/s);
    assert.match(stdout, /retention: 1 scheduled snapshots kept, 0 removed/);
    assert.match(stdout, /ferry agent: stopped/);

    const runs = await api<{ backupRuns: { trigger: string; status: string }[] }>(acmeAdminToken, `/v1/vaults/${vault.id}/backup-runs`);
    assert.deepEqual(runs.body.backupRuns.map((r) => [r.trigger, r.status]).sort(), [['manual', 'succeeded'], ['scheduled', 'succeeded']]);
    const machines = await api<{ machines: { schedule: { daily: string } | null }[] }>(acmeAdminToken, `/v1/vaults/${vault.id}/machines`);
    assert.equal(machines.body.machines[0]!.schedule!.daily, daily);
    const lastSlot = JSON.parse(await readFile(join(stateA(), 'agent-run.json'), 'utf8')) as { lastSlot: number };
    assert.ok(lastSlot.lastSlot <= Date.now() - HOUR + 60_000 && lastSlot.lastSlot > Date.now() - 2 * HOUR, 'the slot run was the missed one of an hour ago');
  });

  it('a second machine joins with the same passphrase and sees the vault; a wrong one is exit 12', async () => {
    const stateB = join(tmp.path, 'state-b');
    const joined = await ferryOk(['register', '--credentials', await credentials('machine-b')], asAgent(stateB, { FERRY_HOSTNAME: 'second-host' }));
    assert.match(joined.stdout, /the passphrase opens the vault's repository/);
    const snapshots = JSON.parse((await ferryOk(['snapshots', '--json'], asAgent(stateB))).stdout) as unknown[];
    assert.equal(snapshots.length, 2);

    const stateC = join(tmp.path, 'state-c');
    const wrong = await ferry(['register', '--credentials', await credentials('machine-c')], asAgent(stateC, { FERRY_PASSWORD: 'another long passphrase here' }));
    assert.equal(wrong.code, 12);
    assert.match(wrong.stderr, /does not open the vault's repository, which another machine created/);
  });
});
