/** The audit events of acts recorded from several places, built one way (see audit-log.ts). */
import type { TokenRecord } from '../auth/token-store.js';
import type { JobRecord } from '../jobs/job-records.js';
import type { JobAction } from '../jobs/job-machine.js';
import type { AuditAction } from '../../contract/audit-vocabulary.js';
import type { AuditDetail, AuditEvent } from './audit-log.js';

/** A token was issued: by a caller (`POST /v1/tokens`), a registration (agent), an import job (job) or the first start (admin). */
export function tokenCreated(actor: string, token: TokenRecord, detail: AuditDetail = {}): AuditEvent {
  return { actor, tenantId: token.tenantId, action: 'token.create', target: { type: 'token', id: token.id }, detail: { role: token.role, expiresAt: token.expiresAt, ...scopeOf(token), ...detail } };
}

/** A token was revoked (only the call that revoked it records this; repeating the revocation records nothing). */
export function tokenRevoked(actor: string, token: TokenRecord): AuditEvent {
  return { actor, tenantId: token.tenantId, action: 'token.revoke', target: { type: 'token', id: token.id }, detail: { role: token.role, ...scopeOf(token) } };
}

/** Job actions that are privileged acts, and the audit action each is recorded as. */
const JOB_ACTS: Partial<Record<JobAction['kind'], AuditAction>> = {
  cancel: 'job.cancel',
  expire: 'job.delete',
  close: 'job.close',
  releaseDiskKey: 'disk-key.release',
  requestAdoption: 'adoption.request',
  adopt: 'adoption.finish',
  failAdoption: 'adoption.finish',
};

/**
 * The audit event of a job action that changed job `job` (as read before the change), or undefined when
 * the action is not a privileged act (shipping, ingest progress, …: the job's timeline has those).
 */
export function jobActionEvent(job: Pick<JobRecord, 'id' | 'name' | 'tenantId' | 'vaultId' | 'state'>, action: JobAction, actor: string): AuditEvent | undefined {
  const audited = JOB_ACTS[action.kind];
  if (audited === undefined) return undefined;
  const base = { name: job.name, vaultId: job.vaultId, stateBefore: job.state };
  const event = { actor, tenantId: job.tenantId, action: audited, target: { type: 'import-job', id: job.id } } as const;
  switch (action.kind) {
    case 'releaseDiskKey':
      return { ...event, detail: { ...base, diskIndex: action.index, diskId: action.diskId } };
    case 'requestAdoption':
      return { ...event, detail: { ...base, excluded: action.exclude.length } };
    case 'adopt':
      return { ...event, detail: { ...base, objects: action.objects, bytes: action.bytes, copy: action.serverSideCopy ? 'server-side' : 'streamed' } };
    case 'failAdoption':
      return { ...event, outcome: 'failed', detail: { ...base, error: action.reason } };
    default:
      return { ...event, detail: base };
  }
}

function scopeOf(token: TokenRecord): AuditDetail {
  return {
    ...(token.machineId !== null ? { machineId: token.machineId } : {}),
    ...(token.vaultId !== null ? { vaultId: token.vaultId } : {}),
    ...(token.jobId !== null ? { jobId: token.jobId } : {}),
  };
}
