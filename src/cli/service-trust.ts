import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, fetch as undiciFetch } from 'undici';
import { UserError } from '../core/errors.js';
import type { FetchFunction } from '../storage/http/http-storage.js';

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

/** A fetch that trusts `caPem` (see {@link trustedCa}) instead of the system's CAs; the global fetch for undefined. */
export function fetchTrusting(caPem: string | undefined): FetchFunction {
  if (caPem === undefined) return fetch;
  let agent = AGENTS.get(caPem);
  if (agent === undefined) {
    // `ca` replaces the system's CAs for these connections: a certificate must chain to one of these.
    agent = new Agent({ connect: { ca: caPem } });
    AGENTS.set(caPem, agent);
  }
  const dispatcher = agent;
  // undici's own fetch with its own Agent (not node's bundled fetch, whose undici may be another version);
  // its Request and Response are the WHATWG ones node's fetch has.
  return (url, init) => undiciFetch(url, { ...init, dispatcher });
}

/** One connection pool per trusted CA set, for the life of the process. */
const AGENTS = new Map<string, Agent>();

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
 * The fetch a command talks to the service with: trusting `--ca-cert`/FERRY_CA_CERT when given, else the
 * CA `registration` pinned (an agent's commands), else the system's CAs.
 */
export function serviceFetch(
  ctx: { readonly env: NodeJS.ProcessEnv; readonly globalOptions: GlobalOptions },
  registration?: { readonly caCert?: string | undefined },
): FetchFunction {
  return fetchTrusting(trustedCa({ caCertFile: caCertFile(ctx), pinnedCa: registration?.caCert }));
}

/** `--ca-cert`, else FERRY_CA_CERT, else undefined. */
export function caCertFile(ctx: { readonly env: NodeJS.ProcessEnv; readonly globalOptions: GlobalOptions }): string | undefined {
  const file = ctx.globalOptions.caCert ?? ctx.env.FERRY_CA_CERT;
  return file === undefined || file === '' ? undefined : file;
}
