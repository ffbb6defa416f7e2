import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { UserError } from '../../core/errors.js';
import { makeCa, makeSelfSignedCertificate, makeServerCertificate, type TestCertificate } from '../testing/test-certificates.js';
import { loadCertificate, validityProblem } from './service-certificate.js';

const certificatesIn = (pem: string): string[] => (pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []).map((b) => new X509Certificate(b).fingerprint256);

describe('the service certificate: checks, the chain it presents, the fingerprint credentials pin', () => {
  let dir: string;
  let ca: TestCertificate;
  let otherCa: TestCertificate;
  let server: TestCertificate;
  let self: TestCertificate;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-cert-'));
    ca = await makeCa(dir, 'ca');
    otherCa = await makeCa(dir, 'other-ca');
    server = await makeServerCertificate(dir, 'server', ca);
    self = await makeSelfSignedCertificate(dir, 'self');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('with --tls-ca: pins the CA and presents it after the certificate', async () => {
    const material = await loadCertificate({ certFile: server.certFile, keyFile: server.keyFile, caFile: ca.certFile });
    assert.equal(material.pin, ca.fingerprint);
    assert.deepEqual(certificatesIn(material.cert), [server.fingerprint, ca.fingerprint]);
    assert.equal(material.subject, 'CN=server');
    assert.equal(validityProblem(material, Date.now()), undefined);
    assert.match(validityProblem(material, Date.now() + 10 * 86_400_000) ?? '', /^the TLS certificate expired at /);
  });

  it('with the CA already in the certificate file: presents it once', async () => {
    const chain = join(dir, 'chain.crt');
    await writeFile(chain, (await readFile(server.certFile, 'utf8')) + (await readFile(ca.certFile, 'utf8')));
    const withCa = await loadCertificate({ certFile: chain, keyFile: server.keyFile, caFile: ca.certFile });
    assert.deepEqual(certificatesIn(withCa.cert), [server.fingerprint, ca.fingerprint]);
    // Without --tls-ca the chain's self-signed root is what is pinned.
    assert.equal((await loadCertificate({ certFile: chain, keyFile: server.keyFile })).pin, ca.fingerprint);
  });

  it('pins a self-signed certificate as itself, and nothing for a certificate whose CA it does not know', async () => {
    assert.equal((await loadCertificate({ certFile: self.certFile, keyFile: self.keyFile })).pin, self.fingerprint);
    const unknown = await loadCertificate({ certFile: server.certFile, keyFile: server.keyFile });
    assert.equal(unknown.pin, null);
    assert.deepEqual(certificatesIn(unknown.cert), [server.fingerprint]);
  });

  it('says in one line what is wrong with the files', async () => {
    const encrypted = join(dir, 'encrypted.key');
    await promisify(execFile)('openssl', ['pkey', '-in', server.keyFile, '-aes256', '-passout', 'pass:secret', '-out', encrypted]);
    const empty = join(dir, 'empty.pem');
    await writeFile(empty, 'nothing here\n');
    const cases: [Parameters<typeof loadCertificate>[0], RegExp][] = [
      [{ certFile: join(dir, 'missing.crt'), keyFile: server.keyFile }, /^cannot read .*missing\.crt \(--tls-cert\): no such file$/],
      [{ certFile: server.certFile, keyFile: join(dir, 'missing.key') }, /^cannot read .*missing\.key \(--tls-key\): no such file$/],
      [{ certFile: dir, keyFile: server.keyFile }, /\(--tls-cert\): it is a folder$/],
      [{ certFile: empty, keyFile: server.keyFile }, /empty\.pem \(--tls-cert\) holds no PEM certificate/],
      [{ certFile: server.certFile, keyFile: empty }, /empty\.pem \(--tls-key\) holds no PEM private key/],
      [{ certFile: server.certFile, keyFile: encrypted }, /encrypted\.key \(--tls-key\) is encrypted: give it unencrypted/],
      [{ certFile: server.certFile, keyFile: self.keyFile }, /self\.key \(--tls-key\) does not belong to the certificate .*server\.crt/],
      [{ certFile: server.certFile, keyFile: server.keyFile, caFile: otherCa.certFile }, /server\.crt \(--tls-cert\) was not issued by the CA in .*other-ca\.crt \(--tls-ca\)/],
      [{ certFile: server.certFile, keyFile: server.keyFile, caFile: empty }, /empty\.pem \(--tls-ca\) holds no PEM certificate/],
    ];
    for (const [files, message] of cases) {
      await assert.rejects(loadCertificate(files), (err) => {
        assert.ok(err instanceof UserError, String(err));
        assert.match(err.message, message);
        assert.ok(!err.message.includes('\n'), err.message);
        return true;
      });
    }
  });
});
