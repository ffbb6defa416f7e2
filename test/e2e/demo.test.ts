// `ferry demo` is the README's first command: the whole offline-seeding flow must run through, every step
// checking itself (two disks, ingest Completed, an incremental after adoption, an identical restore).
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import { ferry } from './harness.js';

test('ferry demo --keep runs the whole offline-seeding flow and leaves the service running with a portal sign-in link', { timeout: 300_000 }, async () => {
  const result = await ferry(['demo', '--keep'], { env: { FERRY_STATE_DIR: undefined, FERRY_REPOSITORY: undefined, FERRY_PASSWORD: undefined } });
  assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
  const work = /offline seeding end to end, in (\S+)/.exec(result.stdout)?.[1];
  assert.ok(work, 'the demo names its folder');
  const pid = Number(/The service keeps running \(process (\d+)/.exec(result.stdout)?.[1]);
  try {
    for (const line of [
      /the portal is at http:\/\/127\.0\.0\.1:\d+\/ : sign in with a token, or once with http:\/\/\S+\/sign-in\/\S+ \(valid 15 minutes\)/,
      /== 6\/12 The copy computer copies staging onto two encrypted disks/,
      /\[datacenter\] \$ ferry datacenter ingest first-seed --disk \S+disk-2 --disk \S+disk-1/,
      /job first-seed: Completed, 2 disks: disk 1 Completed, disk 2 Completed/,
      /this backup sent .* for .* of changes/,
      /the restore is identical/,
      /The whole offline-seeding flow worked/,
    ]) {
      assert.match(result.stdout, line);
    }
    assert.ok(pid > 0, 'the demo names the service process');
    // The service still runs after the demo exited, and the link it printed last signs a browser in, once.
    const link = /Sign in once \(valid 15 minutes\): (\S+)/.exec(result.stdout)?.[1];
    assert.ok(link, result.stdout);
    const page = await fetch(link);
    assert.equal(page.status, 200);
    const formToken = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? '';
    const cookie = (page.headers.get('set-cookie') ?? '').split(';')[0]!;
    const signIn = await fetch(link, { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: `_csrf=${formToken}` });
    assert.equal(signIn.status, 303);
    assert.match(signIn.headers.get('set-cookie') ?? '', /^ferry-session=/);
    // The session opens the portal's pages: the demo's job is there.
    const session = (signIn.headers.get('set-cookie') ?? '').split(';')[0]!;
    const jobs = await fetch(new URL('/jobs', link), { headers: { cookie: session } });
    assert.equal(jobs.status, 200);
    assert.match(await jobs.text(), /first-seed/);
  } finally {
    if (pid > 0) process.kill(pid, 'SIGTERM');
    await rm(work, { recursive: true, force: true });
  }
});
