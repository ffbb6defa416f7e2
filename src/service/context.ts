import type { Failpoints } from '../core/failpoints.js';
import type { Clock } from '../core/clock.js';
import type { RandomSource } from '../core/random.js';
import type { Storage } from '../storage/storage.js';
import type { BackendIsolation } from './backend-isolation.js';
import type { BackendLocation, ObjectCopier } from './backend-location.js';
import type { ServiceDatabase } from './db/database.js';
import type { ImportJobSettings } from './jobs/job-settings.js';
import type { ServiceMetrics } from './metrics.js';
import type { ServiceKey } from './secrets/service-key.js';

/**
 * What the service's functions work with, built once by the composition root (server.ts) and shared by
 * every request. Nothing here is per request.
 */
export interface ServiceContext {
  readonly db: ServiceDatabase;
  readonly clock: Clock;
  readonly random: RandomSource;
  /** The `--data-dir`: holds the SQLite database, admin.token and default storage accounts. */
  readonly dataDir: string;
  /** Opens a Storage at a back-end location; the composition root decides which back end serves which scheme. */
  readonly openBackend: (location: BackendLocation) => Storage;
  /** Keeps storage accounts apart from the data directory and each other; every container is opened through it. */
  readonly backends: BackendIsolation;
  /**
   * A copier of objects from `source` to `target` inside their back end (no bytes through the service), or
   * null when the two locations have no such copy (then callers stream). The composition root decides.
   */
  readonly copyWithinBackend: (source: BackendLocation, target: BackendLocation) => ObjectCopier | null;
  readonly metrics: ServiceMetrics;
  /** Seals the secrets the database keeps (escrowed disk keys). */
  readonly serviceKey: ServiceKey;
  /** The import job rules' settings: tracking deadline, shipping address, disk limits. */
  readonly importJobs: ImportJobSettings;
  /** How long the agent tokens of registrations and renewals live (`ferry serve --agent-token-lifetime`). */
  readonly agentTokenLifetimeMs: number;
  /**
   * The SHA-256 fingerprint vault credentials pin (the CA of the service's TLS certificate, or the
   * certificate itself when self-signed; see tls/service-certificate.ts), or null: plain HTTP, or a
   * certificate of a public CA. Read at each use: a SIGHUP reload may change it.
   */
  readonly certificatePin: () => string | null;
  /**
   * The folder disks are mounted under for an ingest on the service's host (`ferry serve --ingest-root`),
   * or null: the service reads no disks itself (resources/service-ingest.ts).
   */
  readonly ingestRoot: string | null;
  /** Test-only fault injection (core/failpoints.ts; `ferry serve` arms FERRY_FAILPOINT); inert otherwise. */
  readonly failpoints: Failpoints;
}
