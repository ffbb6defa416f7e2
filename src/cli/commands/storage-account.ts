import type { CliContext } from '../context.js';
import { ServiceClient, type ServiceOptions } from '../service-client.js';
import { resolveTenant } from '../service-names.js';

type Options = ServiceOptions & { readonly json?: boolean; readonly tenant?: string };

/** `ferry storage-account create NAME --tenant T [--backend URL]`: --json prints the storage account. */
export async function storageAccountCreateCommand(ctx: CliContext, name: string, options: Options & { backend?: string }): Promise<number> {
  const client = ServiceClient.fromOptions(ctx, options);
  const tenant = await resolveTenant(client, options.tenant);
  const account = await client.createStorageAccount(tenant.id, { name, ...(options.backend !== undefined ? { backend: options.backend } : {}) });
  if (options.json) ctx.stdout.write(JSON.stringify(account) + '\n');
  else ctx.stdout.write(`created storage account ${account.name} (id ${account.id}) in tenant ${tenant.name}\n`);
  return 0;
}

/** `ferry storage-account list --tenant T`: a table, or with --json the array. */
export async function storageAccountListCommand(ctx: CliContext, options: Options): Promise<number> {
  const client = ServiceClient.fromOptions(ctx, options);
  const tenant = await resolveTenant(client, options.tenant);
  const accounts = await client.listStorageAccounts(tenant.id);
  if (options.json) {
    ctx.stdout.write(JSON.stringify(accounts) + '\n');
    return 0;
  }
  ctx.stdout.write(`${'Name'.padEnd(24)}${'ID'.padEnd(38)}Back end\n`);
  for (const a of accounts) ctx.stdout.write(`${a.name.padEnd(24)}${a.id.padEnd(38)}${a.backend ?? '(service data directory)'}\n`);
  return 0;
}
