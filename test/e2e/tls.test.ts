// TLS through bin/ferry against a real `ferry serve`: certificates made in the test by Debian's openssl (a
// private CA and a server certificate for IP 127.0.0.1); admin commands with --ca-cert/FERRY_CA_CERT;
// credentials that pin the CA; register without FERRY_CA_CERT, back up, restore and compare; a wrong CA and
// a wrong pin refused with one line; a SIGHUP reload to a new certificate seen by a client (and a bad one
// refused); a self-signed certificate pinned as itself; plain HTTP refused off loopback; security headers.
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { makeCa, makeSelfSignedCertificate, makeServerCertificate, type TestCertificate } from '../../src/service/testing/test-certificates.js';
import { compareTrees } from '../fixtures/tree-compare.js';
import { ferry, ferryOk, lastJson, makeTempDir, type TempDir } from './harness.js';
import { startServe, type ServeProcess } from './service-harness.js';

const PASSPHRASE = 'a long enough vault passphrase';
const isRoot = process.getuid?.() === 0;

/** The SHA-256 fingerprint of the certificate the server presents to a new connection. */
function presentedFingerprint(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.once('error', reject);
  });
}

/** A GET answering status and headers, trusting `ca` for https. */
function head(url: string, ca?: string): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, ...(ca ? { ca } : {}) }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A one-line error on stderr and exit code 1. */
function assertOneLineFailure(result: { code: number; stderr: string }, pattern: RegExp): void {
  assert.equal(result.code, 1, result.stderr);
  assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
  assert.match(result.stderr, /^ferry: /);
  assert.match(result.stderr, pattern);
}

