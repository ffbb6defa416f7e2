import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { UserError } from '../core/errors.js';
import { HttpTransport, defaultTransport } from '../storage/http/http-transport.js';

/**
 * Which certificates the CLI trusts for the Ferry service's TLS (docs/agent.md, "TLS"):
 *
 * 1. `--ca-cert FILE` or FERRY_CA_CERT (a PEM file) when given: only its certificates;
 * 2. else, for an agent's commands, the CA pinned at `ferry register` (agent.json's `caCert`);
 * 3. else the system's CAs (node's default).
 *
 * Certificates are always verified, host name included; there is no switch to turn that off.
 */
export interface TrustSources {
  /** `--ca-cert` (the program's global option), else FERRY_CA_CERT; undefined when neither is given. */
  readonly caCertFile: string | undefined;
  /** The PEM pinned at registration, for commands that act as the registered agent. */
  readonly pinnedCa?: string | undefined;
}

/** The CA certificates (PEM) to trust instead of the system's, or undefined for the system's. */
export function trustedCa(sources: TrustSources): string | undefined {
  if (sources.caCertFile !== undefined) return readCaCertificates(sources.caCertFile);
  return sources.pinnedCa;
}

/**
 * The transport that trusts `caPem` (see {@link trustedCa}) instead of the system's CAs; the process's
 * default transport (the system's CAs) for undefined.
 */
export function transportTrusting(caPem: string | undefined): HttpTransport {
  if (caPem === undefined) return defaultTransport();
  let transport = TRANSPORTS.get(caPem);
  if (transport === undefined) {
    transport = new HttpTransport({ ca: caPem });
    TRANSPORTS.set(caPem, transport);
  }
  return transport;
}

/** One keep-alive connection pool per trusted CA set, for the life of the process. */
const TRANSPORTS = new Map<string, HttpTransport>();

/**
 * Reads a PEM file of CA certificates (`--ca-cert`, FERRY_CA_CERT) and checks that each one parses.
 * `UserError` naming the file when it cannot be read or holds no certificate.
 */
export function readCaCertificates(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new UserError(`cannot read the CA certificate ${file} (--ca-cert or FERRY_CA_CERT): ${why}`, { cause: err });
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new UserError(`${file} (--ca-cert or FERRY_CA_CERT) holds no PEM certificate ("-----BEGIN CERTIFICATE-----")`);
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (err) {
      throw new UserError(`${file} (--ca-cert or FERRY_CA_CERT) holds a damaged certificate: ${(err as Error).message}`, { cause: err });
    }
  }
  return `${blocks.join('\n')}\n`;
}

/** The process options every command shares (the program's global options). */
export interface GlobalOptions {
  /** `--ca-cert FILE`: the CA certificates to trust for the service. */
  caCert?: string;
}

/**
 * The transport a command talks to the service with: trusting `--ca-cert`/FERRY_CA_CERT when given, else
 * the CA `registration` pinned (an agent's commands), else the system's CAs.
 */
export function serviceTransport(
  ctx: { readonly env: NodeJS.ProcessEnv; readonly globalOptions: GlobalOptions },
  registration?: { readonly caCert?: string | undefined },
): HttpTransport {
  return transportTrusting(trustedCa({ caCertFile: caCertFile(ctx), pinnedCa: registration?.caCert }));
}

/** `--ca-cert`, else FERRY_CA_CERT, else undefined. */
export function caCertFile(ctx: { readonly env: NodeJS.ProcessEnv; readonly globalOptions: GlobalOptions }): string | undefined {
  const file = ctx.globalOptions.caCert ?? ctx.env.FERRY_CA_CERT;
  return file === undefined || file === '' ? undefined : file;
}
