import { AuthenticationError } from '../../core/errors.js';

/**
 * Why a known token is refused (401), each with its own `code` so that clients can say what to do (the
 * agent: register again; the copy computer: the job has ended). A missing, malformed or unknown token is a
 * plain `AuthenticationError` (`UNAUTHENTICATED`).
 */

/** The token's expiry has passed. */
export class TokenExpiredError extends AuthenticationError {
  override readonly code = 'TOKEN_EXPIRED';
}

/** An admin or tenant-admin revoked the token. */
export class TokenRevokedError extends AuthenticationError {
  override readonly code = 'TOKEN_REVOKED';
}

/** An agent token replaced by its renewal (the agent keeps the new one in its agent.json). */
export class TokenRenewedError extends AuthenticationError {
  override readonly code = 'TOKEN_RENEWED';
}

/** A job token whose import job was Closed, Cancelled, Deleted or Failed. */
export class JobEndedError extends AuthenticationError {
  override readonly code = 'JOB_ENDED';
}
