import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A certificate and key made by Debian's `openssl` for a test. */
export interface TestCertificate {
  readonly certFile: string;
  readonly keyFile: string;
  /** node's `fingerprint256` of the certificate (`AB:CD:…`). */
  readonly fingerprint: string;
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

async function openssl(args: readonly string[]): Promise<void> {
  await run('openssl', args);
}

async function described(certFile: string, keyFile: string): Promise<TestCertificate> {
  return { certFile, keyFile, fingerprint: new X509Certificate(await readFile(certFile)).fingerprint256 };
}

/** A CA certificate (CA:TRUE, keyCertSign) `dir/<name>.crt` with its key, valid two days. */
export async function makeCa(dir: string, name: string): Promise<TestCertificate> {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  await openssl(['req', '-x509', ...KEY, '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return described(certFile, keyFile);
}

/** A server certificate for 127.0.0.1 (subjectAltName IP:127.0.0.1) signed by `ca`, valid two days. */
export async function makeServerCertificate(dir: string, name: string, ca: TestCertificate): Promise<TestCertificate> {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  await writeFile(ext, 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n');
  await openssl(['req', ...KEY, '-keyout', keyFile, '-out', csr, '-subj', `/CN=${name}`]);
  await openssl(['x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', `0x${Date.now().toString(16)}`,
    '-out', certFile, '-days', '2', '-extfile', ext]);
  return described(certFile, keyFile);
}

/** A self-signed server certificate for 127.0.0.1, valid two days. */
export async function makeSelfSignedCertificate(dir: string, name: string): Promise<TestCertificate> {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  await openssl(['req', '-x509', ...KEY, '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'subjectAltName=IP:127.0.0.1']);
  return described(certFile, keyFile);
}
