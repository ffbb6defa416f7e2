import { UserError } from '../../core/errors.js';

/** How many problems the message names; the rest are counted. `problems` keeps them all. */
const NAMED_PROBLEMS = 5;

/**
 * Prune found the repository damaged (a missing or wrong-size pack, an unreadable index file, a blob a
 * snapshot needs that no index lists) and stopped before deleting anything: with an incomplete index
 * it would take live data for garbage. Exit code 1, like any `UserError`.
 */
export class PruneRefusedError extends UserError {
  override readonly code = 'PRUNE_REFUSED';

  /** `remedy` replaces the default advice (check, then repair the index) when the problems call for another one. */
  constructor(
    readonly problems: readonly string[],
    options?: { cause?: unknown; remedy?: string },
  ) {
    const named = problems.slice(0, NAMED_PROBLEMS).join('; ');
    const more = problems.length > NAMED_PROBLEMS ? ` (and ${problems.length - NAMED_PROBLEMS} more)` : '';
    const remedy = options?.remedy ?? 'Run `ferry check` to see the damage and `ferry repair index` to rebuild the index, then prune again';
    super(`prune refused, nothing was deleted: ${named}${more}. ${remedy}`, options);
  }
}
