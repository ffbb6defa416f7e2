import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext, type Server as TlsServer } from 'node:tls';
import { UserError } from '../../core/errors.js';

/** The files `ferry serve --tls-cert FILE --tls-key FILE [--tls-ca FILE]` names. */
export interface TlsFiles {
  /** PEM: the server's certificate first, then any intermediates (the chain the server presents). */
  readonly certFile: string;
  /** PEM: the certificate's private key, unencrypted. */
  readonly keyFile: string;
  /** PEM: the CA that (directly or through the intermediates) signed the certificate; optional. */
  readonly caFile?: string;
}

/** A checked certificate, chain and key, as the HTTPS server is given them. */
export interface CertificateMaterial {
  /** The chain the server presents: the certificate file's certificates, and the `--tls-ca` CA when it is not among them. */
  readonly cert: string;
  readonly key: string;
  /**
   * The SHA-256 fingerprint (`AB:CD:…`, as node's `fingerprint256`) of the certificate registration
   * credentials pin: the `--tls-ca` CA; else the chain's last certificate when it is self-signed (a
   * self-signed server certificate, or a chain that includes its root); else null (a certificate of a
   * public CA: clients trust it through their system's CAs, nothing is pinned).
   */
  readonly pin: string | null;
  /** The server certificate's subject and validity, for the log. */
  readonly subject: string;
  readonly validFrom: Date;
  readonly validTo: Date;
}

/**
 * Reads and checks the certificate, key and optional CA. Every problem is a one-line `UserError` naming
 * the file and its option: missing or unreadable, no PEM certificate or key in it, an encrypted key, a key
 * that does not belong to the certificate, a certificate the CA did not issue, anything else node's TLS
 * refuses. Reads the files afresh on every call (SIGHUP reloads call it again).
 */
export async function loadCertificate(files: TlsFiles): Promise<CertificateMaterial> {
  const [certText, keyText, caText] = await Promise.all([
    readPem(files.certFile, '--tls-cert'),
    readPem(files.keyFile, '--tls-key'),
    files.caFile === undefined ? undefined : readPem(files.caFile, '--tls-ca'),
  ]);
  const chain = parseCertificates(certText, files.certFile, '--tls-cert');
  const leaf = chain[0]!;
  const key = parsePrivateKey(keyText, files.keyFile);
  if (!leaf.checkPrivateKey(key)) {
    throw new UserError(`the private key ${files.keyFile} (--tls-key) does not belong to the certificate ${files.certFile} (--tls-cert): give the key it was made for`);
  }
  const ca = caText === undefined ? undefined : parseCertificates(caText, files.caFile!, '--tls-ca')[0]!;
  const { served, anchor } = servedChain(chain, ca, files);
  const cert = served.map((c) => c.toString()).join('');
  try {
    // What node's TLS itself refuses (a key too small for its security level, say) is found now, not at the first handshake.
    createSecureContext({ cert, key: keyText });
  } catch (err) {
    throw new UserError(`the TLS certificate ${files.certFile} and key ${files.keyFile} cannot be used: ${(err as Error).message}`, { cause: err });
  }
  return {
    cert,
    key: keyText,
    pin: anchor?.fingerprint256 ?? null,
    subject: leaf.subject.replace(/\n/g, ', '),
    validFrom: new Date(leaf.validFrom),
    validTo: new Date(leaf.validTo),
  };
}

/** What a log line says about a certificate that is not valid at `now` (clients will refuse it), or undefined. */
export function validityProblem(material: CertificateMaterial, now: number): string | undefined {
  if (now < material.validFrom.getTime()) return `the TLS certificate is not valid before ${material.validFrom.toISOString()}`;
  if (now > material.validTo.getTime()) return `the TLS certificate expired at ${material.validTo.toISOString()}`;
  return undefined;
}

/**
 * The service's certificate while it runs: the material the HTTPS server presents, and a reload that
 * swaps it without closing the listening socket or any connection (node's `setSecureContext`: new
 * handshakes use the new certificate). A reload that fails keeps the old one.
 */
export class ServiceCertificate {
  #current: CertificateMaterial;

  private constructor(
    readonly files: TlsFiles,
    material: CertificateMaterial,
  ) {
    this.#current = material;
  }

  /** Loads and checks the files (see {@link loadCertificate}). */
  static async load(files: TlsFiles): Promise<ServiceCertificate> {
    return new ServiceCertificate(files, await loadCertificate(files));
  }

  get current(): CertificateMaterial {
    return this.#current;
  }

  /** The fingerprint registration credentials pin (see {@link CertificateMaterial.pin}), for the current certificate. */
  pin(): string | null {
    return this.#current.pin;
  }

  /** The certificate chain and key for node's HTTPS server (fastify's `https` option). */
  secureOptions(): { cert: string; key: string } {
    return { cert: this.#current.cert, key: this.#current.key };
  }

  /**
   * Reads the files again and, when they pass every check, makes `server`'s new connections use them.
   * Throws the `UserError` of {@link loadCertificate} and changes nothing when they do not.
   */
  async reload(server: TlsServer): Promise<CertificateMaterial> {
    const material = await loadCertificate(this.files);
    server.setSecureContext({ cert: material.cert, key: material.key });
    this.#current = material;
    return material;
  }
}

/** The chain to present and the certificate to pin (see {@link CertificateMaterial.pin}). */
function servedChain(chain: X509Certificate[], ca: X509Certificate | undefined, files: TlsFiles): { served: X509Certificate[]; anchor: X509Certificate | undefined } {
  const last = chain[chain.length - 1]!;
  if (ca !== undefined) {
    if (chain.some((c) => c.fingerprint256 === ca.fingerprint256)) return { served: chain, anchor: ca };
    if (issuedBy(last, ca)) return { served: [...chain, ca], anchor: ca };
    throw new UserError(
      `the certificate ${files.certFile} (--tls-cert) was not issued by the CA in ${files.caFile} (--tls-ca)` +
        (chain.length === 1 ? '' : ' (nor is its last intermediate)') +
        ': give the CA that signed it, with any intermediates after the certificate in --tls-cert',
    );
  }
  return { served: chain, anchor: issuedBy(last, last) ? last : undefined };
}

function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

function parseCertificates(text: string, file: string, option: string): X509Certificate[] {
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new UserError(`${file} (${option}) holds no PEM certificate ("-----BEGIN CERTIFICATE-----")`);
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new UserError(`${file} (${option}): certificate ${index + 1} is damaged: ${(err as Error).message}`, { cause: err });
    }
  });
}

function parsePrivateKey(text: string, file: string): KeyObject {
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) throw new UserError(`${file} (--tls-key) holds no PEM private key ("-----BEGIN PRIVATE KEY-----")`);
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text)) {
    throw new UserError(`the private key ${file} (--tls-key) is encrypted: give it unencrypted (e.g. \`openssl pkey -in ${file} -out KEY\`), readable only by the service`);
  }
  try {
    return createPrivateKey(text);
  } catch (err) {
    throw new UserError(`${file} (--tls-key) is not a usable private key: ${(err as Error).message}`, { cause: err });
  }
}

async function readPem(file: string, option: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a folder' : (err as Error).message;
    throw new UserError(`cannot read ${file} (${option}): ${why}`, { cause: err });
  }
}
