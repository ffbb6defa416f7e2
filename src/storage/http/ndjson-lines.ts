import { PermanentError } from '../../core/errors.js';

/** A listing line is one key (at most 1024 characters) and a size; anything far longer is not a listing. */
const MAX_LINE = 16 * 1024;

/**
 * The lines of a newline-delimited body, decoded as UTF-8, as they arrive (empty lines skipped). A trailing
 * piece without its newline is yielded too, so a reader can tell a cut listing by its missing last line.
 * Stopping the iteration early cancels the body.
 */
export async function* lines(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let pending = '';
  for await (const chunk of body) {
    pending += decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let newline = pending.indexOf('\n'); newline >= 0; newline = pending.indexOf('\n', start)) {
      const line = pending.slice(start, newline);
      start = newline + 1;
      if (line.length > 0) yield line;
    }
    pending = pending.slice(start);
    if (pending.length > MAX_LINE) throw new PermanentError(`a listing line is longer than ${MAX_LINE} characters`);
  }
  pending += decoder.decode();
  if (pending.length > 0) yield pending;
}
