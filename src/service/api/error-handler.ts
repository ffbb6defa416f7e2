import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  AlreadyExistsError,
  AuthenticationError,
  ConflictError,
  FerryError,
  ForbiddenError,
  IntegrityError,
  NotFoundError,
  PermanentError,
  UnavailableError,
  UserError,
} from '../../core/errors.js';
import { isUnstorableText } from '../db/constraint-errors.js';
import { errorPage } from '../portal/pages/sign-in-pages.js';
import { TooManyFailedAuthenticationsError } from './auth-throttle.js';

/** The JSON body of every error the API answers. */
export interface ApiErrorBody {
  readonly code: string;
  readonly message: string;
}

/** HTTP status for each typed error; the most specific class is listed first. */
const STATUS_BY_ERROR: ReadonlyArray<readonly [abstract new (...args: never[]) => FerryError, number]> = [
  [AuthenticationError, 401],
  [ForbiddenError, 403],
  [NotFoundError, 404],
  [AlreadyExistsError, 409],
  [ConflictError, 409],
  [IntegrityError, 422],
  [UserError, 400],
  [PermanentError, 507],
  [UnavailableError, 503],
];

/** Maps an error to the status and body the client sees; unknown errors become a bare 500. */
export function toApiError(error: unknown): { status: number; body: ApiErrorBody } {
  if (error instanceof FerryError) {
    const status = STATUS_BY_ERROR.find(([type]) => error instanceof type)?.[1] ?? 500;
    // The store behind the service is down: the client may retry; where the store is stays the service's business.
    if (status === 503) return { status, body: { code: error.code, message: 'the storage behind the service is unavailable; try again later' } };
    if (status !== 500) return { status, body: { code: error.code, message: error.message } };
  }
  // Text PostgreSQL cannot hold (a NUL character) in a value the schemas let through: the request's fault.
  if (isUnstorableText(error)) return { status: 400, body: { code: 'INVALID_TEXT', message: 'the request holds text that cannot be stored (a NUL character)' } };
  const fastifyError = error as Partial<FastifyError>;
  if (fastifyError.validation !== undefined) {
    return { status: 400, body: { code: 'INVALID_REQUEST', message: fastifyError.message ?? 'invalid request' } };
  }
  const status = fastifyError.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return { status, body: { code: fastifyError.code ?? 'BAD_REQUEST', message: fastifyError.message ?? 'bad request' } };
  }
  return { status: 500, body: { code: 'INTERNAL', message: 'internal error; the service log has the details' } };
}

/**
 * Installs the API's one error handler: typed errors map to statuses with a `{code, message}` body, and only
 * unexpected errors (status 500) are logged with their stack. Also answers unknown routes with 404.
 */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const { status, body } = toApiError(error);
    if (status === 500 || status === 503) request.log.error({ err: error }, 'request failed');
    if (error instanceof TooManyFailedAuthenticationsError) reply.header('retry-after', String(error.retryAfterSeconds));
    // A portal page answers errors as pages; a page that needs a session sends the browser to sign in.
    const portal = request.routeOptions.config?.portal;
    if (portal === 'page' || portal === 'csv') {
      if (status === 401 && request.method === 'GET') return reply.redirect('/sign-in', 303);
      return reply.status(status).type('text/html; charset=utf-8').send(errorPage(status, body.message).text);
    }
    return reply.status(status).send(body);
  });
  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) =>
    reply.status(404).send({ code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` }),
  );
}
