// The portal in a real browser: Debian's Chromium driven by playwright-core against a real `ferry serve`.
// Jobs are made the real way (diskprep with the job token), the datacenter's part is played through the
// operator routes while the job page watches, and every page is checked with axe-core. The screenshots in
// docs/screenshots/ come from here. With CI=true a missing /usr/bin/chromium fails the run.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { sha256Id } from '../../src/engine/crypto/sha256.js';
import { deriveDiskSubkeys, MANIFEST_NAME } from '../../src/seed/disk-format.js';
import { readLabel } from '../../src/seed/disk-label.js';
import { readDiskFile } from '../../src/seed/disk-reader.js';
import { openManifest } from '../../src/seed/manifest.js';
import { SEED_FILE_NAME } from '../../src/seed/seed-file.js';
import { seededBytes } from '../../src/seed/testing/staging-fixture.js';
import { HttpStorage } from '../../src/storage/http/http-storage.js';
import { playDatacenter } from './adoption-datacenter.js';
import { ferryOk, lastJson, makeTempDir, type TempDir } from './harness.js';
import { callApi, startServe, type ServeProcess } from './service-harness.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = resolve(import.meta.dirname, '../../docs/screenshots');
const AXE_SOURCE = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const missingBrowser = !existsSync(CHROMIUM);
if (missingBrowser && process.env['CI'] === 'true') throw new Error(`${CHROMIUM} is missing: .ci/run installs the Debian package chromium`);

interface Job {
  id: string;
  state: string;
}

