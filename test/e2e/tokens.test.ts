// The token lifecycle through bin/ferry against a real `ferry serve` whose agent tokens live 15 seconds:
// the agent renews its token in the last third of its lifetime and keeps working after the first token
// expired, while the old token is refused; two commands at once renew once; `ferry token list|revoke`
// cover agent and job tokens; a revoked agent says to register again; a cancelled job's token says so.
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ferry, ferryOk, lastJson, makeTempDir, type TempDir } from './harness.js';
import { startServe, type ServeProcess } from './service-harness.js';

const PASSPHRASE = 'a long enough vault passphrase';
const LIFETIME_MS = 15_000;

interface AgentFile {
  token: string;
  tokenExpiresAt: string;
  tokenIssuedAt?: string;
  registeredAt: string;
  renewalPending?: true;
}
interface Listing {
  id: string;
  role: string;
  state: string;
  revokedReason: string | null;
  machineName: string | null;
  vaultName: string | null;
  jobName: string | null;
}

const sleepUntil = async (at: number): Promise<void> => {
  const wait = at - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
};

describe('token lifecycle: renewal, expiry, revocation, job tokens', () => {
  let tmp: TempDir;
  let serve: ServeProcess;
  let adminToken: string;
  let acmeAdmin: string;
  let source: string;
  const state = (): string => join(tmp.path, 'state');
  const asAdmin = (token: string) => ({ env: { FERRY_SERVER: serve.url, FERRY_TOKEN: token } });
  const asAgent = (extra: Record<string, string> = {}) => ({
    env: { FERRY_STATE_DIR: state(), FERRY_PASSWORD: PASSPHRASE, FERRY_REPOSITORY: undefined, FERRY_TOKEN: undefined, FERRY_SERVER: undefined, ...extra },
  });
  const agentFile = async (): Promise<AgentFile> => JSON.parse(await readFile(join(state(), 'agent.json'), 'utf8')) as AgentFile;
  const whoami = async (token: string): Promise<{ status: number; code?: string; message?: string }> => {
    const response = await fetch(`${serve.url}/v1/whoami`, { headers: { authorization: `Bearer ${token}` } });
    const body = (await response.json()) as { code?: string; message?: string };
    return { status: response.status, ...(response.ok ? {} : { code: body.code!, message: body.message! }) };
  };
  const tokens = async (token: string): Promise<Listing[]> => JSON.parse((await ferryOk(['token', 'list', '--json'], asAdmin(token))).stdout) as Listing[];

  before(async () => {
    tmp = await makeTempDir('ferry-e2e-tokens-');
    serve = await startServe(join(tmp.path, 'service'), ['--agent-token-lifetime', `${LIFETIME_MS / 1000}s`]);
    adminToken = (await readFile(join(tmp.path, 'service', 'admin.token'), 'utf8')).trim();
    await ferryOk(['tenant', 'create', 'acme'], asAdmin(adminToken));
    await ferryOk(['storage-account', 'create', 'files', '--tenant', 'acme'], asAdmin(adminToken));
    await ferryOk(['vault', 'create', 'fileserver', '--tenant', 'acme', '--storage-account', 'files'], asAdmin(adminToken));
    acmeAdmin = lastJson<{ token: string }>((await ferryOk(['token', 'create', '--role', 'tenant-admin', '--tenant', 'acme', '--json'], asAdmin(adminToken))).stdout).token;
    source = join(tmp.path, 'srv');
    await mkdir(source, { recursive: true });
    await writeFile(join(source, 'a.txt'), 'alpha\n'.repeat(5000));
  });
  after(async () => {
    await serve?.stop('SIGKILL');
    await tmp?.cleanup();
  });

  it('the agent renews its token in the last third of its lifetime and keeps working after the first one expired; the old token is refused', async () => {
    const credentials = join(tmp.path, 'credentials.json');
    await ferryOk(['vault', 'credentials', 'fileserver', '--tenant', 'acme', '--out', credentials], asAdmin(adminToken));
    await ferryOk(['register', '--credentials', credentials], asAgent());
    const first = await agentFile();
    const expires = Date.parse(first.tokenExpiresAt);
    const renewFrom = expires - LIFETIME_MS / 3;

    const early = await ferryOk(['backup', source], asAgent());
    if (Date.now() < renewFrom - 500) {
      assert.equal((await agentFile()).token, first.token, 'no renewal before the last third');
      assert.doesNotMatch(early.stderr, /renewed/);
    }

    await sleepUntil(renewFrom + 300);
    const renewing = await ferryOk(['backup', source], asAgent());
    assert.match(renewing.stderr, /renewed this machine's agent token: it now expires at /);
    const second = await agentFile();
    assert.notEqual(second.token, first.token);
    assert.equal(second.renewalPending, undefined, 'the renewal was confirmed');
    assert.ok(Date.parse(second.tokenExpiresAt) > expires);
    const old = await whoami(first.token);
    assert.deepEqual([old.status, old.code], [401, 'TOKEN_RENEWED'], 'the old token is revoked once the new one is stored');

    await sleepUntil(expires + 300);
    const snapshots = JSON.parse((await ferryOk(['snapshots', '--json'], asAgent())).stdout) as unknown[];
    assert.equal(snapshots.length, 2, 'both backups are there, read with the renewed token after the first one expired');
    assert.equal((await whoami(first.token)).status, 401);
    assert.equal((await whoami(second.token)).status, 200);

    const listed = (await tokens(acmeAdmin)).filter((t) => t.role === 'agent');
    assert.deepEqual(
      listed.map((t) => [t.state, t.revokedReason, t.machineName, t.vaultName]),
      [
        ['active', null, listed[0]!.machineName, 'fileserver'],
        ['revoked', 'renewed', listed[0]!.machineName, 'fileserver'],
      ],
    );
  });

  it('two commands at once renew once: one renews, the other uses the new token', async () => {
    const before = await agentFile();
    // Both think the last third has begun (the service's clock is not moved: both tokens are valid).
    const later = { FERRY_TEST_CLOCK_OFFSET_MS: String(Math.ceil(Date.parse(before.tokenExpiresAt) - Date.now() - LIFETIME_MS / 3) + 1000) };
    const [a, b] = await Promise.all([ferry(['snapshots'], asAgent(later)), ferry(['snapshots'], asAgent(later))]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const renewals = `${a.stderr}${b.stderr}`.match(/renewed this machine's agent token/g) ?? [];
    assert.equal(renewals.length, 1, `${a.stderr}\n${b.stderr}`);
    const after = await agentFile();
    assert.notEqual(after.token, before.token);
    assert.equal((await whoami(before.token)).code, 'TOKEN_RENEWED');
    assert.equal((await whoami(after.token)).status, 200);
    assert.equal((await tokens(acmeAdmin)).filter((t) => t.role === 'agent' && t.state === 'active').length, 1, 'no spare live token');
  });

  it('a tenant-admin lists and revokes the agent token; the agent then fails with one line saying to register again', async () => {
    const agent = (await tokens(acmeAdmin)).find((t) => t.role === 'agent' && t.state === 'active')!;
    const table = (await ferryOk(['token', 'list'], asAdmin(acmeAdmin))).stdout;
    assert.match(table, new RegExp(`${agent.id} +agent +machine ${agent.machineName}, vault fileserver \\(acme\\)`));
    assert.match(table, /revoked .*\(renewed\)/);
    const revoked = await ferryOk(['token', 'revoke', agent.id], asAdmin(acmeAdmin));
    assert.match(revoked.stdout, new RegExp(`revoked agent token ${agent.id} of machine ${agent.machineName}, vault fileserver`));

    const refused = await ferry(['backup', source], asAgent());
    assert.equal(refused.code, 1);
    const lines = refused.stderr.trim().split('\n');
    assert.equal(lines.length, 1, refused.stderr);
    assert.match(lines[0]!, /^ferry: the service refused this machine's agent token: this agent token was revoked at \S+: register this machine again/);
    assert.match(lines[0]!, /ferry register --credentials FILE/);
  });

  it("a job token dies with its job: the copy computer is told the job was Cancelled; token list shows why", async () => {
    // A fresh machine for the seed (the first one's token was revoked).
    const credentials = join(tmp.path, 'credentials-2.json');
    await ferryOk(['vault', 'credentials', 'fileserver', '--tenant', 'acme', '--out', credentials], asAdmin(adminToken));
    const seedState = join(tmp.path, 'state-2');
    const seeder = { env: { ...asAgent().env, FERRY_STATE_DIR: seedState } };
    await ferryOk(['register', '--credentials', credentials], seeder);
    const staging = join(tmp.path, 'staging');
    await ferryOk(['seed', 'start', '--staging', staging, '--storage-account', 'files', '--container', 'seed-1', '--job', 'first-seed', '--paths', source], seeder);
    await ferryOk(['backup', source], seeder);
    const job = (await tokens(acmeAdmin)).find((t) => t.role === 'job')!;
    assert.deepEqual([job.jobName, job.state], ['first-seed', 'active']);

    await ferryOk(['job', 'cancel', 'first-seed'], asAdmin(acmeAdmin));
    const disk = join(tmp.path, 'disk-1');
    await mkdir(disk);
    const copy = await ferry(['diskprep', '--staging', staging, '--disk', disk], { env: { FERRY_STATE_DIR: join(tmp.path, 'copy'), FERRY_PASSWORD: undefined, FERRY_TOKEN: undefined } });
    assert.notEqual(copy.code, 0);
    assert.match(copy.stderr, /this job token's job "first-seed" was Cancelled at \S+, so the token no longer works/);
    assert.doesNotMatch(copy.stderr, /check FERRY_TOKEN/);
    const ended = (await tokens(acmeAdmin)).find((t) => t.id === job.id)!;
    assert.deepEqual([ended.state, ended.revokedReason], ['revoked', 'job-ended']);
  });
});
