import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { UserError } from '../../core/errors.js';

/** This checkout's CLI: the demo drives it as a separate process, exactly as a user would. */
export const FERRY_BIN = fileURLToPath(new URL('../../../bin/ferry', import.meta.url));

/** Who runs a command in the demo: each role has its own credentials, as in real life. */
export type DemoRole = 'admin' | 'agent' | 'copy computer' | 'datacenter';

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
}

/**
 * Runs `ferry` commands for the demo's roles, echoing each as `[role] $ ferry …`. `show` lets the command
 * write to the demo's terminal (progress bars included); `capture` collects stdout (for --json answers)
 * and passes stderr through. A command that fails ends the demo with its exit code named.
 */
export class DemoRunner {
  readonly #env: Record<DemoRole, NodeJS.ProcessEnv>;
  readonly #out: NodeJS.WritableStream;

  constructor(env: Record<DemoRole, NodeJS.ProcessEnv>, out: NodeJS.WritableStream) {
    this.#env = env;
    this.#out = out;
  }

  /** Sets a variable of one role's environment (a token once it exists). */
  setEnv(role: DemoRole, name: string, value: string): void {
    this.#env[role] = { ...this.#env[role], [name]: value };
  }

  async show(role: DemoRole, args: readonly string[]): Promise<void> {
    await this.#run(role, args, 'inherit');
  }

  async capture(role: DemoRole, args: readonly string[]): Promise<string> {
    return (await this.#run(role, args, 'pipe')).stdout;
  }

  /**
   * Starts a long-running command (ferry serve); the caller stops it. With `logFd` its output goes to that
   * file and it runs in its own process group, so it can outlive the demo (`--keep`).
   */
  spawnLongRunning(role: DemoRole, args: readonly string[], logFd?: number): ChildProcess {
    this.#echo(role, args);
    if (logFd !== undefined) return spawn(process.execPath, [FERRY_BIN, ...args], { env: this.#env[role], stdio: ['ignore', logFd, logFd], detached: true });
    return spawn(process.execPath, [FERRY_BIN, ...args], { env: this.#env[role], stdio: ['ignore', 'pipe', 'pipe'] });
  }

  #echo(role: DemoRole, args: readonly string[]): void {
    this.#out.write(`  [${role}] $ ferry ${args.map(quoteForShell).join(' ')}\n`);
  }

  #run(role: DemoRole, args: readonly string[], stdout: 'inherit' | 'pipe'): Promise<CommandResult> {
    this.#echo(role, args);
    const child = spawn(process.execPath, [FERRY_BIN, ...args], { env: this.#env[role], stdio: ['ignore', stdout, 'inherit'] });
    let text = '';
    child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code, signal) => {
        if (code === 0) resolve({ code, stdout: text });
        else reject(new UserError(`the demo stopped: \`ferry ${args[0]} ${args[1] ?? ''}\` ${signal ? `was killed by ${signal}` : `exited with ${code}`} (its message is above)`));
      });
    });
  }
}

function quoteForShell(word: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