describe('the portal in Chromium', { skip: missingBrowser ? `${CHROMIUM} is not installed (apt-get install chromium)` : false }, () => {
  let tmp: TempDir;
  let serve: ServeProcess;
  let browser: Browser;
  let tenant: BrowserContext;
  let page: Page;
  const tokens = { admin: '', tenantAdmin: '', otherTenantAdmin: '', operator: '' };
  let first: { id: string; disks: string[] };
  let second: { id: string };

  const api = <T>(token: string, method: string, path: string, body?: unknown): Promise<T> => callApi<T>(serve.url, token, method, path, body);
  const as = (token: string) => ({ env: { FERRY_SERVER: serve.url, FERRY_TOKEN: token } });

  /** A new import job of a new vault of acme, its disks prepared by diskprep from a copy of the staging repository. */
  const preparedJob = async (staging: string, name: string, disks: number): Promise<{ id: string; disks: string[] }> => {
    const vault = lastJson<{ id: string }>((await ferryOk(['vault', 'create', `${name}-vault`, '--tenant', 'acme', '--storage-account', 'files', '--json'], as(tokens.admin))).stdout);
    const created = await api<{ job: { id: string }; jobToken: string }>(tokens.tenantAdmin, 'POST', `/v1/vaults/${vault.id}/import-jobs`, { name, storageAccount: 'imports', container: name });
    const copy = join(tmp.path, `staging-${name}`);
    await cp(staging, copy, { recursive: true });
    const seed = { format: 'ferry-seed', version: 1, server: serve.url, jobId: created.job.id, jobName: name, jobToken: created.jobToken, vault: { id: vault.id, name: `${name}-vault` } };
    await writeFile(join(copy, SEED_FILE_NAME), JSON.stringify(seed), { mode: 0o600 });
    const paths = Array.from({ length: disks }, (_, i) => join(tmp.path, `${name}-disk-${i + 1}`));
    for (const disk of paths) await mkdir(disk);
    await ferryOk(['diskprep', '--staging', copy, ...paths.flatMap((d) => ['--disk', d]), ...(disks > 1 ? ['--max-bytes-per-disk', '1.6MB'] : [])], { env: { FERRY_TOKEN: undefined } });
    return { id: created.job.id, disks: paths };
  };

  /** Signs a new browser context in through the sign-in form. */
  const signIn = async (token: string): Promise<{ context: BrowserContext; page: Page }> => {
    const context = await browser.newContext({ baseURL: serve.url, viewport: { width: 1000, height: 720 } });
    const p = await context.newPage();
    await p.goto('/sign-in');
    await p.getByLabel('Token').fill(token);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.waitForURL((url) => !url.pathname.startsWith('/sign-in'));
    return { context, page: p };
  };

  /** axe-core on the page as it is: no serious or critical violation. (Evaluated through the debugger: the CSP lets no injected script run.) */
  const checkAccessibility = async (p: Page, what: string): Promise<void> => {
    await p.evaluate(AXE_SOURCE);
    const violations = await p.evaluate(async () => {
      const axe = (globalThis as unknown as { axe: { run: (context: unknown, options: unknown) => Promise<{ violations: { id: string; impact: string; nodes: { target: unknown }[] }[] }> } }).axe;
      const result = await axe.run((globalThis as unknown as { document: unknown }).document, { resultTypes: ['violations'] });
      return result.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => JSON.stringify(n.target)).slice(0, 3) }));
    });
    assert.deepEqual(violations.filter((v) => v.impact === 'serious' || v.impact === 'critical'), [], `${what}: ${JSON.stringify(violations)}`);
  };
  /** The visible part of the page (small files): docs/screenshots/NAME.png, shown in the README. */
  const taken = new Set<string>();
  const screenshot = (p: Page, name: string): Promise<Buffer> => {
    taken.add(name);
    return p.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
  };

  before(async () => {
    tmp = await makeTempDir('ferry-e2e-portal-');
    serve = await startServe(join(tmp.path, 'service'), ['--shipping-address', 'Ferry Datacenter\\nDock 4, 1 Harbour Road\\nRotterdam']);
    tokens.admin = (await readFile(join(tmp.path, 'service', 'admin.token'), 'utf8')).trim();
    for (const [tenantName, key] of [['acme', 'tenantAdmin'], ['globex', 'otherTenantAdmin']] as const) {
      await ferryOk(['tenant', 'create', tenantName], as(tokens.admin));
      tokens[key] = lastJson<{ token: string }>((await ferryOk(['token', 'create', '--role', 'tenant-admin', '--tenant', tenantName, '--json'], as(tokens.admin))).stdout).token;
    }
    await ferryOk(['storage-account', 'create', 'files', '--tenant', 'acme'], as(tokens.admin));
    await ferryOk(['storage-account', 'create', 'imports', '--tenant', 'acme'], as(tokens.admin));
    tokens.operator = lastJson<{ token: string }>((await ferryOk(['token', 'create', '--role', 'operator', '--json'], as(tokens.admin))).stdout).token;
    const staging = join(tmp.path, 'staging');
    await ferryOk(['init', '-r', staging]);
    for (const [i, size] of [1_200_000, 900_000].entries()) {
      const source = join(tmp.path, `source-${i}`);
      await mkdir(source);
      await writeFile(join(source, 'data.bin'), seededBytes(`portal-e2e-${i}`, size));
      await ferryOk(['backup', '-r', staging, source]);
    }
    first = await preparedJob(staging, 'first-seed', 2);
    // A second job, ingested with a file lost in transit: CompletedWithErrors, with an error log. Its tracking number is taken.
    const lost = await preparedJob(staging, 'mail-seed', 1);
    await ferryOk(['job', 'ship', 'mail-seed', '--carrier', 'UPS', '--tracking', 'DUP 0001', '--return-address', 'Acme IT'], as(tokens.tenantAdmin));
    let dropped = false;
    const state = await playDatacenter({ server: serve.url, operatorToken: tokens.operator, jobId: lost.id, disks: lost.disks, lose: (path) => path.startsWith('data/') && !dropped && (dropped = true) });
    assert.equal(state, 'CompletedWithErrors');
    second = { id: lost.id };

    await mkdir(SCREENSHOTS, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });
  after(async () => {
    await browser?.close();
    await serve?.stop('SIGKILL');
    await tmp?.cleanup();
  });

  it('signs in with a token, and lists the job diskprep created with its deadline', async () => {
    const context = await browser.newContext({ baseURL: serve.url, viewport: { width: 1000, height: 720 } });
    const signInPage = await context.newPage();
    await signInPage.goto('/jobs');
    assert.equal(new URL(signInPage.url()).pathname, '/sign-in', 'a page sends a browser without a session to sign in');
    await checkAccessibility(signInPage, 'sign-in');
    await screenshot(signInPage, 'sign-in');
    await signInPage.getByLabel('Token').fill('fry_ten_not-a-token');
    await signInPage.getByRole('button', { name: 'Sign in' }).click();
    assert.match(await signInPage.locator('#sign-in-problem').innerText(), /not a Ferry token/);
    await context.close();

    ({ context: tenant, page } = await signIn(tokens.tenantAdmin));
    const cookie = (await tenant.cookies()).find((c) => c.name === 'ferry-session');
    assert.ok(cookie?.httpOnly && cookie.sameSite === 'Strict' && cookie.expires > Date.now() / 1000, JSON.stringify(cookie));
    assert.equal(new URL(page.url()).pathname, '/jobs');
    const row = page.getByRole('row').filter({ hasText: 'first-seed' });
    assert.match(await row.innerText(), /first-seed\s+Creating\s+2\s+.+\s+13 d 23 h left/);
    await checkAccessibility(page, 'jobs');
    await screenshot(page, 'jobs');
  });

  it('saves shipping information, shows the service\'s refusals inline, and refuses a form without its CSRF token', async () => {
    await page.getByRole('link', { name: 'first-seed' }).click();
    assert.match(await page.locator('pre.address').first().innerText(), /Ferry Datacenter\nDock 4/);
    // A missing field, then a tracking number another job has: each refused next to its field, nothing saved.
    await page.getByLabel('Tracking number').fill('JD 0146');
    await page.getByLabel('Return address').fill('Acme IT\n1 Main Street');
    await page.getByRole('button', { name: 'Save shipping information' }).click();
    assert.equal(await page.locator('#carrier-error').innerText(), 'enter the carrier');
    assert.equal(await page.getByLabel('Carrier').getAttribute('aria-invalid'), 'true');
    await checkAccessibility(page, 'job with form errors');
    await page.getByLabel('Carrier').fill('DHL');
    await page.getByLabel('Tracking number').fill('dup0001');
    await page.getByRole('button', { name: 'Save shipping information' }).click();
    await page.locator('#trackingNumber-error').waitFor({ timeout: 5000 }).catch(async () => assert.fail(`no tracking number error: ${await page.locator('main').innerText()}`));
    assert.match(await page.locator('#trackingNumber-error').innerText(), /tracking number .*(in use|another|already)/i);
    assert.equal(await page.getByLabel('Carrier').inputValue(), 'DHL', 'the values sent stay in the form');
    assert.equal((await api<Job>(tokens.tenantAdmin, 'GET', `/v1/import-jobs/${first.id}`)).state, 'Creating');

    await page.getByLabel('Tracking number').fill('JD 0146 2026');
    await page.getByRole('button', { name: 'Save shipping information' }).click();
    await page.getByText('Shipping information saved.').waitFor();
    await page.reload();
    assert.equal(await page.getByLabel('Tracking number').inputValue(), 'JD 0146 2026');
    assert.equal(await page.locator('#job-state').innerText(), 'Shipping');
    assert.equal((await api<Job & { trackingNumber: string }>(tokens.tenantAdmin, 'GET', `/v1/import-jobs/${first.id}`)).trackingNumber, 'JD 0146 2026');

    // The session's cookie goes along, but without the form's token the service refuses the cancel.
    const forged = await tenant.request.post(`/jobs/${first.id}/cancel`, { form: { reason: 'forged' }, maxRedirects: 0 });
    assert.equal(forged.status(), 403);
    assert.equal((await api<Job>(tokens.tenantAdmin, 'GET', `/v1/import-jobs/${first.id}`)).state, 'Shipping');
  });

  it('moves the job page through Received, Transferring and Completed while the datacenter ingests', async () => {
    await page.evaluate(() => ((globalThis as unknown as { unchanged: boolean }).unchanged = true));
    const stateIs = (state: string) => page.locator('#job-state .state', { hasText: new RegExp(`^${state}$`) }).waitFor({ timeout: 15_000 });
    const job = `/v1/import-jobs/${first.id}`;
    await api(tokens.operator, 'POST', `${job}/receive`, {});
    await stateIs('Received');
    const imported = new HttpStorage({ url: `${serve.url}${job}`, token: tokens.operator });
    try {
      for (const [n, disk] of first.disks.entries()) {
        const label = (await readLabel(disk))!;
        const { diskKey } = await api<{ diskKey: string }>(tokens.operator, 'GET', `${job}/disks/${label.index}/key?diskId=${label.diskId}`);
        const manifestBytes = await readFile(join(disk, MANIFEST_NAME));
        await api(tokens.operator, 'POST', `${job}/disks/${label.index}/ingest`, { diskId: label.diskId, manifestSha256: sha256Id(manifestBytes) });
        const keys = deriveDiskSubkeys(Buffer.from(diskKey, 'base64'), label.diskId);
        const manifest = openManifest(keys.manifestKey, manifestBytes, label.diskId);
        const results = [];
        for (const entry of manifest.files) {
          const bytes = await readDiskFile(disk, label.diskId, keys.fileKey, manifest.segmentSize, entry);
          await imported.save(entry.path, bytes, { length: bytes.length, sha256: entry.sha256 });
          results.push({ path: entry.path, size: entry.size, sha256: entry.sha256, code: 'Ok', message: null });
          if (n === 0 && results.length === 1) {
            // The first file of the first disk is in: the page shows the job transferring and the disk's progress.
            await api(tokens.operator, 'POST', `${job}/disks/${label.index}/results`, { results, progress: { bytesDone: entry.size, filesDone: 1 } });
            await stateIs('Transferring');
            await page.getByRole('row', { name: /Disk 1 Transferring/ }).getByText(/% · .* of /).waitFor();
            await checkAccessibility(page, 'job transferring');
            await screenshot(page, 'job');
          }
        }
        await api(tokens.operator, 'POST', `${job}/disks/${label.index}/results`, { results, progress: { bytesDone: results.reduce((s, r) => s + r.size, 0), filesDone: results.length } });
        await api(tokens.operator, 'POST', `${job}/disks/${label.index}/finish`, {});
      }
    } finally {
      await imported.close();
    }
    await stateIs('Completed');
    assert.equal(await page.evaluate(() => (globalThis as unknown as { unchanged?: boolean }).unchanged), true, 'the page updated itself, it was not reloaded');
    assert.match(await page.locator('#job-timeline').innerText(), /Received[\s\S]*Transferring[\s\S]*Completed/);
  });

  it('shows the error log of a job with errors and downloads it as CSV', async () => {
    await page.goto(`/jobs/${second.id}`);
    const log = page.locator('#job-errors');
    assert.match(await log.innerText(), /Disk 1\s+data\/\S+\s+FileNotFound/);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download the error log (CSV)' }).click()]);
    assert.equal(download.suggestedFilename(), 'mail-seed-errors.csv');
    const csv = await readFile(await download.path(), 'utf8');
    assert.match(csv, /^time,disk,path,code,message\r\n"[^"]+","1","data\/[0-9a-f]{2}\/[0-9a-f]{64}","FileNotFound","the file is not on the disk"\r\n$/);
    await checkAccessibility(page, 'job with errors');
    await screenshot(page, 'job-errors');
  });

  it("does not show a tenant another tenant's job, not even by its URL", async () => {
    const other = await signIn(tokens.otherTenantAdmin);
    try {
      assert.doesNotMatch(await other.page.locator('main').innerText(), /first-seed/);
      const response = await other.page.goto(`/jobs/${first.id}`);
      assert.equal(response?.status(), 404);
      assert.doesNotMatch(await other.page.locator('main').innerText(), /first-seed/);
      await checkAccessibility(other.page, 'not found');
      const csv = await other.context.request.get(`/jobs/${second.id}/errors.csv`);
      assert.equal(csv.status(), 404);
    } finally {
      await other.context.close();
    }
  });

  it('passes the accessibility check on every page, also at a phone\'s width', async () => {
    await page.goto('/vaults');
    await checkAccessibility(page, 'vaults');
    await page.getByRole('link', { name: 'first-seed-vault' }).click();
    assert.match(await page.locator('main').innerText(), /ingested \(current\)/);
    await checkAccessibility(page, 'vault');
    await screenshot(page, 'vault');
    await page.setViewportSize({ width: 390, height: 800 });
    await page.goto(`/jobs/${first.id}`);
    const fits = await page.evaluate(() => {
      const w = globalThis as unknown as { innerWidth: number; document: { documentElement: { scrollWidth: number } } };
      return w.document.documentElement.scrollWidth <= w.innerWidth;
    });
    assert.ok(fits, 'no sideways scrolling at 390 px');
    await checkAccessibility(page, 'job at phone width');
    await screenshot(page, 'job-phone');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL((url) => url.pathname === '/sign-in');
    assert.equal((await page.goto('/jobs'))?.url().endsWith('/sign-in'), true, 'signed out: the session is gone');
    await tenant.close();

    const operator = await signIn(tokens.operator);
    assert.equal(new URL(operator.page.url()).pathname, '/datacenter');
    assert.match(await operator.page.locator('main').innerText(), /Disks refused, failed or never received[\s\S]*mail-seed/);
    await checkAccessibility(operator.page, 'datacenter');
    await screenshot(operator.page, 'datacenter');
    await operator.context.close();

    // The admin signs in with a one-time link (as `ferry demo` prints one), which then works no more.
    const link = await api<{ path: string }>(tokens.admin, 'POST', '/v1/portal/sign-in-links', {});
    const admin = await browser.newContext({ baseURL: serve.url, viewport: { width: 1000, height: 720 } });
    const adminPage = await admin.newPage();
    await adminPage.goto(link.path);
    await checkAccessibility(adminPage, 'sign-in link');
    await adminPage.getByRole('button', { name: 'Sign in' }).click();
    await adminPage.waitForURL((url) => url.pathname === '/jobs');
    for (const [path, name] of [['/admin/tenants', 'tenants'], ['/admin/tokens', 'tokens'], ['/admin/audit', 'audit']] as const) {
      await adminPage.goto(path);
      await checkAccessibility(adminPage, path);
      if (name === 'tokens') {
        await adminPage.getByLabel('Role').selectOption('operator');
        await adminPage.getByRole('button', { name: 'Create token' }).click();
        assert.match(await adminPage.locator('#new-token').innerText(), /^fry_opr_/);
        await checkAccessibility(adminPage, 'token created');
      }
      if (name === 'audit') {
        // The sign-ins of this test are in the log, with how and from where: the tenant's refused one, the admin's by link.
        const log = await adminPage.locator('main').innerText();
        assert.match(log, /anonymous\s+none\s+portal\.sign-in\s+token\s+refused\s+method: token\s+reason: UNAUTHENTICATED\s+error: [^\n]+\s+remoteAddress: 127\.0\.0\.1/);
        assert.match(log, /admin:\S+\s+none\s+portal\.sign-in\s+token \S+\s+ok\s+method: link\s+role: admin\s+remoteAddress: 127\.0\.0\.1/);
        assert.match(log, /tenant-admin:\S+\s+acme\s+portal\.sign-out\s+token \S+\s+ok\s+role: tenant-admin\s+remoteAddress: 127\.0\.0\.1/);
      }
      await screenshot(adminPage, name);
    }
    await admin.close();
    const reused = await browser.newContext({ baseURL: serve.url });
    const reusedPage = await reused.newPage();
    await reusedPage.goto(link.path);
    await reusedPage.getByRole('button', { name: 'Sign in' }).click();
    assert.match(await reusedPage.locator('main').innerText(), /unknown, used or expired/);
    await checkAccessibility(reusedPage, 'sign-in link refused');
    await reused.close();
  });

  it('took the screenshots the README shows, and the README shows each', async () => {
    const readme = await readFile(resolve(import.meta.dirname, '../../README.md'), 'utf8');
    const shown = new Set([...readme.matchAll(/\(docs\/screenshots\/([a-z-]+)\.png\)/g)].map((m) => m[1]!));
    assert.deepEqual([...taken].sort(), [...shown].sort());
  });
});
