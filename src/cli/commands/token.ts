import type { TokenListing } from '../../service/auth/token-store.js';
import type { CliContext } from '../context.js';
import { ServiceClient, type ServiceOptions } from '../service-client.js';
import { resolveTenant } from '../service-names.js';

export interface TokenCreateOptions extends ServiceOptions {
  readonly role: string;
  readonly tenant?: string;
  readonly expires?: number;
  readonly json?: boolean;
}

/**
 * `ferry token create`: prints the new token alone on stdout (so `$(ferry token create …)` captures it)
 * and its id and expiry on stderr; with --json one object `{"token", "id", "role", "tenantId", "expiresAt", …}`.
 */
export async function tokenCreateCommand(ctx: CliContext, options: TokenCreateOptions): Promise<number> {
  const client = ServiceClient.fromOptions(ctx, options);
  const tenant = options.tenant !== undefined || options.role === 'tenant-admin' ? await resolveTenant(client, options.tenant) : undefined;
  const created = await client.createToken({
    role: options.role,
    ...(tenant !== undefined ? { tenantId: tenant.id } : {}),
    ...(options.expires !== undefined ? { expiresInSeconds: options.expires } : {}),
  });
  if (options.json) {
    ctx.stdout.write(JSON.stringify(created) + '\n');
    return 0;
  }
  ctx.stdout.write(`${created.token}\n`);
  const scope = tenant !== undefined ? ` for tenant "${tenant.name}"` : '';
  ctx.stderr.write(`created ${created.role} token ${created.id}${scope}, expires ${created.expiresAt}; it is shown only this once\n`);
  return 0;
}

/**
 * `ferry token list`: the tokens of every role the caller may manage (an admin: all; a tenant-admin: its
 * tenant's tenant-admin, agent and job tokens) as a table with what each is for and its state, or with
 * --json the array of token records.
 */
export async function tokenListCommand(ctx: CliContext, options: ServiceOptions & { json?: boolean }): Promise<number> {
  const tokens = await ServiceClient.fromOptions(ctx, options).listTokens();
  if (options.json) {
    ctx.stdout.write(JSON.stringify(tokens) + '\n');
    return 0;
  }
  ctx.stdout.write(`${'ID'.padEnd(38)}${'Role'.padEnd(14)}${'For'.padEnd(40)}${'Expires'.padEnd(26)}State\n`);
  for (const t of tokens) {
    ctx.stdout.write(`${t.id.padEnd(38)}${t.role.padEnd(14)}${tokenScope(t).padEnd(40)}${t.expiresAt.padEnd(26)}${tokenState(t)}\n`);
  }
  return 0;
}

/** What a token is for, by name: `tenant acme`, `machine web1, vault files (acme)`, `job seed-1 (acme)`, `the service`. */
export function tokenScope(t: TokenListing): string {
  const tenant = t.tenantName ?? t.tenantId;
  switch (t.role) {
    case 'admin':
      return 'the service';
    case 'operator':
      return 'the datacenter';
    case 'tenant-admin':
      return `tenant ${tenant ?? '?'}`;
    case 'agent':
      return `machine ${t.machineName ?? t.machineId ?? '?'}, vault ${t.vaultName ?? t.vaultId ?? '?'} (${tenant ?? '?'})`;
    case 'job':
      return `job ${t.jobName ?? t.jobId ?? '?'} (${tenant ?? '?'})`;
  }
}

/** `active`, `expired`, or `revoked <time>` with why when it was not by hand (`renewed`, `job ended`, …). */
export function tokenState(t: TokenListing): string {
  if (t.state !== 'revoked') return t.state;
  const why = t.revokedReason !== null && t.revokedReason !== 'revoked' ? ` (${t.revokedReason.replace('-', ' ')})` : '';
  return `revoked ${t.revokedAt ?? ''}${why}`;
}

/** `ferry token revoke ID`: any role the caller may manage; idempotent; --json prints the revoked token's record. */
export async function tokenRevokeCommand(ctx: CliContext, id: string, options: ServiceOptions & { json?: boolean }): Promise<number> {
  const revoked = await ServiceClient.fromOptions(ctx, options).revokeToken(id);
  if (options.json) ctx.stdout.write(JSON.stringify(revoked) + '\n');
  else ctx.stdout.write(`revoked ${revoked.role} token ${revoked.id} of ${tokenScope(revoked)} (at ${revoked.revokedAt ?? '?'})\n`);
  return 0;
}
