import { AuthenticationError } from '../../core/errors.js';
import { recordAudit } from '../audit/audit-log.js';
import { actorOf, type Principal } from '../auth/principal.js';
import { REGISTRATION_CODE_LIFETIME_MS } from '../auth/roles.js';
import { hashSecret, newSecret } from '../auth/secret-format.js';
import type { ServiceContext } from '../context.js';
import { isoTime, newRecordId } from '../ids.js';
import { getTenant } from './tenants.js';
import { getVault } from './vaults.js';

/** What a vault credentials file carries besides the server URL (the CLI adds that). */
export interface VaultCredentials {
  /** A `fry_reg_…` code, exchanged once for an agent token by `ferry register`; shown only here. */
  readonly registrationCode: string;
  readonly expiresAt: string;
  readonly tenant: { readonly id: string; readonly name: string };
  readonly vault: { readonly id: string; readonly name: string };
  /**
   * The SHA-256 fingerprint (`AB:CD:…`) of the certificate `ferry register` pins: the CA of the service's
   * TLS certificate, or that certificate when self-signed; null over plain HTTP or with a public CA's certificate.
   */
  readonly caFingerprint: string | null;
}

/** Why a registration code was refused; `code` tells them apart (see docs/service.md). */
export class RegistrationCodeError extends AuthenticationError {
  override readonly code: 'REGISTRATION_CODE_INVALID' | 'REGISTRATION_CODE_EXPIRED' | 'REGISTRATION_CODE_USED';

  constructor(code: RegistrationCodeError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * Creates a one-time registration code for the vault, valid for 48 hours (REGISTRATION_CODE_LIFETIME_MS).
 * Only its hash is stored. `NotFoundError` when the principal may not see the vault.
 */
export async function createRegistrationCode(ctx: ServiceContext, principal: Principal, vaultId: string): Promise<VaultCredentials> {
  const vault = await getVault(ctx, principal, vaultId);
  const tenant = await getTenant(ctx, principal, vault.tenantId);
  const now = ctx.clock.now();
  const registrationCode = newSecret('registration', ctx.random);
  const expiresAt = isoTime(now + REGISTRATION_CODE_LIFETIME_MS);
  const id = newRecordId(ctx.random);
  await ctx.db.transaction().execute(async (trx) => {
    await trx
      .insertInto('registration_codes')
      .values({
        id,
        vault_id: vault.id,
        code_hash: hashSecret(registrationCode),
        created_at: isoTime(now),
        expires_at: expiresAt,
        created_by_token_id: principal.tokenId,
        used_at: null,
        machine_id: null,
      })
      .execute();
    const audit = { actor: actorOf(principal), tenantId: vault.tenantId, action: 'vault.credentials', target: { type: 'registration-code', id } } as const;
    await recordAudit({ ...ctx, db: trx }, { ...audit, detail: { vaultId: vault.id, expiresAt } });
  });
  return {
    registrationCode,
    expiresAt,
    tenant: { id: tenant.id, name: tenant.name },
    vault: { id: vault.id, name: vault.name },
    caFingerprint: ctx.certificatePin(),
  };
}
