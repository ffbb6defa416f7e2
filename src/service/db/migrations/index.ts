import type { Migration, MigrationProvider } from 'kysely';
import * as initial from './0001-initial.js';
import * as agentSchedules from './0002-agent-schedules.js';
import * as importJobs from './0003-import-jobs.js';
import * as importIngest from './0004-import-ingest.js';
import * as auditLog from './0008-audit-log.js';
import * as namesAndSecrets from './0006-names-and-secrets.js';
import * as objectProvenance from './0005-object-provenance.js';
import * as tokenLifecycle from './0007-token-lifecycle.js';
import * as portalSessions from './0009-portal-sessions.js';
import * as instanceSafety from './0010-instance-safety.js';
import * as sharedWork from './0011-shared-work.js';

/**
 * Every migration, in order. Names sort in the order they apply; a released migration is never edited:
 * a schema change is a new module added here (and reflected in ../schema.ts).
 */
const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001-initial': initial,
  '0002-agent-schedules': agentSchedules,
  '0003-import-jobs': importJobs,
  '0004-import-ingest': importIngest,
  '0005-object-provenance': objectProvenance,
  '0006-names-and-secrets': namesAndSecrets,
  '0007-token-lifecycle': tokenLifecycle,
  '0008-audit-log': auditLog,
  '0009-portal-sessions': portalSessions,
  '0010-instance-safety': instanceSafety,
  '0011-shared-work': sharedWork,
};

/** kysely's Migrator reads the list from here instead of the filesystem, so it works from dist/ and tsx alike. */
export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve({ ...MIGRATIONS }),
};

/** The name of the newest migration: a database migrated to it matches ../schema.ts. */
export const LATEST_MIGRATION = Object.keys(MIGRATIONS).sort().at(-1) ?? '';
