import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { z } from 'zod';
import { UserError } from '../core/errors.js';
import { DurableFile } from '../os/durable-file.js';

/** The `format` field of a vault credentials file. */
export const CREDENTIALS_FORMAT = 'ferry-vault-credentials';
export const CREDENTIALS_VERSION = 1;

const Ref = z.object({ id: z.string().min(1), name: z.string().min(1) });

const CredentialsFileSchema = z.object({
  format: z.literal(CREDENTIALS_FORMAT),
  version: z.literal(CREDENTIALS_VERSION),
  server: z.string().url(),
  tenant: Ref,
  vault: Ref,
  registrationCode: z.string().startsWith('fry_reg_'),
  expiresAt: z.iso.datetime({ offset: true }),
  /**
   * The SHA-256 fingerprint (`AB:CD:…`) of the certificate `ferry register` pins: the CA of the service's
   * TLS certificate, or that certificate when self-signed. Null or absent: nothing pinned (plain HTTP, or
   * a certificate of a public CA, verified with the system's CAs).
   */
  caFingerprint: z
    .string()
    .regex(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/, 'expected a SHA-256 fingerprint AB:CD:…')
    .nullable()
    .optional(),
});

/**
 * A vault credentials file (docs/service.md, "Vault credentials file"): JSON with the format and version,
 * the service URL, the tenant and vault (id and name), the one-time registration code and its expiry, and
 * the fingerprint of the certificate registration pins (null when nothing is pinned).
 */
export type VaultCredentialsFile = z.infer<typeof CredentialsFileSchema>;

/**
 * Writes a credentials file at `path` with mode 0600: first creates a temp file next to it (so a bad
 * path fails before anything is asked of the service), then calls `produce` for the contents and writes
 * them durably over `path` (fsync, rename, fsync of the folder). On failure nothing is left behind.
 */
export async function writeCredentialsFile(
  path: string,
  produce: () => Promise<Omit<VaultCredentialsFile, 'format' | 'version'>>,
): Promise<VaultCredentialsFile & { path: string }> {
  const target = resolve(path);
  let file;
  try {
    file = await DurableFile.create(target, { mode: 0o600 });
  } catch (err) {
    throw new UserError(`cannot write ${target}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const { server, tenant, vault, registrationCode, expiresAt, caFingerprint } = await produce();
    const contents: VaultCredentialsFile = {
      format: CREDENTIALS_FORMAT,
      version: CREDENTIALS_VERSION,
      server,
      tenant,
      vault,
      registrationCode,
      expiresAt,
      caFingerprint: caFingerprint ?? null,
    };
    await file.handle.writeFile(JSON.stringify(contents, null, 2) + '\n');
    await file.commit();
    return { ...contents, path: target };
  } catch (err) {
    await file.abort();
    throw err;
  }
}

/** Reads and checks a credentials file; `UserError` saying what is wrong for anything else. */
export async function readCredentialsFile(path: string): Promise<VaultCredentialsFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read the credentials file ${path}: ${(err as Error).message}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UserError(`${path} is not a vault credentials file (not JSON)`);
  }
  const result = CredentialsFileSchema.safeParse(parsed);
  if (!result.success) throw new UserError(`${path} is not a valid vault credentials file: ${result.error.issues[0]?.message ?? 'invalid'}`);
  return result.data;
}
