import type { z } from 'zod';
import { parseAnswer } from '../contract/answer.js';
import { CreatedImportJob, ImportJob, ImportJobList, PreparedJob, type DiskRegistration, type ImportJobRequest, type JobShipping } from '../contract/import-job.js';
import { UserError } from '../core/errors.js';
import type { AuditRecord } from '../service/audit/audit-log.js';
import type { IssuedToken, TokenListing } from '../service/auth/token-store.js';
import { describeNetworkError, networkErrorCode, tlsFailure } from '../storage/http/http-errors.js';
import { defaultTransport, readText, type HttpTransport } from '../storage/http/http-transport.js';
import { lines } from '../storage/http/ndjson-lines.js';
import type { AgentRegistration } from './agent-state.js';
import { serviceTransport, type GlobalOptions } from './service-trust.js';
import type { Principal } from '../service/auth/principal.js';
import type { VaultCredentials } from '../service/resources/registration-codes.js';
import type { StorageAccount } from '../service/resources/storage-accounts.js';
import type { Tenant } from '../service/resources/tenants.js';
import type { Vault, VaultDetails } from '../service/resources/vaults.js';

/** Where the service is and which token to show it: --server/--token, else FERRY_SERVER/FERRY_TOKEN. */
export interface ServiceOptions {
  readonly server?: string;
  readonly token?: string;
}

/** How long one request may take before the CLI gives up. */
const REQUEST_TIMEOUT_MS = 60_000;

/** The longest answer read: listings of jobs, vaults and audit pages are far smaller. */
const MAX_ANSWER = 64 * 1024 * 1024;

/** A request the service answered with an error status; `status`, `code` and `serviceMessage` are the service's. */
export class ServiceRequestError extends UserError {
  override readonly code: string;
  constructor(
    readonly status: number,
    serviceCode: string,
    message: string,
    /** The service's own message, without what the CLI added. */
    readonly serviceMessage: string = message,
  ) {
    super(message);
    this.code = serviceCode;
  }
}

/** 401 codes whose message says exactly what happened to the token (service/auth/token-errors.ts): no hint to add. */
const SPECIFIC_REFUSALS = new Set(['TOKEN_EXPIRED', 'TOKEN_REVOKED', 'TOKEN_RENEWED', 'JOB_ENDED']);

