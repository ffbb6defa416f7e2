import type { Id } from '../core/ids.js';
import { shortId } from '../core/ids.js';
import { displayPath } from '../engine/fs/byte-path.js';
import type { UnreadableTree } from '../engine/inspect/tree-source.js';
import type { BlobType } from '../engine/pack/pack-format.js';
import type { CliContext } from './context.js';

export interface ReadProblemReporter {
  readonly unreadableTree: (problem: UnreadableTree) => void;
  readonly unindexedBlob: (type: BlobType, id: Id) => void;
  /** How many problems were named so far: a command that met any exits 3 (its result is incomplete). */
  count(): number;
}

/**
 * Names on stderr, one line each, what a reading command (diff, stats) had to leave out: a folder whose
 * tree cannot be read, a blob the index does not list. `what` says what the command does with the
 * rest (`compared`, `counted`). The remedy is `ferry check`, which says what is damaged and what to do.
 */
export function readProblemReporter(ctx: CliContext, what: string): ReadProblemReporter {
  let count = 0;
  return {
    unreadableTree: ({ path, error }) => {
      count++;
      ctx.stderr.write(`warning: folder ${displayPath(path)} cannot be read (${error.message}): what it holds is not ${what}; \`ferry check\` says what is damaged and what to do\n`);
    },
    unindexedBlob: (type, id) => {
      count++;
      ctx.stderr.write(`warning: ${type} blob ${shortId(id)} is in no readable index file, so its size is not ${what}; \`ferry check\` says what to do\n`);
    },
    count: () => count,
  };
}
