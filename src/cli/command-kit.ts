import { InvalidArgumentError, type Command } from 'commander';

/** Reports a command's exit code to main; every action returns its promise through it. */
export type Runner = (action: Promise<number>) => Promise<void>;

/** Adds a command with the options every repository command shares: -r, --password-file, --json. */
export function repoCommand(program: Command, name: string, description: string): Command {
  return program
    .command(name)
    .description(description)
    .option('-r, --repo <REPO>', 'repository location (or FERRY_REPOSITORY)')
    .option('--password-file <FILE>', 'read the password from FILE (or FERRY_PASSWORD)')
    .option('--json', 'machine-readable output');
}

/**
 * Adds `--no-lock` to a command that only reads the repository (snapshots, ls, restore, check without
 * repairs, …): it then writes no lock, so it works on a read-only repository. The command sees
 * `options.lock === false`; `openLockedRepository` honours it for shared locks only.
 */
export function noLockOption(command: Command): Command {
  return command.option('--no-lock', 'do not lock the repository (to read a read-only one; nothing may change it meanwhile)');
}

/** commander option parser for repeatable options. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** commander option parser for a postal address: 1–1000 characters, `\n` in it standing for a line break. */
export function parseAddress(value: string): string {
  const text = value.replace(/\\n/g, '\n').trim();
  if (text === '' || text.length > 1000) throw new InvalidArgumentError('expected the address as text of 1 to 1000 characters (\\n for a line break)');
  return text;
}

/** Adds a command that talks to the service, with the options every such command shares: --server, --token, --json. */
export function serviceCommand(parent: Command, name: string, description: string): Command {
  return parent
    .command(name)
    .description(description)
    .option('--server <URL>', 'the Ferry service (or FERRY_SERVER)')
    .option('--token <TOKEN>', 'the token to use (or FERRY_TOKEN; prefer the variable: arguments show in process lists)')
    .option('--json', 'machine-readable output');
}
