import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { connect, type DetailedPeerCertificate } from 'node:tls';
import { UserError } from '../core/errors.js';

/** How long the look at the service's certificate chain may take. */
const PROBE_TIMEOUT_MS = 30_000;

/**
 * The certificate a registration pins, taken from the chain the service presents: connects to the
 * https:// `serverUrl` (without judging its certificate: that is done next, against what this returns),
 * walks the presented chain, and returns as PEM the certificate whose SHA-256 fingerprint is
 * `fingerprint` (node's `fingerprint256` form, `AB:CD:…`; case and colons do not matter).
 *
 * The caller then talks to the service trusting only that certificate, so the chain must lead to it and
 * name the host: a server that merely copied the pinned CA into its chain fails there.
 * `UserError` when the service cannot be reached or its chain holds no such certificate.
 */
export async function pinnedCertificate(serverUrl: string, fingerprint: string, signal?: AbortSignal): Promise<string> {
  const wanted = normalizeFingerprint(fingerprint);
  const chain = await presentedChain(serverUrl, signal);
  const match = chain.find((cert) => normalizeFingerprint(cert.fingerprint256) === wanted);
  if (match === undefined) {
    throw new UserError(
      `the service at ${serverUrl} presented no certificate with the SHA-256 fingerprint the credentials file pins (${fingerprint}): ` +
        'it may not be the service that wrote them; check the URL, or ask its operator for new credentials',
    );
  }
  return new X509Certificate(match.raw).toString();
}

/** A fingerprint as uppercase hex without separators, for comparing. */
export function normalizeFingerprint(fingerprint: string): string {
  return fingerprint.replace(/[^0-9a-f]/gi, '').toUpperCase();
}

/** The certificates the server presents, leaf first, each once. */
function presentedChain(serverUrl: string, signal: AbortSignal | undefined): Promise<DetailedPeerCertificate[]> {
  const url = new URL(serverUrl);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port === '' ? 443 : Number(url.port);
  return new Promise((resolve, reject) => {
    const socket = connect({
      host,
      port,
      // SNI takes host names only (RFC 6066); node warns when given an address.
      ...(isIP(host) === 0 ? { servername: host } : {}),
      // Judged afterwards against the pinned certificate, with the host name: here the chain is only read.
      rejectUnauthorized: false,
      ...(signal ? { signal } : {}),
    });
    const fail = (err: Error): void => {
      socket.destroy();
      reject(new UserError(`cannot reach the Ferry service at ${serverUrl} to check its certificate: ${(err as NodeJS.ErrnoException).code ?? err.message}; is the URL right?`, { cause: err }));
    };
    socket.setTimeout(PROBE_TIMEOUT_MS, () => fail(new Error(`no TLS handshake within ${PROBE_TIMEOUT_MS / 1000} s`)));
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      const chain: DetailedPeerCertificate[] = [];
      const seen = new Set<string>();
      for (let cert: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true); cert?.raw !== undefined; cert = cert.issuerCertificate) {
        if (seen.has(cert.fingerprint256)) break;
        seen.add(cert.fingerprint256);
        chain.push(cert);
      }
      socket.end();
      resolve(chain);
    });
  });
}
