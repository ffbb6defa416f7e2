import type { Command } from 'commander';
import { serviceCommand, type Runner } from '../command-kit.js';
import type { CliContext } from '../context.js';
import { ServiceClient, type ServiceOptions } from '../service-client.js';

type Options = ServiceOptions & { readonly json?: boolean };

/** Adds `ferry tenant create|list` to the program. */
export function registerTenant(program: Command, ctx: CliContext, run: Runner): void {
  const tenant = program.command('tenant').description('manage tenants (an admin token)');
  serviceCommand(tenant, 'create', 'create a tenant')
    .argument('<name>', 'the tenant name (unique)')
    .action((name: string, opts: Options) => run(tenantCreateCommand(ctx, name, opts)));
  serviceCommand(tenant, 'list', 'list the tenants this token may see').action((opts: Options) => run(tenantListCommand(ctx, opts)));
}

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
