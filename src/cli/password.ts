import { readFile } from 'node:fs/promises';
import { InterruptedError, UserError } from '../core/errors.js';

export interface PasswordSources {
  readonly passwordFile?: string;
  readonly env: NodeJS.ProcessEnv;
  readonly stdin: NodeJS.ReadStream;
  readonly stderr: NodeJS.WriteStream;
}

/**
 * The repository password from `--password-file`, then `FERRY_PASSWORD`, then a prompt without echo
 * when stdin is a terminal. UserError when none is available or it is empty.
 */
export async function readPassword(sources: PasswordSources, confirm = false): Promise<string> {
  let password: string | undefined;
  if (sources.passwordFile) {
    try {
      password = (await readFile(sources.passwordFile, 'utf8')).replace(/\r?\n$/, '');
    } catch (err) {
      throw new UserError(`cannot read the password file ${sources.passwordFile}: ${(err as Error).message}`);
    }
  } else if (sources.env.FERRY_PASSWORD !== undefined) {
    password = sources.env.FERRY_PASSWORD;
  } else if (sources.stdin.isTTY) {
    password = await prompt(sources, 'Repository password: ');
    if (confirm && (await prompt(sources, 'Repeat the password: ')) !== password) throw new UserError('the passwords do not match; try again');
  } else {
    throw new UserError('no password: set FERRY_PASSWORD or pass --password-file FILE');
  }
  if (password.length === 0) throw new UserError('the password is empty: set a non-empty FERRY_PASSWORD or password file');
  return password;
}

function prompt(sources: PasswordSources, question: string): Promise<string> {
  const { stdin, stderr } = sources;
  stderr.write(question);
  return new Promise((resolve, reject) => {
    let typed = '';
    stdin.setRawMode(true);
    stdin.resume();
    const onData = (data: Buffer): void => {
      for (const ch of data.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          finish();
          resolve(typed);
          return;
        }
        if (ch === '\u0003') {
          finish();
          reject(new InterruptedError('interrupted at the password prompt'));
          return;
        }
        if (ch === '\u007f') typed = typed.slice(0, -1);
        else typed += ch;
      }
    };
    const finish = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      stderr.write('\n');
    };
    stdin.on('data', onData);
  });
}
