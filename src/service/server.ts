import { noFailpoints, type Failpoints } from '../core/failpoints.js';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { systemClock, type Clock } from '../core/clock.js';
import { systemRandom, type RandomSource } from '../core/random.js';
import { AzureAccounts } from '../storage/azure/azure-accounts.js';
import { S3Endpoint } from '../storage/s3/s3-endpoint.js';
import { FsObjectCopier } from '../storage/fs/fs-copy.js';
import { FsStorage } from '../storage/fs/fs-storage.js';
import type { Storage } from '../storage/storage.js';
import { registerAgentScheduleRoutes } from './api/agent-schedules.js';
import type { ApiApp } from './api/api-app.js';
import { registerBackupRunRoutes } from './api/backup-runs.js';
import { installAuthThrottle, type AuthThrottleSettings } from './api/auth-throttle.js';
import { installErrorHandler } from './api/error-handler.js';
import { registerHealthRoutes } from './api/health.js';
import { registerImportIngestRoutes, registerImportObjectRoutes } from './api/import-ingest.js';
import { registerImportJobRoutes } from './api/import-jobs.js';
import { registerMachineRoutes } from './api/machines.js';
import { registerOpenApiRoute } from './api/openapi.js';
import { registerRegistrationRoutes } from './api/registration.js';
import { installRequestResources } from './api/request-resources.js';
import { installSecurityHeaders } from './api/security-headers.js';
import { installAccessControl, type RegisteredRoute } from './api/route-access.js';
import { registerStorageAccountRoutes } from './api/storage-accounts.js';
import { registerTenantRoutes } from './api/tenants.js';
import { registerTokenRoutes } from './api/tokens.js';
import { registerVaultObjectRoutes } from './api/vault-objects.js';
import { registerVaultRoutes } from './api/vaults.js';
import { registerAuditRoutes } from './api/audit.js';
import { registerPortalLinkRoutes } from './api/portal-links.js';
import { registerPortalRoutes } from './portal/portal-routes.js';
import { auditObjectRemoval } from './audit/object-removals.js';
import { BackendIsolation } from './backend-isolation.js';
import type { BackendLocation, ObjectCopier } from './backend-location.js';
import type { ServiceContext } from './context.js';
import { agentTokenLifetime } from './auth/roles.js';
import type { ServiceDatabase } from './db/database.js';
import { importJobSettings, type ImportJobSettings } from './jobs/job-settings.js';
import { ServiceMetrics } from './metrics.js';
import { dbLockOwnership } from './resources/db-lock-ownership.js';
import { dbObjectProvenance } from './resources/snapshot-provenance.js';
import type { ServiceKey } from './secrets/service-key.js';
import type { ServiceCertificate } from './tls/service-certificate.js';
import { resolveVaultForObjects } from './vault-access.js';

/** The API version in the OpenAPI document. */
export const API_VERSION = '1.0.0';

/** JSON bodies above this are refused with 413 before they are read (object uploads set their own limit). */
export const DEFAULT_BODY_LIMIT = 64 * 1024;

export interface ServerOptions {
  /** A migrated database; the caller closes it after the server. */
  readonly db: ServiceDatabase;
  readonly dataDir: string;
  /** Seals the escrowed disk keys (serve.ts opens it: secrets/disk-key-escrow.ts). */
  readonly serviceKey: ServiceKey;
  readonly clock?: Clock;
  readonly random?: RandomSource;
  /** JSON request logs; none when absent. */
  readonly logger?: FastifyBaseLogger;
  readonly bodyLimit?: number;
  /** Import job settings that differ from the defaults (jobs/job-settings.ts). */
  readonly importJobs?: Partial<ImportJobSettings>;
  /** Limits on failed authentications (api/auth-throttle.ts); DEFAULT_AUTH_THROTTLE when absent. */
  readonly authThrottle?: AuthThrottleSettings;
  /** The lifetime of agent tokens (registration and renewal); default the role's (auth/roles.ts). */
  readonly agentTokenLifetimeMs?: number;
  /** Serve HTTPS with this certificate (`--tls-cert`/`--tls-key`); plain HTTP when absent. */
  readonly tls?: ServiceCertificate;
  /**
   * Where the object stores' credentials come from (AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_KEY):
   * they live in the service's environment, never in its database. None when absent.
   */
  readonly env?: NodeJS.ProcessEnv;
  /** `--ingest-root`: the folder disks are mounted under for an ingest on the service's host; none when absent. */
  readonly ingestRoot?: string;
  /** Test-only fault injection (FERRY_FAILPOINT of `ferry serve`); none when absent. */
  readonly failpoints?: Failpoints;
}