/** The service's base URL from --server or FERRY_SERVER, checked and without a trailing slash. */
export function serviceUrl(env: NodeJS.ProcessEnv, options: ServiceOptions): string {
  const raw = options.server ?? env.FERRY_SERVER;
  if (raw === undefined || raw === '') throw new UserError('no service given: pass --server URL or set FERRY_SERVER (ferry serve prints its URL)');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UserError(`invalid service URL "${raw}": expected http://HOST:PORT or https://HOST`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UserError(`invalid service URL "${raw}": expected http:// or https://`);
  if (url.username !== '' || url.password !== '' || url.search !== '') throw new UserError('the service URL may not carry credentials or a query; pass the token with --token or FERRY_TOKEN');
  return url.toString().replace(/\/+$/, '');
}

/** What a client needs of a command's context: the environment, its abort signal and `--ca-cert`. */
export interface ServiceClientContext {
  readonly env: NodeJS.ProcessEnv;
  readonly signal: AbortSignal;
  readonly globalOptions: GlobalOptions;
}

/**
 * A small typed client of the service's HTTP API (docs/service.md). Sends the token only in the
 * Authorization header. Every failure becomes one clear `UserError` line: `ServiceRequestError` for an
 * error answer (401 bad token, 403 role, 404 not found or not visible, 409 exists, 4xx invalid), and a
 * plain `UserError` when the service cannot be reached.
 */
export class ServiceClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string | undefined,
    private readonly signal?: AbortSignal,
    /** What requests go through; the system's CAs by default, see service-trust.ts. */
    private readonly transport: HttpTransport = defaultTransport(),
  ) {}

  /**
   * A client for a command's --server/--token options (or the environment); the token is required.
   * Trusts --ca-cert/FERRY_CA_CERT when given, else the system's CAs.
   */
  static fromOptions(ctx: ServiceClientContext, options: ServiceOptions): ServiceClient {
    const token = options.token ?? ctx.env.FERRY_TOKEN;
    if (token === undefined || token === '') throw new UserError('no token given: pass --token TOKEN or set FERRY_TOKEN');
    return new ServiceClient(serviceUrl(ctx.env, options), token, ctx.signal, serviceTransport(ctx));
  }

  /**
   * A client acting as this machine's agent: its server and token, trusting the CA pinned at registration
   * (or --ca-cert/FERRY_CA_CERT when given). `server` overrides the registration's URL.
   */
  static forAgent(ctx: ServiceClientContext, registration: AgentRegistration, options: { server?: string; signal?: AbortSignal | null } = {}): ServiceClient {
    const signal = options.signal === null ? undefined : (options.signal ?? ctx.signal);
    return new ServiceClient(options.server ?? registration.server.replace(/\/+$/, ''), registration.token, signal, serviceTransport(ctx, registration));
  }

  whoami(): Promise<Principal> {
    return this.request('GET', '/v1/whoami');
  }
  createTenant(name: string): Promise<Tenant> {
    return this.request('POST', '/v1/tenants', { name });
  }
  getTenant(tenantId: string): Promise<Tenant> {
    return this.request('GET', `/v1/tenants/${encodeURIComponent(tenantId)}`);
  }
  async listTenants(): Promise<Tenant[]> {
    return (await this.request<{ tenants: Tenant[] }>('GET', '/v1/tenants')).tenants;
  }
  createToken(request: { role: string; tenantId?: string; expiresInSeconds?: number }): Promise<IssuedToken> {
    return this.request('POST', '/v1/tokens', request);
  }
  async listTokens(): Promise<TokenListing[]> {
    return (await this.request<{ tokens: TokenListing[] }>('GET', '/v1/tokens')).tokens;
  }
  revokeToken(tokenId: string): Promise<TokenListing> {
    return this.request('DELETE', `/v1/tokens/${encodeURIComponent(tokenId)}`);
  }
  createStorageAccount(tenantId: string, spec: { name: string; backend?: string }): Promise<StorageAccount> {
    return this.request('POST', `/v1/tenants/${encodeURIComponent(tenantId)}/storage-accounts`, spec);
  }
  getStorageAccount(storageAccountId: string): Promise<StorageAccount> {
    return this.request('GET', `/v1/storage-accounts/${encodeURIComponent(storageAccountId)}`);
  }
  async listStorageAccounts(tenantId: string): Promise<StorageAccount[]> {
    return (await this.request<{ storageAccounts: StorageAccount[] }>('GET', `/v1/tenants/${encodeURIComponent(tenantId)}/storage-accounts`)).storageAccounts;
  }
  createVault(tenantId: string, spec: { name: string; storageAccountId: string; container?: string }): Promise<Vault> {
    return this.request('POST', `/v1/tenants/${encodeURIComponent(tenantId)}/vaults`, spec);
  }
  /** The vault with its pending offline seed (`seed`: the open import job, or null). */
  getVault(vaultId: string): Promise<VaultDetails> {
    return this.request('GET', `/v1/vaults/${encodeURIComponent(vaultId)}`);
  }
  async listVaults(tenantId: string): Promise<Vault[]> {
    return (await this.request<{ vaults: Vault[] }>('GET', `/v1/tenants/${encodeURIComponent(tenantId)}/vaults`)).vaults;
  }
  createVaultCredentials(vaultId: string): Promise<VaultCredentials> {
    return this.request('POST', `/v1/vaults/${encodeURIComponent(vaultId)}/credentials`);
  }
  /** Creates an import job for the vault; the answer carries the job token, once. */
  createImportJob(vaultId: string, request: ImportJobRequest): Promise<CreatedImportJob> {
    return this.requestChecked(CreatedImportJob, 'POST', `/v1/vaults/${encodeURIComponent(vaultId)}/import-jobs`, request);
  }
  getImportJob(jobId: string): Promise<ImportJob> {
    return this.requestChecked(ImportJob, 'GET', `/v1/import-jobs/${encodeURIComponent(jobId)}`);
  }
  async listImportJobs(tenantId: string): Promise<ImportJob[]> {
    return (await this.requestChecked(ImportJobList, 'GET', `/v1/tenants/${encodeURIComponent(tenantId)}/import-jobs`)).jobs;
  }
  /** The jobs the token may see (admin, operator: all tenants; tenant-admin: its own), by name and tenant when given. */
  async findImportJobs(filter: { name?: string; tenantId?: string } = {}): Promise<ImportJob[]> {
    const query = new URLSearchParams();
    if (filter.name !== undefined) query.set('name', filter.name);
    if (filter.tenantId !== undefined) query.set('tenantId', filter.tenantId);
    const suffix = query.size > 0 ? `?${query.toString()}` : '';
    return (await this.requestChecked(ImportJobList, 'GET', `/v1/import-jobs${suffix}`)).jobs;
  }
  /** Registers (or replaces) disk `index` of the job and escrows its key (job token). */
  registerJobDisk(jobId: string, index: number, disk: DiskRegistration): Promise<ImportJob> {
    return this.requestChecked(ImportJob, 'PUT', `/v1/import-jobs/${encodeURIComponent(jobId)}/disks/${index}`, disk);
  }
  /** Reports all `disks` disks prepared (job token): starts the tracking deadline; answers the shipping address. */
  markJobPrepared(jobId: string, disks: number): Promise<PreparedJob> {
    return this.requestChecked(PreparedJob, 'POST', `/v1/import-jobs/${encodeURIComponent(jobId)}/prepared`, { disks });
  }
  shipImportJob(jobId: string, shipping: JobShipping): Promise<ImportJob> {
    return this.requestChecked(ImportJob, 'POST', `/v1/import-jobs/${encodeURIComponent(jobId)}/shipping`, shipping);
  }
  cancelImportJob(jobId: string): Promise<ImportJob> {
    return this.requestChecked(ImportJob, 'POST', `/v1/import-jobs/${encodeURIComponent(jobId)}/cancel`);
  }
  /** One page of the audit log, newest first; pass `nextCursor` back as `cursor` for the next. */
  listAudit(query: { since?: string; action?: string; tenantId?: string; limit?: number; cursor?: string } = {}): Promise<{ records: AuditRecord[]; nextCursor: string | null }> {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) if (value !== undefined) params.set(name, String(value));
    return this.request('GET', `/v1/audit${params.size > 0 ? `?${params.toString()}` : ''}`);
  }

  /**
   * One JSON request whose answer is read through `schema` (a shape of the wire contract, src/contract/):
   * an answer of another shape is an `UnexpectedAnswerError` naming the request and the field, never a
   * crash later. Errors otherwise as {@link request}.
   */
  async requestChecked<S extends z.ZodType>(schema: S, method: string, path: string, body?: unknown): Promise<z.output<S>> {
    return parseAnswer(schema, await this.request<unknown>(method, path, body), `${method} ${path.replace(/\?.*$/, '')} from the service at ${this.baseUrl}`);
  }

  /**
   * A JSON request whose answer is newline-delimited JSON read as it arrives (a long-running operation's
   * events): each line through `schema`. No time limit but the command's signal. Errors as {@link request}.
   */
  async *events<S extends z.ZodType>(schema: S, method: string, path: string, body: unknown): AsyncGenerator<z.output<S>> {
    const headers: Record<string, string> = { accept: 'application/x-ndjson', 'content-type': 'application/json' };
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    const what = `${method} ${path} from the service at ${this.baseUrl}`;
    let response;
    try {
      response = await this.transport.request(`${this.baseUrl}${path}`, { method, headers, body: JSON.stringify(body), ...(this.signal ? { signal: this.signal } : {}) });
    } catch (err) {
      throw unreachable(this.baseUrl, err, false);
    }
    const status = response.statusCode ?? 0;
    if (status < 200 || status >= 300) throw errorFromAnswer(status, (await readText(response, MAX_ANSWER)) ?? '');
    for await (const line of lines(response)) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        throw new UserError(`the service at ${this.baseUrl} sent a line that is not JSON in its answer to ${method} ${path}: is that URL a Ferry service?`);
      }
      yield parseAnswer(schema, parsed, what);
    }
  }

  /** One JSON request; `body` undefined sends none. Resolves with the parsed answer (undefined for 204). */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    let status: number;
    let text: string | undefined;
    try {
      const response = await this.transport.request(`${this.baseUrl}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: this.signal ? AbortSignal.any([this.signal, timeout]) : timeout,
      });
      status = response.statusCode ?? 0;
      text = await readText(response, MAX_ANSWER);
    } catch (err) {
      throw unreachable(this.baseUrl, err, timeout.aborted);
    }
    if (text === undefined) throw new UserError(`the service at ${this.baseUrl} sent an answer longer than ${MAX_ANSWER / 1024 / 1024} MiB (HTTP ${status}): is that URL a Ferry service?`);
    if (status < 200 || status >= 300) throw errorFromAnswer(status, text);
    if (text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new UserError(`the service at ${this.baseUrl} sent an answer that is not JSON (HTTP ${status}): is that URL a Ferry service?`);
    }
  }
}

function unreachable(baseUrl: string, err: unknown, timedOut: boolean): UserError {
  if (timedOut) return new UserError(`the Ferry service at ${baseUrl} did not answer within ${REQUEST_TIMEOUT_MS / 1000} s`, { cause: err });
  const tls = tlsFailure(err);
  if (tls?.kind === 'untrusted') {
    return new UserError(
      `the TLS certificate of the service at ${baseUrl} is not trusted (${tls.detail}): give the CA that signed it with --ca-cert FILE or FERRY_CA_CERT`,
      { cause: err },
    );
  }
  if (tls?.kind === 'not-tls') return new UserError(`the service at ${baseUrl} does not speak TLS (${tls.detail}): use its http:// URL`, { cause: err });
  const hint = 'is `ferry serve` running there? (FERRY_SERVER or --server)';
  switch (networkErrorCode(err)) {
    case 'ECONNREFUSED':
      return new UserError(`cannot reach the Ferry service at ${baseUrl}: connection refused; ${hint}`, { cause: err });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new UserError(`cannot reach the Ferry service at ${baseUrl}: unknown host; check FERRY_SERVER or --server`, { cause: err });
    default:
      return new UserError(`cannot reach the Ferry service at ${baseUrl}: ${describeNetworkError(err)}; ${hint}`, { cause: err });
  }
}

function errorFromAnswer(status: number, text: string): ServiceRequestError {
  let code = `HTTP_${status}`;
  let message = text.slice(0, 200).replace(/\s+/g, ' ').trim() || `HTTP ${status}`;
  try {
    const body = JSON.parse(text) as { code?: unknown; message?: unknown };
    if (typeof body.code === 'string') code = body.code;
    if (typeof body.message === 'string') message = body.message;
  } catch {
    // Not our error body (a proxy's page, say): the status and the start of the text are what we have.
  }
  const line =
    status === 401
      ? `the service refused the token: ${message}${SPECIFIC_REFUSALS.has(code) ? '' : ' (check FERRY_TOKEN or --token)'}`
      : status === 403
        ? `not allowed: ${message}`
        : status === 404
          ? `not found: ${message}`
          : status >= 500
            ? `the service failed (HTTP ${status}): ${message}; its log has the details`
            : message;
  return new ServiceRequestError(status, code, line, message);
}
