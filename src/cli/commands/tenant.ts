import type { CliContext } from '../context.js';
import { ServiceClient, type ServiceOptions } from '../service-client.js';

type Options = ServiceOptions & { readonly json?: boolean };

/** `ferry tenant create NAME`: --json prints `{"id","name","createdAt"}`. */
export async function tenantCreateCommand(ctx: CliContext, name: string, options: Options): Promise<number> {
  const tenant = await ServiceClient.fromOptions(ctx, options).createTenant(name);
  if (options.json) ctx.stdout.write(JSON.stringify(tenant) + '\n');
  else ctx.stdout.write(`created tenant ${tenant.name} (id ${tenant.id})\n`);
  return 0;
}

/** `ferry tenant list`: a table, or with --json the array. */
export async function tenantListCommand(ctx: CliContext, options: Options): Promise<number> {
  const tenants = await ServiceClient.fromOptions(ctx, options).listTenants();
  if (options.json) {
    ctx.stdout.write(JSON.stringify(tenants) + '\n');
    return 0;
  }
  ctx.stdout.write(`${'Name'.padEnd(24)}${'ID'.padEnd(38)}Created\n`);
  for (const t of tenants) ctx.stdout.write(`${t.name.padEnd(24)}${t.id.padEnd(38)}${t.createdAt}\n`);
  return 0;
}
