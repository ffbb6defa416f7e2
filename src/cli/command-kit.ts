import type { Command } from 'commander';

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

/** commander option parser for repeatable options. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
