import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { Runner } from '../command-kit.js';
import type { CliContext } from '../context.js';
import { runDemo } from '../demo/demo-flow.js';

export interface DemoCommandOptions {
  readonly keep?: boolean;
}

/** Adds `ferry demo [--keep]` (wired in cli/main.ts). */
export function registerDemo(program: Command, ctx: CliContext, run: Runner): void {
  program
    .command('demo')
    .description('run the whole offline-seeding flow on the embedded default in a temporary folder, narrated step by step')
    .option('--keep', 'keep the temporary folder (service data, staging, disks, restore) and leave the service running, to look at it in the portal')
    .action((opts: DemoCommandOptions) => run(demoCommand(ctx, opts)));
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
