/**
 * The audit log's vocabulary (docs/service.md, "Audit log"): what the service records, what the API
 * filters on and what `ferry audit list` offers, defined once. The log itself is src/service/audit.
 */
/** Every act the log records. */
export const AUDIT_ACTIONS = [
  'token.create',
  'token.revoke',
  'tenant.create',
  'storage-account.create',
  'vault.create',
  'vault.credentials',
  'schedule.set',
  'retention.forget',
  'object.remove',
  'disk-key.release',
  'disk-key.destroy',
  'adoption.request',
  'adoption.finish',
  'job.cancel',
  'job.close',
  'job.delete',
  'portal.sign-in',
  'portal.sign-out',
  'portal.session-end',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** `ok`: it happened; `refused`: the rules or the caller's rights said no; `failed`: it broke part-way. */
export const AUDIT_OUTCOMES = ['ok', 'refused', 'failed'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** What an act was done to. */
export const AUDIT_TARGET_TYPES = ['token', 'tenant', 'storage-account', 'vault', 'registration-code', 'machine', 'import-job'] as const;
export type AuditTargetType = (typeof AUDIT_TARGET_TYPES)[number];
