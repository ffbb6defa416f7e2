import { z } from 'zod';
import type { ServiceContext } from '../context.js';
import { BACKUP_RUN_STATUSES, BACKUP_RUN_TRIGGERS, MAX_ERROR_LENGTH, MAX_REPORTED_ERRORS, listBackupRuns, reportBackupRun } from '../resources/backup-runs.js';
import type { ApiApp } from './api-app.js';
import { principalOf } from './route-access.js';
import { RecordId, Timestamp, VaultParams } from './schemas.js';

const Count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

const BackupRunReport = z.strictObject({
  startedAt: Timestamp,
  finishedAt: Timestamp,
  status: z.enum(BACKUP_RUN_STATUSES),
  snapshotId: z.string().regex(/^[0-9a-f]{64}$/, 'a snapshot id is 64 lowercase hex digits').nullable().default(null),
  filesProcessed: Count,
  bytesRead: Count,
  bytesAdded: Count,
  errorCount: Count.default(0),
  errors: z.array(z.string().max(MAX_ERROR_LENGTH)).max(MAX_REPORTED_ERRORS).default([]),
  trigger: z.enum(BACKUP_RUN_TRIGGERS).default('manual'),
});

const BackupRun = z.object({
  id: RecordId,
  vaultId: RecordId,
  machineId: RecordId,
  recordedAt: Timestamp,
  startedAt: Timestamp,
  finishedAt: Timestamp,
  status: z.enum(BACKUP_RUN_STATUSES),
  snapshotId: z.string().nullable(),
  filesProcessed: z.number(),
  bytesRead: z.number(),
  bytesAdded: z.number(),
  errorCount: z.number(),
  errors: z.array(z.string()),
  trigger: z.enum(BACKUP_RUN_TRIGGERS),
  forgottenAt: Timestamp.nullable(),
});

/** Backup runs: an agent reports each run of its vault; admins and tenant-admins list them. */
export function registerBackupRunRoutes(app: ApiApp, ctx: ServiceContext): void {
  app.route({
    method: 'POST',
    url: '/v1/vaults/:vaultId/backup-runs',
    config: { access: ['agent'], summary: "Report a finished backup run (the agent token's own vault)" },
    schema: { params: VaultParams, body: BackupRunReport, response: { 201: BackupRun } },
    handler: async (request, reply) => reply.status(201).send(await reportBackupRun(ctx, principalOf(request), request.params.vaultId, request.body)),
  });
  app.route({
    method: 'GET',
    url: '/v1/vaults/:vaultId/backup-runs',
    config: { access: ['admin', 'tenant-admin'], summary: "List a vault's backup runs, newest first" },
    schema: {
      params: VaultParams,
      querystring: z.strictObject({ limit: z.coerce.number().int().min(1).max(500).default(100) }),
      response: { 200: z.object({ backupRuns: z.array(BackupRun) }) },
    },
    handler: async (request) => ({ backupRuns: await listBackupRuns(ctx, principalOf(request), request.params.vaultId, request.query.limit) }),
  });
}
