import type { ImportJob } from '../import-job.js';

/** Ids as the service makes them (UUID v4, lowercase), for sample answers. */
export const SAMPLE_JOB_ID = '1b4e28ba-2fa1-4d2f-8c3e-6b1a5f0e9d7c';
export const SAMPLE_DISK_ID = '2c5f39cb-3ab2-4e3a-9d4f-7c2b6a1f0e8d';
export const SAMPLE_AT = '2026-11-25T20:04:12.345Z';

/** A job as the service answers it (valid by the contract): shipped and received, one disk, with `changes` applied. */
export function sampleImportJob(changes: Partial<ImportJob> = {}): ImportJob {
  return {
    id: SAMPLE_JOB_ID,
    name: 'winter-seed',
    tenantId: SAMPLE_JOB_ID,
    vaultId: SAMPLE_JOB_ID,
    storageAccountId: SAMPLE_JOB_ID,
    container: 'seed-1',
    state: 'Received',
    createdAt: SAMPLE_AT,
    preparedAt: SAMPLE_AT,
    trackingDeadline: SAMPLE_AT,
    carrier: 'UPS',
    trackingNumber: '1Z 999',
    returnAddress: 'Acme IT\n1 Main Street',
    shippedAt: SAMPLE_AT,
    receivedAt: SAMPLE_AT,
    disks: [{ id: SAMPLE_DISK_ID, index: 0, state: 'Received', bytes: 10, files: 2, manifestSha256: 'ab'.repeat(32), progress: null }],
    errorCount: 0,
    adoption: null,
    timeline: [{ at: SAMPLE_AT, state: 'Creating', actor: 'agent:x', note: 'created' }],
    ...changes,
  };
}
