/**
 * The audit log: one record per privileged act (docs/service.md, "Audit log"). An act that changes the
 * database records itself in the same transaction (pass the transaction as `deps.db`), so the record exists
 * exactly when the act happened; an act outside the database (removing objects from a vault) records after
 * it is done. Refusals and failures worth knowing about are recorded separately, with outcome `refused` or
 * `failed` (see {@link auditFailure}).
 */
import type { Clock } from '../../core/clock.js';
import { AlreadyExistsError, ConflictError, NotFoundError, UserError } from '../../core/errors.js';
import type { RandomSource } from '../../core/random.js';
import type { ServiceDatabase } from '../db/database.js';
import { isoTime, newRecordId } from '../ids.js';
import type { AuditAction, AuditOutcome, AuditTargetType } from '../../contract/audit-vocabulary.js';

/** A short JSON object: ids, keys, counts, a message. */
export type AuditDetail = Readonly<Record<string, string | number | boolean | null | string[]>>;

/** One act, as its caller describes it. */
export interface AuditEvent {
  /** `<role>:<token id>` (auth/principal.ts `actorOf`), `service:<task>`, or `registration:<code id>`. */
  readonly actor: string;
  /** The tenant the act belongs to (its tenant-admins see it), or null for service-wide acts. */
  readonly tenantId: string | null;
  readonly action: AuditAction;
  /** `id` is null when the act was refused before its target existed. */
  readonly target: { readonly type: AuditTargetType; readonly id: string | null };
  /** Default `ok`. */
  readonly outcome?: AuditOutcome;
  readonly detail?: AuditDetail;
}

/** A record as the API shows it. */
export interface AuditRecord {
  readonly id: string;
  readonly at: string;
  readonly actor: string;
  readonly tenantId: string | null;
  readonly action: AuditAction;
  readonly target: { readonly type: AuditTargetType; readonly id: string | null };
  readonly outcome: AuditOutcome;
  readonly detail: AuditDetail;
}

/** What recording needs: the database (the act's transaction, when it has one), the clock and randomness. */
export interface AuditDeps {
  readonly db: ServiceDatabase;
  readonly clock: Clock;
  readonly random: RandomSource;
}

/** Strings in a record's detail are cut to this length (error messages can be long). */
export const MAX_DETAIL_STRING = 500;

/**
 * Records `event` at `clock.now()` through `deps.db`. Run inside the act's transaction, the record is
 * written or rolled back with the act; a failing insert fails the act (the log is never silently short).
 */
export async function recordAudit(deps: AuditDeps, event: AuditEvent): Promise<void> {
  await deps.db
    .insertInto('audit_records')
    .values({
      id: newRecordId(deps.random),
      created_at: isoTime(deps.clock.now()),
      actor: event.actor,
      tenant_id: event.tenantId,
      action: event.action,
      target_type: event.target.type,
      target_id: event.target.id,
      outcome: event.outcome ?? 'ok',
      detail: JSON.stringify(shortened(event.detail ?? {})),
    })
    .execute();
}

/**
 * For `.catch()` after an act that can be refused or fail: records `event` with outcome `refused` (a typed
 * refusal: bad request, rights, rules, conflict, not found) or `failed` (anything else) and the error's
 * message in `detail.error`, then throws the error on. When recording itself fails, that error is thrown
 * with the act's error as its cause.
 */
export function auditFailure(deps: AuditDeps, event: Omit<AuditEvent, 'outcome'>): (err: unknown) => Promise<never> {
  return async (err: unknown) => {
    const outcome = isRefusal(err) ? 'refused' : 'failed';
    const error = err instanceof Error ? err.message : String(err);
    try {
      await recordAudit(deps, { ...event, outcome, detail: { ...event.detail, error } });
    } catch (recordError) {
      throw new Error(`recording the ${outcome} ${event.action} in the audit log failed: ${(recordError as Error).message}`, { cause: err });
    }
    throw err;
  };
}

/** True for the typed errors that mean "not allowed" rather than "broke". */
export function isRefusal(err: unknown): boolean {
  return err instanceof UserError || err instanceof ConflictError || err instanceof NotFoundError || err instanceof AlreadyExistsError;
}

function shortened(detail: AuditDetail): AuditDetail {
  const cut = (s: string): string => (s.length > MAX_DETAIL_STRING ? `${s.slice(0, MAX_DETAIL_STRING - 1)}…` : s);
  return Object.fromEntries(Object.entries(detail).map(([k, v]) => [k, typeof v === 'string' ? cut(v) : v]));
}
