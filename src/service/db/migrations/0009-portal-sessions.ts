import type { Kysely } from 'kysely';

/**
 * The portal's sign-ins (see ../schema.ts, `portal_sessions` and `portal_sign_in_links`): a session is
 * opened with a token and keeps only that token's id, so revoking or expiring the token ends the session;
 * the database keeps only SHA-256 hashes of the session and link secrets.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('portal_sessions')
    .addColumn('id_hash', 'text', (c) => c.primaryKey())
    .addColumn('token_id', 'text', (c) => c.notNull().references('tokens.id').onDelete('cascade'))
    .addColumn('csrf_token', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .execute();
  // Sweeping ended sessions goes by time; signing out everywhere by token.
  await db.schema.createIndex('portal_sessions_expiry_index').on('portal_sessions').column('expires_at').execute();
  await db.schema.createIndex('portal_sessions_token_index').on('portal_sessions').column('token_id').execute();
  await db.schema
    .createTable('portal_sign_in_links')
    .addColumn('code_hash', 'text', (c) => c.primaryKey())
    .addColumn('token_id', 'text', (c) => c.notNull().references('tokens.id').onDelete('cascade'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('used_at', 'text')
    .execute();
  await db.schema.createIndex('portal_sign_in_links_expiry_index').on('portal_sign_in_links').column('expires_at').execute();
}

/** Drops the tables `up` created. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('portal_sign_in_links').execute();
  await db.schema.dropTable('portal_sessions').execute();
}
