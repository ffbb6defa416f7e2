import { UserError, WrongPasswordError } from '../../core/errors.js';
import { CONFIG_KEY } from '../../storage/layout.js';
import { objectExists } from '../../storage/object-exists.js';
import type { Storage } from '../../storage/storage.js';
import { Repository } from '../../engine/repository/repository.js';
import type { Registration } from '../../service/resources/registration.js';
import { readRegistration, stateDir, vaultLocation, writeRegistration, type AgentRegistration } from '../agent-state.js';
import { pinnedCertificate } from '../certificate-pin.js';
import { kdfFor, type CliContext } from '../context.js';
import { readPassword } from '../password.js';
import { ServiceClient } from '../service-client.js';
import { caCertFile, transportTrusting, readCaCertificates } from '../service-trust.js';
import { openStorage } from '../storage-location.js';
import { readCredentialsFile, type VaultCredentialsFile } from '../vault-credentials-file.js';

export interface RegisterOptions {
  readonly credentials: string;
  readonly passwordFile?: string;
  readonly json?: boolean;
}

/** Agents use long passphrases: the repository key slot is all that guards the data at rest. */
export const MIN_PASSPHRASE_LENGTH = 16;

/**
 * `ferry register --credentials FILE`: exchanges the file's one-time code for an agent token, keeps it in
 * FERRY_STATE_DIR, then creates the vault's repository (first machine) or checks that the passphrase opens
 * it (later machines). The passphrase never leaves this machine. Checks everything it can before the code
 * is spent: the file, its expiry, the passphrase, an existing registration, and for an https:// service
 * whose credentials pin a fingerprint, that the service presents that certificate (kept in agent.json as
 * the only CA its later commands trust; docs/agent.md, "TLS and the pinned CA").
 */
export async function registerCommand(ctx: CliContext, options: RegisterOptions): Promise<number> {
  const existing = await readRegistration(ctx.env);
  if (existing) {
    throw new UserError(
      `this machine is already registered to vault "${existing.vault.name}" as ${existing.machine.hostname} (${stateDir(ctx.env)}/agent.json); ` +
        'to register again, remove that file or use another FERRY_STATE_DIR',
    );
  }
  const credentials = await readCredentialsFile(options.credentials);
  if (Date.parse(credentials.expiresAt) <= ctx.repoContext.clock.now()) {
    throw new UserError(`the registration code in ${options.credentials} expired at ${credentials.expiresAt}: ask for a new credentials file (\`ferry vault credentials\`)`);
  }
  const password = await readPassword({ passwordFile: options.passwordFile, env: ctx.env, stdin: ctx.stdin, stderr: ctx.stderr }, true);
  if (password.length < MIN_PASSPHRASE_LENGTH) {
    throw new UserError(`the passphrase has ${password.length} characters; a vault needs at least ${MIN_PASSPHRASE_LENGTH} (a few random words will do)`);
  }

  const server = credentials.server.replace(/\/+$/, '');
  const caCert = await registrationCa(ctx, server, credentials);
  const transport = transportTrusting(caCert);
  const client = new ServiceClient(server, undefined, ctx.signal, transport);
  const answer = await client.request<Registration>('POST', '/v1/registrations', { code: credentials.registrationCode, hostname: ctx.repoContext.hostname });
  const registration: AgentRegistration = {
    format: 'ferry-agent',
    version: 1,
    server: client.baseUrl,
    tenant: answer.tenant,
    vault: { id: answer.vault.id, name: answer.vault.name },
    machine: answer.machine,
    token: answer.token,
    tokenExpiresAt: answer.expiresAt,
    registeredAt: new Date(ctx.repoContext.clock.now()).toISOString(),
    ...(caCert !== undefined ? { caCert } : {}),
  };
  await writeRegistration(ctx.env, registration);

  const storage = await openStorage(vaultLocation(registration), { token: registration.token, transport });
  ctx.cleanups.push(() => storage.close());
  const created = await createOrOpen(ctx, storage, password, !answer.vault.repositoryInitialized);
  if (options.json) {
    ctx.stdout.write(JSON.stringify({ message_type: 'registered', machine: registration.machine, vault: registration.vault, repository_created: created }) + '\n');
  } else {
    ctx.stdout.write(`registered ${registration.machine.hostname} to vault "${registration.vault.name}" of ${registration.tenant.name}\n`);
    ctx.stdout.write(created ? 'created the vault\'s repository: keep the passphrase safe, without it nothing can be restored\n' : 'the passphrase opens the vault\'s repository\n');
    ctx.stdout.write('next: `ferry backup PATH…`, or `ferry schedule set --paths PATH… --daily HH:MM` and `ferry agent run`\n');
  }
  return 0;
}

/**
 * The CA certificates (PEM) this registration trusts and keeps in agent.json, or undefined for the
 * system's CAs. An https:// service whose credentials pin a fingerprint: the certificate with that
 * fingerprint from the chain the service presents (`pinnedCertificate`; the pin wins over --ca-cert and
 * FERRY_CA_CERT, which are not consulted). Otherwise --ca-cert/FERRY_CA_CERT when given.
 */
async function registrationCa(ctx: CliContext, server: string, credentials: VaultCredentialsFile): Promise<string | undefined> {
  const https = server.startsWith('https:');
  if (https && credentials.caFingerprint) return pinnedCertificate(server, credentials.caFingerprint, ctx.signal);
  const file = caCertFile(ctx);
  return https && file !== undefined ? readCaCertificates(file) : undefined;
}

/** Creates the repository when the service says there is none; opens it otherwise (or when another machine won the race). */
async function createOrOpen(ctx: CliContext, storage: Storage, password: string, create: boolean): Promise<boolean> {
  if (create) {
    try {
      await Repository.init(storage, password, ctx.repoContext, { kdf: await kdfFor(ctx) });
      return true;
    } catch (err) {
      // Another machine of this vault created it meanwhile (its config is there): its passphrase is the one to use.
      if (!(await objectExists(storage, CONFIG_KEY))) throw err;
    }
  }
  try {
    await Repository.open(storage, password, ctx.repoContext);
  } catch (err) {
    if (err instanceof WrongPasswordError) {
      throw new WrongPasswordError(
        'this machine is registered, but the passphrase does not open the vault\'s repository, which another machine created: ' +
          'use that machine\'s passphrase (FERRY_PASSWORD or --password-file) with every command',
      );
    }
    throw err;
  }
  return false;
}

