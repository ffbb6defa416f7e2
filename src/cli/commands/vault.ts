import type { CliContext } from '../context.js';
import { ServiceClient, type ServiceOptions } from '../service-client.js';
import { resolveStorageAccount, resolveTenant, resolveVault } from '../service-names.js';
import { writeCredentialsFile } from '../vault-credentials-file.js';
import { looksLikeRecordId } from '../../contract/wire.js';

type Options = ServiceOptions & { readonly json?: boolean; readonly tenant?: string };

/** `ferry vault create NAME --tenant T --storage-account SA`: --json prints the vault. */
export async function vaultCreateCommand(ctx: CliContext, name: string, options: Options & { storageAccount: string; container?: string }): Promise<number> {
  const client = ServiceClient.fromOptions(ctx, options);
  const tenant = await resolveTenant(client, options.tenant);
  const account = await resolveStorageAccount(client, tenant, options.storageAccount);
  const vault = await client.createVault(tenant.id, { name, storageAccountId: account.id, ...(options.container !== undefined ? { container: options.container } : {}) });
  if (options.json) ctx.stdout.write(JSON.stringify(vault) + '\n');
  else ctx.stdout.write(`created vault ${vault.name} (id ${vault.id}) in storage account ${account.name}, container ${vault.container}\n`);
  return 0;
}

/** `ferry vault list --tenant T`: a table, or with --json the array. */
export async function vaultListCommand(ctx: CliContext, options: Options): Promise<number> {
  const client = ServiceClient.fromOptions(ctx, options);
  const tenant = await resolveTenant(client, options.tenant);
  const vaults = await client.listVaults(tenant.id);
  if (options.json) {
    ctx.stdout.write(JSON.stringify(vaults) + '\n');
    return 0;
  }
  ctx.stdout.write(`${'Name'.padEnd(24)}${'ID'.padEnd(38)}Container\n`);
  for (const v of vaults) ctx.stdout.write(`${v.name.padEnd(24)}${v.id.padEnd(38)}${v.container}\n`);
  return 0;
}

/**
 * `ferry vault credentials VAULT --tenant T --out FILE`: asks the service for a one-time registration code
 * and writes the credentials file (mode 0600; format in vault-credentials-file.ts). The code is never
 * printed: --json prints `{"file","tenant","vault","expiresAt"}`.
 */
export async function vaultCredentialsCommand(ctx: CliContext, ref: string, options: Options & { out: string }): Promise<number> {
  const client = ServiceClient.fromOptions(ctx, options);
  const tenant = options.tenant === undefined && looksLikeRecordId(ref) ? undefined : await resolveTenant(client, options.tenant);
  const vault = await resolveVault(client, tenant, ref);
  const written = await writeCredentialsFile(options.out, async () => ({ server: client.baseUrl, ...(await client.createVaultCredentials(vault.id)) }));
  if (options.json) {
    ctx.stdout.write(JSON.stringify({ file: written.path, tenant: written.tenant, vault: written.vault, expiresAt: written.expiresAt }) + '\n');
  } else {
    ctx.stdout.write(
      `wrote credentials for vault ${written.vault.name} to ${written.path}; the registration code works once, until ${written.expiresAt}\n` +
        `on the machine to back up: ferry register --credentials ${written.path}\n`,
    );
  }
  return 0;
}