describe('TLS: a private CA, pinned at register; back up and restore over HTTPS', () => {
  let tmp: TempDir;
  let ca: TestCertificate;
  let otherCa: TestCertificate;
  let first: TestCertificate;
  let second: TestCertificate;
  let certFile: string;
  let keyFile: string;
  let serve: ServeProcess;
  let adminToken: string;
  let source: string;
  const state = (): string => join(tmp.path, 'state');
  const asAdmin = (extra: Record<string, string | undefined> = {}) => ({ env: { FERRY_SERVER: serve.url, FERRY_TOKEN: adminToken, FERRY_CA_CERT: ca.certFile, ...extra } });
  const asAgent = (extra: Record<string, string | undefined> = {}) => ({
    env: { FERRY_STATE_DIR: state(), FERRY_PASSWORD: PASSPHRASE, FERRY_REPOSITORY: undefined, FERRY_TOKEN: undefined, FERRY_SERVER: undefined, FERRY_CA_CERT: undefined, ...extra },
  });

  before(async () => {
    tmp = await makeTempDir('ferry-e2e-tls-');
    const certs = join(tmp.path, 'certs');
    await mkdir(certs);
    ca = await makeCa(certs, 'ferry-test-ca');
    otherCa = await makeCa(certs, 'someone-elses-ca');
    first = await makeServerCertificate(certs, 'server-1', ca);
    second = await makeServerCertificate(certs, 'server-2', ca);
    // The service reads the files at these paths; a renewal replaces them, then SIGHUP.
    certFile = join(tmp.path, 'service.crt');
    keyFile = join(tmp.path, 'service.key');
    await copyFile(first.certFile, certFile);
    await copyFile(first.keyFile, keyFile);
    serve = await startServe(join(tmp.path, 'service'), ['--tls-cert', certFile, '--tls-key', keyFile, '--tls-ca', ca.certFile]);
    adminToken = (await readFile(join(tmp.path, 'service', 'admin.token'), 'utf8')).trim();
    source = join(tmp.path, 'srv', 'data');
    await mkdir(join(source, 'projects'), { recursive: true });
    await writeFile(join(source, 'projects', 'plan.txt'), 'the plan\n'.repeat(1000));
    await writeFile(join(source, 'budget.csv'), Buffer.alloc(300_000, 7));
  });
  after(async () => {
    await serve?.stop('SIGKILL');
    await tmp?.cleanup();
  });

  it('serves HTTPS; the CLI trusts the CA given with FERRY_CA_CERT or --ca-cert, and refuses otherwise with one line', async () => {
    assert.match(serve.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(await presentedFingerprint(serve.url), first.fingerprint);

    const system = await ferry(['tenant', 'list'], asAdmin({ FERRY_CA_CERT: undefined }));
    assertOneLineFailure(system, /TLS certificate of the service at https:\/\/127\.0\.0\.1:\d+ is not trusted .*--ca-cert FILE or FERRY_CA_CERT/);
    const wrong = await ferry(['tenant', 'list'], asAdmin({ FERRY_CA_CERT: otherCa.certFile }));
    assertOneLineFailure(wrong, /is not trusted \((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)/);
    const missing = await ferry(['tenant', 'list'], asAdmin({ FERRY_CA_CERT: join(tmp.path, 'nope.crt') }));
    assertOneLineFailure(missing, /cannot read the CA certificate .*nope\.crt \(--ca-cert or FERRY_CA_CERT\): no such file/);

    await ferryOk(['tenant', 'create', 'acme', '--ca-cert', ca.certFile], asAdmin({ FERRY_CA_CERT: undefined }));
    await ferryOk(['--ca-cert', ca.certFile, 'storage-account', 'create', 'files', '--tenant', 'acme'], asAdmin({ FERRY_CA_CERT: otherCa.certFile }));
    await ferryOk(['vault', 'create', 'fileserver', '--tenant', 'acme', '--storage-account', 'files'], asAdmin());
  });

  it('vault credentials pin the CA; register refuses a server that does not present the pinned certificate', async () => {
    const file = join(tmp.path, 'fileserver.credentials.json');
    await ferryOk(['vault', 'credentials', 'fileserver', '--tenant', 'acme', '--out', file], asAdmin());
    const credentials = JSON.parse(await readFile(file, 'utf8')) as { caFingerprint: string; server: string };
    assert.equal(credentials.caFingerprint, ca.fingerprint);
    assert.equal(credentials.server, serve.url);

    // The same code with another CA's fingerprint: refused before the code is spent.
    const tampered = join(tmp.path, 'tampered.credentials.json');
    await writeFile(tampered, JSON.stringify({ ...credentials, caFingerprint: otherCa.fingerprint }));
    const refused = await ferry(['register', '--credentials', tampered], asAgent());
    assertOneLineFailure(refused, /presented no certificate with the SHA-256 fingerprint the credentials file pins/);
    await assert.rejects(readFile(join(state(), 'agent.json')), { code: 'ENOENT' });

    // The real file, with no FERRY_CA_CERT (and a wrong one is not consulted: the pin decides).
    const registered = await ferryOk(['register', '--credentials', file], asAgent({ FERRY_CA_CERT: otherCa.certFile }));
    assert.match(registered.stdout, /created the vault's repository/);
    const agent = JSON.parse(await readFile(join(state(), 'agent.json'), 'utf8')) as { caCert: string };
    assert.equal(agent.caCert.trim(), (await readFile(ca.certFile, 'utf8')).trim(), 'the pinned CA is kept in agent.json');
  });

  it('backs up and restores over HTTPS trusting the pinned CA, with no FERRY_CA_CERT', async () => {
    const summary = lastJson<{ snapshot_id: string }>((await ferryOk(['backup', source, '--json'], asAgent())).stdout);
    const target = join(tmp.path, 'restored');
    await ferryOk(['restore', summary.snapshot_id, '--target', target], asAgent());
    assert.deepEqual(await compareTrees(source, join(target, source), { ignore: isRoot ? {} : { ownership: true } }), []);

    // --ca-cert/FERRY_CA_CERT override the pin: a wrong one fails, in one line, before anything is read.
    const wrong = await ferry(['snapshots'], asAgent({ FERRY_CA_CERT: otherCa.certFile }));
    assertOneLineFailure(wrong, /TLS certificate is not trusted/);
  });

  it('SIGHUP serves a renewed certificate to new connections without a restart; a bad pair is refused and the old one kept', async () => {
    await copyFile(second.certFile, certFile);
    await copyFile(second.keyFile, keyFile);
    serve.child.kill('SIGHUP');
    await until('the renewed certificate', async () => (await presentedFingerprint(serve.url)) === second.fingerprint);
    assert.match(serve.output().stderr, /reloaded the TLS certificate/);
    await ferryOk(['snapshots'], asAgent());

    // A key that is not the certificate's: logged, and the service keeps the renewed pair.
    await copyFile(first.keyFile, keyFile);
    serve.child.kill('SIGHUP');
    await until('the refused reload in the log', async () => /kept the previous TLS certificate: the private key .* does not belong to the certificate/.test(serve.output().stderr));
    assert.equal(await presentedFingerprint(serve.url), second.fingerprint);
    assert.equal(serve.child.exitCode, null, 'the service still runs');
    await ferryOk(['snapshots'], asAgent());
  });

  it('answers with the security headers, HSTS included, on a success, an error and a 404', async () => {
    const caPem = await readFile(ca.certFile, 'utf8');
    for (const [path, status] of [['/healthz', 200], ['/v1/tenants', 401], ['/no/such/route', 404]] as const) {
      const answer = await head(`${serve.url}${path}`, caPem);
      assert.equal(answer.status, status, path);
      assert.equal(answer.headers['strict-transport-security'], 'max-age=31536000', path);
      assert.equal(answer.headers['x-content-type-options'], 'nosniff', path);
      assert.equal(answer.headers['x-frame-options'], 'DENY', path);
      assert.match(String(answer.headers['content-security-policy']), /frame-ancestors 'none'/, path);
      assert.equal(answer.headers['referrer-policy'], 'no-referrer', path);
      assert.equal(answer.headers['cache-control'], 'no-store', path);
    }
  });
});

describe('TLS: a self-signed certificate is pinned as itself', () => {
  let tmp: TempDir;
  let serve: ServeProcess;

  before(async () => (tmp = await makeTempDir('ferry-e2e-tls-self-')));
  after(async () => {
    await serve?.stop('SIGKILL');
    await tmp?.cleanup();
  });

  it('writes its fingerprint into the credentials; register pins it and the agent backs up', async () => {
    const self = await makeSelfSignedCertificate(tmp.path, 'self-signed');
    serve = await startServe(join(tmp.path, 'service'), ['--tls-cert', self.certFile, '--tls-key', self.keyFile]);
    const adminToken = (await readFile(join(tmp.path, 'service', 'admin.token'), 'utf8')).trim();
    const admin = { env: { FERRY_SERVER: serve.url, FERRY_TOKEN: adminToken, FERRY_CA_CERT: self.certFile } };
    await ferryOk(['tenant', 'create', 'acme'], admin);
    await ferryOk(['storage-account', 'create', 'files', '--tenant', 'acme'], admin);
    await ferryOk(['vault', 'create', 'laptop', '--tenant', 'acme', '--storage-account', 'files'], admin);
    const file = join(tmp.path, 'laptop.credentials.json');
    await ferryOk(['vault', 'credentials', 'laptop', '--tenant', 'acme', '--out', file], admin);
    assert.equal((JSON.parse(await readFile(file, 'utf8')) as { caFingerprint: string }).caFingerprint, self.fingerprint);

    const agent = { env: { FERRY_STATE_DIR: join(tmp.path, 'state'), FERRY_PASSWORD: PASSPHRASE, FERRY_REPOSITORY: undefined, FERRY_TOKEN: undefined, FERRY_CA_CERT: undefined } };
    await ferryOk(['register', '--credentials', file], agent);
    const source = join(tmp.path, 'docs');
    await mkdir(source);
    await writeFile(join(source, 'note.txt'), 'hello\n');
    await ferryOk(['backup', source], agent);
    assert.equal((JSON.parse((await ferryOk(['snapshots', '--json'], agent)).stdout) as unknown[]).length, 1);
  });
});

describe('TLS: plain HTTP only on loopback unless --insecure-http', () => {
  let tmp: TempDir;
  before(async () => (tmp = await makeTempDir('ferry-e2e-plain-')));
  after(() => tmp?.cleanup());

  it('refuses 0.0.0.0 and [::] without TLS, in one line, before listening or creating anything', async () => {
    for (const listen of ['0.0.0.0:0', '[::]:0']) {
      const dataDir = join(tmp.path, `refused-${listen.replace(/\W/g, '')}`);
      const refused = await ferry(['serve', '--data-dir', dataDir, '--listen', listen]);
      assertOneLineFailure(refused, /refusing plain HTTP on .*give --tls-cert FILE --tls-key FILE, or --insecure-http/);
      await assert.rejects(stat(dataDir), { code: 'ENOENT' }, 'the data directory is not even created');
    }
  });

  it('serves a host name it cannot vouch for as loopback only with --insecure-http', async () => {
    // `127.1` is a name to the policy (only localhost and loopback addresses are trusted as such); the
    // system resolves it to 127.0.0.1, so this test listens on loopback only.
    const refused = await ferry(['serve', '--data-dir', join(tmp.path, 'name'), '--listen', '127.1:0']);
    assertOneLineFailure(refused, /refusing plain HTTP on 127\.1/);
    const serve = await startServe(join(tmp.path, 'name'), ['--listen', '127.1:0', '--insecure-http']);
    try {
      assert.match(serve.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal((await head(`${serve.url}/healthz`)).status, 200);
    } finally {
      await serve.stop();
    }
  });

  it('serves loopback over plain HTTP with the security headers and without HSTS', async () => {
    const serve = await startServe(join(tmp.path, 'loopback'));
    try {
      for (const [path, status] of [['/healthz', 200], ['/v1/tenants', 401], ['/no/such/route', 404]] as const) {
        const answer = await head(`${serve.url}${path}`);
        assert.equal(answer.status, status, path);
        assert.equal(answer.headers['strict-transport-security'], undefined, path);
        assert.equal(answer.headers['x-content-type-options'], 'nosniff', path);
        assert.equal(answer.headers['x-frame-options'], 'DENY', path);
      }
    } finally {
      await serve.stop();
    }
  });

  it('says in one line what is wrong with the TLS options and files', async () => {
    const certs = join(tmp.path, 'certs');
    await mkdir(certs);
    const ca = await makeCa(certs, 'ca');
    const one = await makeServerCertificate(certs, 'one', ca);
    const two = await makeServerCertificate(certs, 'two', ca);
    const serve = (...args: string[]) => ferry(['serve', '--data-dir', join(tmp.path, 'bad'), '--listen', '127.0.0.1:0', ...args]);
    assertOneLineFailure(await serve('--tls-cert', one.certFile), /give both --tls-cert FILE and --tls-key FILE/);
    assertOneLineFailure(await serve('--tls-cert', one.certFile, '--tls-key', one.keyFile, '--insecure-http'), /--insecure-http .* give one of them/);
    assertOneLineFailure(await serve('--tls-cert', join(certs, 'missing.crt'), '--tls-key', one.keyFile), /cannot read .*missing\.crt \(--tls-cert\): no such file/);
    assertOneLineFailure(await serve('--tls-cert', one.certFile, '--tls-key', two.keyFile), /the private key .*two\.key \(--tls-key\) does not belong to the certificate .*one\.crt/);
    assertOneLineFailure(await serve('--tls-cert', one.keyFile, '--tls-key', one.keyFile), /one\.key \(--tls-cert\) holds no PEM certificate/);
  });
});
