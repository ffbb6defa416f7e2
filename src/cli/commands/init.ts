import { readPassword } from '../password.js';
import { Repository } from '../../engine/repository/repository.js';
import { kdfFor, openTargetStorage, repositoryTarget, type CliContext, type RepoOptions } from '../context.js';

export interface InitOptions extends RepoOptions {
  /** zstd level of the new repository's data (its config keeps it); the engine's default when absent. */
  readonly compressionLevel?: number;
}

/** `ferry init`: creates a repository with one key slot for the password. */
export async function initCommand(ctx: CliContext, options: InitOptions): Promise<number> {
  const storage = await openTargetStorage(ctx, await repositoryTarget(ctx, options));
  const password = await readPassword({ passwordFile: options.passwordFile, env: ctx.env, stdin: ctx.stdin, stderr: ctx.stderr }, true);
  const repo = await Repository.init(storage, password, ctx.repoContext, {
    kdf: await kdfFor(ctx),
    ...(options.compressionLevel === undefined ? {} : { compressionLevel: options.compressionLevel }),
  });
  if (options.json) {
    ctx.stdout.write(JSON.stringify({ message_type: 'initialized', id: repo.config.id, repository: storage.properties.location }) + '\n');
  } else {
    ctx.stdout.write(`created ferry repository ${repo.config.id.slice(0, 8)} at ${storage.properties.location}\n`);
    ctx.stdout.write('Keep the password safe: without it the data cannot be restored.\n');
  }
  return 0;
}
