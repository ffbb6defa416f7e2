import type { Kysely } from 'kysely';

/**
 * The first schema: tenants, storage accounts, vaults, registration codes, machines, tokens, backup runs
 * and vault locks (see ../schema.ts for what each column holds). Only kysely's schema builder: the same
 * migration runs on SQLite and PostgreSQL.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('tenants')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('storage_accounts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('backend', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('storage_accounts_tenant_name_unique', ['tenant_id', 'name'])
    // Lets vaults reference (id, tenant_id), so a vault's storage account is always of its own tenant.
    .addUniqueConstraint('storage_accounts_id_tenant_unique', ['id', 'tenant_id'])
    .execute();

  await db.schema
    .createTable('vaults')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('storage_account_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('container', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('vaults_tenant_name_unique', ['tenant_id', 'name'])
    .addUniqueConstraint('vaults_storage_account_container_unique', ['storage_account_id', 'container'])
    .addUniqueConstraint('vaults_id_tenant_unique', ['id', 'tenant_id'])
    .addForeignKeyConstraint('vaults_storage_account_same_tenant_fk', ['storage_account_id', 'tenant_id'], 'storage_accounts', ['id', 'tenant_id'])
    .execute();

  await db.schema
    .createTable('machines')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('vault_id', 'text', (c) => c.notNull())
    .addColumn('hostname', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('last_report_at', 'text')
    .addUniqueConstraint('machines_id_vault_unique', ['id', 'vault_id'])
    .addForeignKeyConstraint('machines_vault_same_tenant_fk', ['vault_id', 'tenant_id'], 'vaults', ['id', 'tenant_id'])
    .execute();
  await db.schema.createIndex('machines_vault_index').on('machines').column('vault_id').execute();

  await db.schema
    .createTable('registration_codes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('vault_id', 'text', (c) => c.notNull().references('vaults.id'))
    .addColumn('code_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('created_by_token_id', 'text')
    .addColumn('used_at', 'text')
    .addColumn('machine_id', 'text', (c) => c.references('machines.id'))
    .execute();

  await db.schema
    .createTable('tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('tenant_id', 'text', (c) => c.references('tenants.id'))
    .addColumn('machine_id', 'text', (c) => c.references('machines.id'))
    .addColumn('vault_id', 'text', (c) => c.references('vaults.id'))
    .addColumn('job_id', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('revoked_at', 'text')
    .addColumn('created_by_token_id', 'text')
    .execute();
  await db.schema.createIndex('tokens_tenant_index').on('tokens').column('tenant_id').execute();

  await db.schema
    .createTable('backup_runs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('vault_id', 'text', (c) => c.notNull())
    .addColumn('machine_id', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('snapshot_id', 'text')
    .addColumn('files_processed', 'bigint', (c) => c.notNull())
    .addColumn('bytes_read', 'bigint', (c) => c.notNull())
    .addColumn('bytes_added', 'bigint', (c) => c.notNull())
    .addColumn('error_count', 'integer', (c) => c.notNull())
    .addColumn('errors', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addForeignKeyConstraint('backup_runs_machine_of_vault_fk', ['machine_id', 'vault_id'], 'machines', ['id', 'vault_id'])
    .execute();
  await db.schema.createIndex('backup_runs_vault_started_index').on('backup_runs').columns(['vault_id', 'started_at']).execute();

  await db.schema
    .createTable('vault_locks')
    .addColumn('vault_id', 'text', (c) => c.notNull().references('vaults.id'))
    .addColumn('object_key', 'text', (c) => c.notNull())
    .addColumn('machine_id', 'text', (c) => c.references('machines.id'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('vault_locks_pk', ['vault_id', 'object_key'])
    .execute();
}

/** Drops everything `up` created, children first. */
export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['vault_locks', 'backup_runs', 'tokens', 'registration_codes', 'machines', 'vaults', 'storage_accounts', 'tenants']) {
    await db.schema.dropTable(table).execute();
  }
}
