import { tokenCreated } from '../audit/audit-events.js';
import { recordAudit } from '../audit/audit-log.js';
import { hashSecret, secretKind } from '../auth/secret-format.js';
import { issueToken } from '../auth/token-store.js';
import type { ServiceContext } from '../context.js';
import { isoTime, newRecordId } from '../ids.js';
import { RegistrationCodeError } from './registration-codes.js';
import { isRepositoryInitialized } from './vault-storage.js';

export interface RegistrationRequest {
  /** The `fry_reg_…` code from a vault credentials file. */
  readonly code: string;
  readonly hostname: string;
}

/** What `ferry register` gets back: an agent token bound to one new machine and one vault. */
export interface Registration {
  readonly token: string;
  readonly tokenId: string;
  readonly expiresAt: string;
  readonly machine: { readonly id: string; readonly hostname: string };
  readonly tenant: { readonly id: string; readonly name: string };
  readonly vault: { readonly id: string; readonly name: string; readonly repositoryInitialized: boolean };
}

/**
 * Exchanges a registration code for an agent token: records a new machine of the code's vault, marks the
 * code used and issues a token scoped to that machine and vault, all in one transaction. A code works
 * once and for 48 hours: an unknown, malformed, used or expired code is a `RegistrationCodeError` (401)
 * whose `code` says which. Two concurrent registrations with one code: exactly one succeeds.
 */
export async function registerMachine(ctx: ServiceContext, request: RegistrationRequest): Promise<Registration> {
  const now = ctx.clock.now();
  const registered = await ctx.db.transaction().execute(async (trx) => {
    const invalid = new RegistrationCodeError('REGISTRATION_CODE_INVALID', 'unknown registration code: check the credentials file, or create a new one');
    if (secretKind(request.code) !== 'registration') throw invalid;
    const code = await trx.selectFrom('registration_codes').selectAll().where('code_hash', '=', hashSecret(request.code)).executeTakeFirst();
    if (code === undefined) throw invalid;
    if (code.used_at !== null) {
      throw new RegistrationCodeError('REGISTRATION_CODE_USED', `this registration code was already used at ${code.used_at}; create a new credentials file with \`ferry vault credentials\``);
    }
    if (code.expires_at <= isoTime(now)) {
      throw new RegistrationCodeError('REGISTRATION_CODE_EXPIRED', `this registration code expired at ${code.expires_at}; create a new credentials file with \`ferry vault credentials\``);
    }
    const vault = await trx
      .selectFrom('vaults')
      .innerJoin('tenants', 'tenants.id', 'vaults.tenant_id')
      .select(['vaults.id as id', 'vaults.name as name', 'vaults.storage_account_id as storageAccountId', 'vaults.container as container', 'tenants.id as tenantId', 'tenants.name as tenantName'])
      .where('vaults.id', '=', code.vault_id)
      .executeTakeFirstOrThrow();
    const machineId = newRecordId(ctx.random);
    await trx
      .insertInto('machines')
      .values({ id: machineId, tenant_id: vault.tenantId, vault_id: vault.id, hostname: request.hostname, created_at: isoTime(now), last_report_at: null, schedule: null })
      .execute();
    const claimed = await trx
      .updateTable('registration_codes')
      .set({ used_at: isoTime(now), machine_id: machineId })
      .where('id', '=', code.id)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    if (claimed.numUpdatedRows !== 1n) {
      throw new RegistrationCodeError('REGISTRATION_CODE_USED', 'this registration code was just used by another registration; create a new credentials file');
    }
    const token = await issueToken({ db: trx, clock: ctx.clock, random: ctx.random }, { role: 'agent', tenantId: vault.tenantId, machineId, vaultId: vault.id, lifetimeMs: ctx.agentTokenLifetimeMs });
    await recordAudit({ ...ctx, db: trx }, tokenCreated(`registration:${code.id}`, token, { hostname: request.hostname }));
    return { token, vault, machineId };
  });
  const { token, vault, machineId } = registered;
  return {
    token: token.token,
    tokenId: token.id,
    expiresAt: token.expiresAt,
    machine: { id: machineId, hostname: request.hostname },
    tenant: { id: vault.tenantId, name: vault.tenantName },
    vault: { id: vault.id, name: vault.name, repositoryInitialized: await isRepositoryInitialized(ctx, vault) },
  };
}
