import { createInterface } from 'node:readline';
import { InterruptedError } from '../core/errors.js';
import type { CliContext } from './context.js';

/** One line typed on the terminal (the question on stderr); undefined when input ends. Ctrl-C interrupts. */
export function askLine(ctx: CliContext, question: string): Promise<string | undefined> {
  const rl = createInterface({ input: ctx.stdin, output: ctx.stderr, terminal: true });
  return new Promise<string | undefined>((resolve, reject) => {
    rl.on('SIGINT', () => reject(new InterruptedError('interrupted at a question')));
    rl.on('close', () => resolve(undefined));
    rl.question(question, (answer) => resolve(answer));
  }).finally(() => rl.close());
}
