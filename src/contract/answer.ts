/** Reading the service's answers through the contract's schemas: an answer of the wrong shape is one clear error, never a crash later. */
import type { z } from 'zod';
import { UnexpectedAnswerError } from '../core/errors.js';

/** The longest part of a zod message quoted in the error line. */
const MAX_DETAIL = 160;

/**
 * `value` (a parsed JSON answer) as `schema` reads it, or `UnexpectedAnswerError` with one line naming the
 * answer (`what`, e.g. `GET /v1/import-jobs/… from the service at http://…`), the first field that is
 * wrong and what to do. Fields the schema does not know are dropped, not refused.
 */
export function parseAnswer<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue === undefined || issue.path.length === 0 ? 'the answer' : issue.path.map(String).join('.');
  const detail = (issue?.message ?? 'not the expected shape').replace(/\s+/g, ' ');
  const more = result.error.issues.length > 1 ? ` (and ${result.error.issues.length - 1} more)` : '';
  throw new UnexpectedAnswerError(
    `the answer to ${what} is not what this version of Ferry reads: ${where}: ${detail.length > MAX_DETAIL ? `${detail.slice(0, MAX_DETAIL - 1)}…` : detail}${more}; the service and this ferry are probably different versions: run the same Ferry version on both (ferry --version)`,
  );
}