/** A built, not yet listening server: `app.inject()` drives it in tests, `app.listen()` serves it. */
export interface FerryServer {
  readonly app: ApiApp;
  readonly ctx: ServiceContext;
  /** Every route with its declared access, in registration order (the authorization matrix enumerates it). */
  readonly routes: readonly RegisteredRoute[];
}

/**
 * The service's composition root: picks the storage back ends, wires access control, the error handler,
 * metrics and every route. Does not listen and does not migrate (see serve.ts). Routes added to `app`
 * afterwards must declare `config.access` like the built-in ones.
 */
export function buildServer(options: ServerOptions): FerryServer {
  const backends = new ObjectStores(options.env ?? {});
  const ctx: ServiceContext = {
    db: options.db,
    clock: options.clock ?? systemClock,
    random: options.random ?? systemRandom,
    dataDir: options.dataDir,
    openBackend: (location) => backends.open(location),
    backends: new BackendIsolation(options.dataDir),
    copyWithinBackend: (source, target) => backends.copier(source, target),
    metrics: new ServiceMetrics(),
    serviceKey: options.serviceKey,
    importJobs: importJobSettings(options.importJobs),
    agentTokenLifetimeMs: agentTokenLifetime(options.agentTokenLifetimeMs),
    certificatePin: () => options.tls?.pin() ?? null,
    ingestRoot: options.ingestRoot ?? null,
    failpoints: options.failpoints ?? noFailpoints,
  };
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    exposeHeadRoutes: false,
    return503OnClosing: true,
    ...(options.tls ? { https: options.tls.secureOptions() } : {}),
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorate('service', ctx);
  // Bodies are JSON (or, on the routes that add a parser for it, raw object bytes): anything else is 415.
  app.removeContentTypeParser('text/plain');

  const routes: RegisteredRoute[] = [];
  installErrorHandler(app);
  installSecurityHeaders(app, { hsts: options.tls !== undefined });
  installRequestResources(app);
  const authThrottle = installAuthThrottle(app, ctx, options.authThrottle);
  installAccessControl(app, ctx, routes, authThrottle);
  app.addHook('onResponse', async (request, reply) => {
    ctx.metrics.recordRequest(request.method, request.routeOptions.url ?? '(unmatched)', reply.statusCode);
  });

  registerHealthRoutes(app, ctx);
  registerOpenApiRoute(app, routes, API_VERSION);
  registerTokenRoutes(app, ctx);
  registerTenantRoutes(app, ctx);
  registerStorageAccountRoutes(app, ctx);
  registerVaultRoutes(app, ctx);
  registerMachineRoutes(app, ctx);
  registerRegistrationRoutes(app, ctx, authThrottle);
  registerBackupRunRoutes(app, ctx);
  registerAgentScheduleRoutes(app, ctx);
  registerImportJobRoutes(app, ctx);
  registerImportIngestRoutes(app, ctx);
  registerAuditRoutes(app, ctx);
  const objectDeps = { lockOwnership: dbLockOwnership(ctx), onBytesStored: (bytes: number) => ctx.metrics.addStoredBytes(bytes) };
  registerVaultObjectRoutes(app, { ...objectDeps, objectProvenance: dbObjectProvenance(ctx), resolveVault: resolveVaultForObjects, onRemove: auditObjectRemoval });
  registerImportObjectRoutes(app, objectDeps);
  registerPortalLinkRoutes(app, ctx);
  registerPortalRoutes(app, ctx, { apiRoutes: [...routes], throttle: authThrottle });
  return { app, ctx, routes };
}

/** The back end for each location scheme; the only place in the service that names one. */
class ObjectStores {
  readonly #azure: AzureAccounts;
  readonly #s3: S3Endpoint;

  constructor(env: NodeJS.ProcessEnv) {
    this.#azure = new AzureAccounts({ env });
    this.#s3 = new S3Endpoint({ env });
  }

  /** A UserError when the environment has no credentials for an object store's location. */
  open(location: BackendLocation): Storage {
    switch (location.scheme) {
      case 'fs':
        return new FsStorage(location.path);
      case 'azure':
        return this.#azure.storage(location);
      case 's3':
        return this.#s3.storage(location);
    }
  }

  /**
   * Server-side copy between two locations: every filesystem location can copy to every other (a reflink or
   * kernel copy), Azure locations within one storage account (Copy Blob From URL), and any two S3 locations
   * (CopyObject: the service reaches one S3 endpoint); null otherwise.
   */
  copier(source: BackendLocation, target: BackendLocation): ObjectCopier | null {
    if (source.scheme === 'fs' && target.scheme === 'fs') return new FsObjectCopier(source.path, target.path);
    if (source.scheme === 'azure' && target.scheme === 'azure') return this.#azure.copier(source, target);
    if (source.scheme === 's3' && target.scheme === 's3') return this.#s3.copier(source, target);
    return null;
  }
}
