import type { Principal } from '../auth/principal.js';
import { revokeToken } from '../auth/token-store.js';
import { cancelImportJob, createImportJob } from '../resources/import-jobs.js';
import { createRegistrationCode } from '../resources/registration-codes.js';
import { registerMachine } from '../resources/registration.js';
import { createStorageAccount } from '../resources/storage-accounts.js';
import { createTenant } from '../resources/tenants.js';
import { createVault } from '../resources/vaults.js';
import type { ServiceFixture } from './service-fixture.js';

/** One tenant's records in a {@link World}. */
export interface TenantWorld {
  readonly tenantId: string;
  readonly tenantName: string;
  readonly storageAccountId: string;
  readonly vaultId: string;
  readonly machineId: string;
  readonly tenantAdminToken: string;
  readonly agentToken: string;
  readonly agentTokenId: string;
}

/** Two tenants, each with a storage account, a vault, a registered machine, and a token of every kind; an import job of tenant A's vault. */
export interface World {
  readonly a: TenantWorld;
  readonly b: TenantWorld;
  readonly adminToken: string;
  /** An import job of tenant A's vault, in Creating with no disks, and its job token. */
  readonly jobId: string;
  readonly jobName: string;
  readonly jobToken: string;
  readonly operatorToken: string;
  /** A tenant-admin token of tenant A that has expired. */
  readonly expiredToken: string;
  /** A tenant-admin token of tenant A that was revoked. */
  readonly revokedToken: string;
  /**
   * The job token of a cancelled import job of tenant B, whose revocation (done with the cancel) was undone
   * in the database: authentication must still refuse it, from the job's state.
   */
  readonly endedJobToken: string;
  /** An unused registration code for tenant A's vault. */
  readonly registrationCode: string;
}

/**
 * Builds a {@link World} in the fixture by calling the resource functions directly (no HTTP), so tests
 * start from the same records quickly. Moves the fixture's clock 2 seconds forward (to expire one token).
 */
export async function buildWorld(fixture: ServiceFixture): Promise<World> {
  const admin = await fixture.token({ role: 'admin' });
  const adminPrincipal: Principal = { tokenId: admin.id, role: 'admin', expiresAt: admin.expiresAt };
  const tenant = async (name: string): Promise<TenantWorld> => {
    const t = await createTenant(fixture.ctx, adminPrincipal, name);
    const sa = await createStorageAccount(fixture.ctx, adminPrincipal, t.id, { name: `${name}-storage` });
    const vault = await createVault(fixture.ctx, adminPrincipal, t.id, { name: `${name}-vault`, storageAccountId: sa.id });
    const code = await createRegistrationCode(fixture.ctx, adminPrincipal, vault.id);
    const registration = await registerMachine(fixture.ctx, { code: code.registrationCode, hostname: `${name}-host` });
    const tenantAdmin = await fixture.token({ role: 'tenant-admin', tenantId: t.id });
    return {
      tenantId: t.id,
      tenantName: t.name,
      storageAccountId: sa.id,
      vaultId: vault.id,
      machineId: registration.machine.id,
      tenantAdminToken: tenantAdmin.token,
      agentToken: registration.token,
      agentTokenId: registration.tokenId,
    };
  };
  const a = await tenant('tenant-a');
  const b = await tenant('tenant-b');
  const job = await createImportJob(fixture.ctx, adminPrincipal, a.vaultId, { name: 'tenant-a-seed', storageAccountId: a.storageAccountId, container: 'tenant-a-seed' });
  const ended = await createImportJob(fixture.ctx, adminPrincipal, b.vaultId, { name: 'tenant-b-seed', storageAccountId: b.storageAccountId, container: 'tenant-b-seed' });
  await cancelImportJob(fixture.ctx, adminPrincipal, ended.job.id);
  await fixture.db.updateTable('tokens').set({ revoked_at: null, revoked_reason: null }).where('job_id', '=', ended.job.id).execute();
  const operator = await fixture.token({ role: 'operator' });
  const expired = await fixture.token({ role: 'tenant-admin', tenantId: a.tenantId, lifetimeMs: 1000 });
  const revoked = await fixture.token({ role: 'tenant-admin', tenantId: a.tenantId });
  await revokeToken(fixture.ctx, revoked.id);
  const unused = await createRegistrationCode(fixture.ctx, adminPrincipal, a.vaultId);
  fixture.clock.advance(2000);
  return {
    a,
    b,
    adminToken: admin.token,
    jobId: job.job.id,
    jobName: job.job.name,
    jobToken: job.jobToken,
    operatorToken: operator.token,
    expiredToken: expired.token,
    revokedToken: revoked.token,
    endedJobToken: ended.jobToken,
    registrationCode: unused.registrationCode,
  };
}
