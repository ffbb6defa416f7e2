import { Command, CommanderError } from 'commander';
import type { Runner } from './command-kit.js';
import { FerryError, InterruptedError, UserError } from '../core/errors.js';
import { setMmapThreshold } from '../engine/os/posix-extras.js';
import { applyGcMarking, gcMarkingFor } from './gc-marking.js';
import { capYoungGeneration, youngGenerationCap } from './young-generation.js';
import { processContext, type CliContext } from './context.js';
import { FERRY_VERSION } from './version.js';
import { Interruption, outputSettled, STOP_EXIT_CODES } from './interruption.js';
import { registerBasics, registerDiff, registerForget, registerPrune, registerRepair, registerStats, registerUnlock } from './program/repository-commands.js';
import { registerAudit, registerDatacenter, registerJob, registerServe, registerStorageAccount, registerTenant, registerToken, registerVault } from './program/service-commands.js';
import { registerAgent, registerDemo, registerDiskprep, registerRegister, registerSchedule, registerSeed } from './program/agent-commands.js';

/**
 * Builds the command tree; each action stores the exit code it returns. Building it loads only the command
 * line (program/); a command's implementation is loaded when it runs.
 */
export function buildProgram(ctx: CliContext, setExit: (code: number) => void): Command {
  const program = new Command('ferry')
    .description('Deduplicated, encrypted backups with offline seeding')
    .version(FERRY_VERSION)
    .showHelpAfterError('(run ferry --help for usage)')
    .option('--ca-cert <FILE>', "trust only this PEM file's CA certificates for the Ferry service's TLS (or FERRY_CA_CERT)")
    .configureHelp({ showGlobalOptions: true })
    .exitOverride();
  // Global options may stand anywhere on the command line; commands read them from the context.
  program.hook('preAction', (_program, action) => {
    const { caCert } = program.opts<{ caCert?: string }>();
    if (caCert !== undefined) ctx.globalOptions.caCert = caCert;
    applyGcMarking(gcMarkingFor(ctx.env));
    const youngCap = youngGenerationCap(topLevelName(action), ctx.env);
    if (youngCap !== undefined) capYoungGeneration(youngCap);
  });
  const run: Runner = (action) => action.then(setExit);

  registerBasics(program, ctx, run);
  registerDiff(program, ctx, run);
  registerStats(program, ctx, run);
  registerForget(program, ctx, run);
  registerPrune(program, ctx, run);
  registerUnlock(program, ctx, run);
  registerRepair(program, ctx, run);
  registerServe(program, ctx, run);
  registerRegister(program, ctx, run);
  registerSchedule(program, ctx, run);
  registerAgent(program, ctx, run);
  registerSeed(program, ctx, run);
  registerToken(program, ctx, run);
  registerAudit(program, ctx, run);
  registerTenant(program, ctx, run);
  registerStorageAccount(program, ctx, run);
  registerVault(program, ctx, run);
  registerJob(program, ctx, run);
  registerDiskprep(program, ctx, run);
  registerDemo(program, ctx, run);
  registerDatacenter(program, ctx, run);
  return program;
}

/**
 * Entry point of bin/ferry: runs one command and exits with the CLI contract's code. `early` are the
 * signals bin/ferry caught while this module loaded.
 *
 * SIGINT, SIGTERM or a closed stdout abort `ctx.signal` (see {@link Interruption}); the command stops at
 * its next step, its lock is released, and the process exits 130 (SIGINT), 143 (SIGTERM) with one line on
 * stderr, or 141 quietly (closed stdout). A command that had finished its work when the signal came keeps
 * its own exit code.
 */
export async function main(argv: string[], early: readonly string[] = []): Promise<void> {
  keepAllocatorLean();
  const interruption = new Interruption(process).install();
  for (const name of early) if (name === 'SIGINT' || name === 'SIGTERM') interruption.stop(name);
  const ctx = processContext(interruption.signal);
  let exitCode = 0;
  // Stopped before it started counts as stopped before finishing.
  let failed = interruption.signal.aborted;
  try {
    if (!failed) await buildProgram(ctx, (code) => (exitCode = code)).parseAsync(argv);
  } catch (err) {
    failed = true;
    // Whatever the command threw once told to stop (an aborted read, a closed storage) is the stop itself.
    if (interruption.cause === undefined) exitCode = report(ctx, err);
  }
  await outputSettled(ctx.stdout);
  const cause = interruption.cause;
  if (cause !== undefined && (failed || cause === 'EPIPE')) {
    exitCode = STOP_EXIT_CODES[cause];
    if (cause !== 'EPIPE') ctx.stderr.write(`ferry: interrupted by ${cause}; the command stopped before finishing\n`);
  }
  for (const cleanup of ctx.cleanups) {
    await cleanup().catch((err: unknown) => ctx.stderr.write(`ferry: cleanup failed: ${(err as Error).message}\n`));
  }
  if (cause !== undefined) {
    // Work the command left running (a scan of the sources, worker threads) must not hold the exit up.
    process.exit(exitCode);
  }
  process.exitCode = exitCode;
}

/** The first word of the command `action` belongs to (`datacenter` for `ferry datacenter ingest`). */
function topLevelName(action: Command): string | undefined {
  let command = action;
  while (command.parent?.parent) command = command.parent;
  return command.parent ? command.name() : undefined;
}

/** See setMmapThreshold: large buffers go back to the system when freed. */
function keepAllocatorLean(): void {
  try {
    setMmapThreshold(MMAP_THRESHOLD);
  } catch {
    // The addon is missing: only the commands that need it fail, each with its own message.
  }
}

const MMAP_THRESHOLD = 1024 * 1024;

function report(ctx: CliContext, err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 1;
  if (err instanceof InterruptedError) {
    ctx.stderr.write(`ferry: ${err.message}\n`);
    return 130;
  }
  if (err instanceof UserError) {
    ctx.stderr.write(`ferry: ${err.message}\n`);
    return err.exitCode;
  }
  if (err instanceof FerryError) {
    ctx.stderr.write(`ferry: ${err.message}\n`);
    return err.exitCode;
  }
  ctx.stderr.write(`ferry: unexpected error (a bug; please report it):\n${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
}
