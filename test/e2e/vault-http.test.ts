// bin/ferry against a vault over HTTP: the vault object routes on 127.0.0.1 (in this process, over an
// FsStorage in a temp dir), reached with `-r http://…/v1/vaults/…` and FERRY_TOKEN. An agent backs up,
// checks and restores; its forget is refused (append-only); a tenant-admin's forget --prune works.
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TEST_TOKENS, createVaultObjectApp, type VaultObjectApp } from '../../src/service/vault-objects/testing/vault-object-app.js';
import { listKeys, seededBytes } from '../../src/storage/testing/conformance.js';
import { ferry, ferryOk, lastJson, makeTempDir, type TempDir } from './harness.js';

describe('ferry on a vault over HTTP', () => {
  let server: VaultObjectApp;
  let vaultUrl: string;
  let dir: TempDir;
  const agent = { FERRY_TOKEN: TEST_TOKENS.agentA };
  const admin = { FERRY_TOKEN: TEST_TOKENS.admin };

  before(async () => {
    server = await createVaultObjectApp();
    vaultUrl = await server.listen();
    dir = await makeTempDir();
    await mkdir(join(dir.path, 'src', 'sub'), { recursive: true });
    await writeFile(join(dir.path, 'src', 'a.bin'), seededBytes(3 * 1024 * 1024, 1));
    await writeFile(join(dir.path, 'src', 'sub', 'b.txt'), 'hello over http\n');
  });
  after(async () => {
    await server.close();
    await dir.cleanup();
  });

  it('an agent initializes, backs up twice, checks and restores', async () => {
    await ferryOk(['init', '-r', vaultUrl], { env: agent });
    const first = lastJson<{ snapshot_id: string }>((await ferryOk(['backup', '-r', vaultUrl, '--json', join(dir.path, 'src')], { env: agent })).stdout);
    await writeFile(join(dir.path, 'src', 'sub', 'c.txt'), 'added later\n');
    const second = lastJson<{ snapshot_id: string }>((await ferryOk(['backup', '-r', vaultUrl, '--json', join(dir.path, 'src')], { env: agent })).stdout);
    assert.notEqual(first.snapshot_id, second.snapshot_id);
    const snapshots = JSON.parse((await ferryOk(['snapshots', '-r', vaultUrl, '--json'], { env: agent })).stdout) as unknown[];
    assert.equal(snapshots.length, 2);
    await ferryOk(['check', '-r', vaultUrl, '--read-data'], { env: agent });
    const target = join(dir.path, 'restored');
    await ferryOk(['restore', '-r', vaultUrl, 'latest', '--target', target], { env: agent });
    const restored = join(target, dir.path, 'src');
    assert.ok((await readFile(join(restored, 'a.bin'))).equals(seededBytes(3 * 1024 * 1024, 1)));
    assert.equal(await readFile(join(restored, 'sub', 'c.txt'), 'utf8'), 'added later\n');
    assert.deepEqual(await listKeys(server.storage, 'locks/'), [], 'the agent released every lock it took');
  });

  it("an agent's forget is refused and removes nothing; a tenant-admin's forget --prune works", async () => {
    const refused = await ferry(['forget', '-r', vaultUrl, '--keep-last', '1'], { env: agent });
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /append-only.*tenant-admin/);
    assert.equal((await listKeys(server.storage, 'snapshots/')).length, 2);
    assert.deepEqual(await listKeys(server.storage, 'locks/'), [], 'the refused agent still released its lock');

    await ferryOk(['forget', '-r', vaultUrl, '--keep-last', '1', '--prune'], { env: admin });
    assert.equal((await listKeys(server.storage, 'snapshots/')).length, 1);
    await ferryOk(['check', '-r', vaultUrl], { env: agent });
  });

  it('says what to do without a token, with a wrong one, and for a vault URL carrying credentials', async () => {
    const none = await ferry(['snapshots', '-r', vaultUrl], { env: { FERRY_TOKEN: undefined } });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /set FERRY_TOKEN/);
    const wrong = await ferry(['snapshots', '-r', vaultUrl], { env: { FERRY_TOKEN: 'not-a-known-token' } });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /check the token/);
    assert.ok(!wrong.stderr.includes('not-a-known-token'));
    const withCredentials = vaultUrl.replace('http://', 'http://user:hunter2@');
    const leaky = await ferry(['snapshots', '-r', withCredentials], { env: agent });
    assert.equal(leaky.code, 1);
    assert.match(leaky.stderr, /must not contain credentials/);
    assert.ok(!leaky.stderr.includes('hunter2'));
  });
});
