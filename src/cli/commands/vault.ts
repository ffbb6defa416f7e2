import type { Command } from 'commander';
import { Option } from 'commander';
import { serviceCommand, type Runner } from '../command-kit.js';
import type { CliContext } from '../context.js';
import { ServiceClient, type ServiceOptions } from '../service-client.js';
import { resolveStorageAccount, resolveTenant, resolveVault } from '../service-names.js';
import { writeCredentialsFile } from '../vault-credentials-file.js';
import { looksLikeRecordId } from '../../service/ids.js';

type Options = ServiceOptions & { readonly json?: boolean; readonly tenant?: string };

/** Adds `ferry vault create|list|credentials` to the program. */
export function registerVault(program: Command, ctx: CliContext, run: Runner): void {
  const vault = program.command('vault').description("manage a tenant's vaults");
  const tenantOption = (): Option => new Option('--tenant <TENANT>', 'the tenant (name or id; optional with a tenant-admin token)');
  serviceCommand(vault, 'create', 'create a vault in a storage account of the same tenant')
    .argument('<name>', 'the vault name (unique in the tenant)')
    .addOption(tenantOption())
    .addOption(new Option('--storage-account <SA>', 'the storage account (name or id)').makeOptionMandatory())
    .option('--container <NAME>', "the container (folder) in the storage account; default: the vault's id")
    .action((name: string, opts: Options & { storageAccount: string; container?: string }) => run(vaultCreateCommand(ctx, name, opts)));
  serviceCommand(vault, 'list', "list a tenant's vaults")
    .addOption(tenantOption())
    .action((opts: Options) => run(vaultListCommand(ctx, opts)));
  serviceCommand(vault, 'credentials', 'write a vault credentials file: a one-time registration code, valid 48 hours')
    .argument('<vault>', 'the vault (name or id)')
    .addOption(tenantOption())
    .addOption(new Option('--out <FILE>', 'the credentials file to write (mode 0600)').makeOptionMandatory())
    .action((ref: string, opts: Options & { out: string }) => run(vaultCredentialsCommand(ctx, ref, opts)));
}

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
