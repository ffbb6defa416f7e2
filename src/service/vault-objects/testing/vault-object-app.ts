/**
 * A fastify app serving only the vault object routes, over an FsStorage in a temp dir, with a test
 * `resolveVault` that knows a few fixed bearer tokens. For route tests (inject) and for HttpStorage tests
 * against a real socket on 127.0.0.1.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { AuthenticationError, NotFoundError } from '../../../core/errors.js';
import { FsStorage } from '../../../storage/fs/fs-storage.js';
import type { Storage } from '../../../storage/storage.js';
import { installErrorHandler } from '../../api/error-handler.js';
import { registerVaultObjectRoutes } from '../../api/vault-objects.js';
import type { ResolvedVault } from '../vault-access.js';
import { MemoryLockOwnership } from './memory-lock-ownership.js';

/** The one vault the app serves. */
export const TEST_VAULT_ID = 'vault-1';

/** Bearer tokens the test resolver knows: a tenant-admin (full access) and the agents of two machines. */
export const TEST_TOKENS = {
  admin: 'test-admin-token',
  agentA: 'test-agent-a-token',
  agentB: 'test-agent-b-token',
  /** An agent with no machine (a misconfigured credential). */
  agentWithoutMachine: 'test-agent-nomachine-token',
} as const;

const ACCESS: Record<string, Omit<ResolvedVault, 'storage'>> = {
  [TEST_TOKENS.admin]: { access: 'full' },
  [TEST_TOKENS.agentA]: { access: 'append-only', machineId: 'machine-a' },
  [TEST_TOKENS.agentB]: { access: 'append-only', machineId: 'machine-b' },
  [TEST_TOKENS.agentWithoutMachine]: { access: 'append-only' },
};

export interface VaultObjectAppOptions {
  /** Wraps the FsStorage the vault lives in (to observe or break it). */
  readonly wrapStorage?: (storage: Storage) => Storage;
  readonly maxObjectBytes?: number;
}

export interface VaultObjectApp {
  readonly app: FastifyInstance;
  /** The vault's storage as the routes see it (wrapped when asked). */
  readonly storage: Storage;
  /** The temp dir under the FsStorage. */
  readonly root: string;
  readonly lockOwnership: MemoryLockOwnership;
  /** Every size reported to onBytesStored. */
  readonly bytesStored: number[];
  /** Listens on 127.0.0.1, port 0, and returns the vault's URL. */
  listen(): Promise<string>;
  /** Closes the app and removes the temp dir. */
  close(): Promise<void>;
}

/** Builds the app (ready, not listening). */
export async function createVaultObjectApp(options: VaultObjectAppOptions = {}): Promise<VaultObjectApp> {
  const root = await mkdtemp(join(tmpdir(), 'ferry-vault-objects-'));
  const fsStorage = new FsStorage(root);
  const storage = options.wrapStorage?.(fsStorage) ?? fsStorage;
  const lockOwnership = new MemoryLockOwnership();
  const bytesStored: number[] = [];
  // Clients under test may leave idle or half-used connections; closing must not wait for them.
  const app = Fastify({ logger: false, forceCloseConnections: true });
  installErrorHandler(app);
  registerVaultObjectRoutes(app, {
    resolveVault: async (request: FastifyRequest, vaultId: string) => {
      const header = request.headers.authorization ?? '';
      const access = header.startsWith('Bearer ') ? ACCESS[header.slice('Bearer '.length)] : undefined;
      if (access === undefined) throw new AuthenticationError('missing or unknown token');
      if (vaultId !== TEST_VAULT_ID) throw new NotFoundError(`no vault ${vaultId}`);
      return { storage, ...access };
    },
    lockOwnership,
    onBytesStored: (bytes) => void bytesStored.push(bytes),
    maxObjectBytes: options.maxObjectBytes,
  });
  await app.ready();
  return {
    app,
    storage,
    root,
    lockOwnership,
    bytesStored,
    listen: async () => {
      const address = await app.listen({ host: '127.0.0.1', port: 0 });
      return `${address}/v1/vaults/${TEST_VAULT_ID}`;
    },
    close: async () => {
      await app.close();
      await fsStorage.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}
