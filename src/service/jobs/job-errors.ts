import { ConflictError, UserError } from '../../core/errors.js';

/**
 * The import job rules' errors. Each leaves the job exactly as it was; the API answers the conflicts with
 * 409 and the limits with 400, always with the `code` below (docs/service.md, "Import jobs").
 */

/** The action is not allowed in the job's state, or its preconditions do not hold (e.g. disks missing). */
export class IllegalTransitionError extends ConflictError {
  override readonly code = 'ILLEGAL_TRANSITION';
}

/** Another import job already has this tracking number (compared ignoring case and spaces). */
export class TrackingNumberInUseError extends ConflictError {
  override readonly code = 'TRACKING_NUMBER_IN_USE';
}

/** The tracking deadline passed without carrier and tracking number: the job is (or is about to be) Deleted. */
export class JobExpiredError extends ConflictError {
  override readonly code = 'JOB_EXPIRED';
}

/** The vault already has an open import job (a pending offline seed). */
export class SeedPendingError extends ConflictError {
  override readonly code = 'SEED_PENDING';
}

/** A disk beyond the service's limits: too many disks for one job, or too many bytes on one disk. */
export class JobLimitError extends UserError {
  override readonly code = 'JOB_LIMIT_EXCEEDED';
}

/** The disk presented is not the disk the job registered at that index (another disk, or an index the job does not have). */
export class DiskIdMismatchError extends ConflictError {
  override readonly code = 'DISK_ID_MISMATCH';
}

/** The manifest read from a disk does not have the SHA-256 registered for it: it was changed or damaged. */
export class ManifestMismatchError extends ConflictError {
  override readonly code = 'MANIFEST_MISMATCH';
}

/** An adoption is running with another set of excluded keys: wait for it to end (Done or Failed). */
export class AdoptionRunningError extends ConflictError {
  override readonly code = 'ADOPTION_RUNNING';
}
