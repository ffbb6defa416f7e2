import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliContext } from '../context.js';
import { runDemo } from '../demo/demo-flow.js';

export interface DemoCommandOptions {
  readonly keep?: boolean;
}

/** `ferry demo`: exit 0 when every step passed; the folder is removed unless --keep. */
export async function demoCommand(ctx: CliContext, options: DemoCommandOptions): Promise<number> {
  const workDir = await mkdtemp(join(tmpdir(), 'ferry-demo-'));
  ctx.stdout.write(`Ferry demo: offline seeding end to end, in ${workDir}\n`);
  try {
    await runDemo({ workDir, out: ctx.stdout, env: ctx.env, keepService: options.keep === true });
  } finally {
    if (options.keep) ctx.stdout.write(`\nkept ${workDir}\n`);
    else await rm(workDir, { recursive: true, force: true });
  }
  return 0;
}
