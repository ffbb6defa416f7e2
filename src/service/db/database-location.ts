import { UserError } from '../../core/errors.js';

// Kept apart from ./database.ts so that the CLI can parse `--database` without loading the drivers.

/**
 * Where the service database lives: the embedded SQLite file (the default, DATA_DIR/ferry.sqlite) or a
 * PostgreSQL database that several service instances can share (`--database postgres://…`).
 */
export type DatabaseLocation = { readonly kind: 'sqlite'; readonly path: string } | { readonly kind: 'postgres'; readonly url: string };

/** Parses `--database`: a `postgres://` or `postgresql://` URL; anything else is a `UserError`. */
export function parseDatabaseUrl(value: string): DatabaseLocation {
  if (/^postgres(ql)?:\/\//.test(value)) return { kind: 'postgres', url: value };
  throw new UserError('--database takes a PostgreSQL URL (postgres://USER@HOST:PORT/DATABASE); without it the service uses DATA_DIR/ferry.sqlite');
}
