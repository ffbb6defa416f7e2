import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import { IntegrityError, NotFoundError, PermanentError, UserError } from '../../core/errors.js';
import type { AzureLocation } from '../azure-url.js';
import { listKeys, runStorageConformance, seededBytes } from '../testing/conformance.js';
import { AZURITE_ACCOUNT, azuriteSkipReason, useAzurite, type Azurite } from '../testing/azurite.js';
import { FaultProxy } from '../testing/fault-proxy.js';
import { AzureAccounts } from './azure-accounts.js';

const skip = azuriteSkipReason();
const FAST_RETRY = { attempts: 4, baseDelayMs: 10, maxDelayMs: 50 };
const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

describe('AzureBlobStorage on Azurite', { skip }, () => {
  const azurite = useAzurite();
  const at = (server: Azurite, container = server.newContainer(), prefix = ''): AzureLocation => ({ account: AZURITE_ACCOUNT, container, prefix });
  const accountsOf = (server: Azurite, endpoint?: string, blockSize?: number): AzureAccounts =>
    new AzureAccounts({ env: { AZURE_STORAGE_CONNECTION_STRING: server.connectionString(endpoint) }, retry: FAST_RETRY, ...(blockSize ? { blockSize } : {}) });

  // The seam's contract exactly: the container's root (a prefix would shorten the longest key, see below).
  runStorageConformance('AzureBlobStorage (Azurite)', async () => {
    const server = await azurite();
    return { storage: accountsOf(server).storage(at(server)), cleanup: async () => {} };
  });

  it('keeps a location under its prefix: two prefixes of one container do not see each other', async () => {
    const server = await azurite();
    const container = server.newContainer();
    const accounts = accountsOf(server);
    const a = accounts.storage(at(server, container, 'tenant-a/vault'));
    const b = accounts.storage(at(server, container, 'tenant-a/vault-2'));
    await a.save('config', seededBytes(10, 1));
    await b.save('config', seededBytes(10, 2));
    assert.deepEqual(await listKeys(a, ''), ['config']);
    assert.ok((await a.load('config')).equals(seededBytes(10, 1)));
    const names: string[] = [];
    for await (const blob of BlobServiceClient.fromConnectionString(server.connectionString()).getContainerClient(container).listBlobsFlat()) names.push(blob.name);
    assert.deepEqual(names.sort(), ['tenant-a/vault-2/config', 'tenant-a/vault/config']);
    // Azure's 1024-character blob names: the prefix's length is taken from the longest key.
    await assert.rejects(a.save('x'.repeat(255) + '/' + 'y'.repeat(255) + '/' + 'z'.repeat(255) + '/' + 'w'.repeat(255), seededBytes(1)), PermanentError);
  });

  it('saves a large object as staged blocks, committed only when whole and verified', async () => {
    const server = await azurite();
    const location = at(server);
    const storage = accountsOf(server, undefined, 64 * 1024).storage(location);
    const data = seededBytes(300_000, 9);
    async function* pieces(bytes: Buffer, fail?: Error): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < bytes.length; i += 10_000) yield bytes.subarray(i, i + 10_000);
      if (fail) throw fail;
    }
    await assert.rejects(storage.save('data/ab/big', pieces(data), { sha256: sha256(seededBytes(300_000, 8)) }), IntegrityError);
    const boom = new Error('source failed');
    await assert.rejects(storage.save('data/ab/big', pieces(data, boom)), (err) => err === boom);
    await assert.rejects(storage.stat('data/ab/big'), NotFoundError, 'no staged block became visible');
    await storage.save('data/ab/big', pieces(data), { length: data.length, sha256: sha256(data) });
    assert.ok((await storage.load('data/ab/big')).equals(data));
    assert.ok((await storage.load('data/ab/big', { offset: 65_000, length: 70_000 })).equals(data.subarray(65_000, 135_000)), 'a range across blocks');
    const blob = BlobServiceClient.fromConnectionString(server.connectionString()).getContainerClient(location.container).getBlockBlobClient('data/ab/big');
    const blocks = await blob.getBlockList('committed');
    assert.equal(blocks.committedBlocks?.length, 5, '300000 bytes in 64 KiB blocks');
    assert.deepEqual(Buffer.from((await blob.getProperties()).contentMD5 ?? []), createHash('md5').update(data).digest(), 'the whole MD5 is stored');
  });

  it('a missing container lists nothing and loads NotFound; the first save creates it', async () => {
    const server = await azurite();
    const storage = accountsOf(server).storage(at(server));
    assert.deepEqual(await listKeys(storage, ''), []);
    await assert.rejects(storage.load('config'), NotFoundError);
    await assert.rejects(storage.stat('config'), NotFoundError);
    await storage.remove('config');
    await storage.save('config', seededBytes(3));
    assert.deepEqual(await listKeys(storage, ''), ['config']);
  });

  it('retries throttling and server errors with backoff; a listing that keeps failing rejects, never lists empty', async () => {
    const server = await azurite();
    const proxy = await FaultProxy.start({ host: '127.0.0.1', port: server.port });
    try {
      const storage = accountsOf(server, `${proxy.url}/${AZURITE_ACCOUNT}`).storage(at(server));
      await storage.save('index/i', seededBytes(100));
      for (const status of [503, 500, 429]) {
        proxy.refuseNext(FAST_RETRY.attempts - 1, status, status === 429 ? { 'retry-after': '0' } : {});
        const before = proxy.requests;
        assert.ok((await storage.load('index/i')).equals(seededBytes(100)), `after ${status}`);
        assert.equal(proxy.requests - before, FAST_RETRY.attempts, `${status}: every attempt used`);
      }
      proxy.refuseNext(2, 503);
      await storage.save('index/j', seededBytes(50));
      proxy.refuseNext(FAST_RETRY.attempts, 503);
      await assert.rejects(listKeys(storage, ''), (err: Error) => !(err instanceof NotFoundError) && !(err instanceof PermanentError) && /HTTP 503/.test(err.message));
      assert.deepEqual(await listKeys(storage, ''), ['index/i', 'index/j']);
      proxy.refuseNext(1, 400);
      await assert.rejects(storage.stat('index/i'), PermanentError, 'a 400 is not retried');
    } finally {
      await proxy.close();
    }
  });

  it('a whole load whose bytes do not match the stored MD5 is an IntegrityError', async () => {
    const server = await azurite();
    const proxy = await FaultProxy.start({ host: '127.0.0.1', port: server.port });
    try {
      const storage = accountsOf(server, `${proxy.url}/${AZURITE_ACCOUNT}`).storage(at(server));
      await storage.save('snapshots/s', seededBytes(2000));
      proxy.corruptNextResponse();
      await assert.rejects(storage.load('snapshots/s'), IntegrityError);
      assert.ok((await storage.load('snapshots/s')).equals(seededBytes(2000)));
    } finally {
      await proxy.close();
    }
  });

  it('credentials: none is a UserError naming the variables; a wrong key is a PermanentError', async () => {
    const server = await azurite();
    assert.throws(() => new AzureAccounts({ env: {} }).storage(at(server)), (err: Error) => err instanceof UserError && /AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_KEY/.test(err.message));
    const other = { AZURE_STORAGE_CONNECTION_STRING: server.connectionString().replace(AZURITE_ACCOUNT, 'otheraccount') };
    assert.throws(() => new AzureAccounts({ env: other }).storage(at(server)), UserError);
    const wrongKey = { AZURE_STORAGE_CONNECTION_STRING: server.connectionString().replace(/AccountKey=[^;]+/, `AccountKey=${Buffer.alloc(64, 1).toString('base64')}`) };
    const storage = new AzureAccounts({ env: wrongKey, retry: FAST_RETRY }).storage(at(server));
    await assert.rejects(storage.save('config', seededBytes(3)), (err: Error) => err instanceof PermanentError && /access denied/.test(err.message));
  });

  it('copies inside the account server-side, only bytes that match their name', async () => {
    const server = await azurite();
    const accounts = accountsOf(server);
    const source = at(server, server.newContainer(), 'imports/job-1');
    const target = at(server, server.newContainer(), 'vault');
    const data = seededBytes(5000, 3);
    const id = sha256(data);
    await accounts.storage(source).save(`data/${id.slice(0, 2)}/${id}`, data);
    await accounts.storage(source).save('data/00/wrong', seededBytes(10));
    const vault = accounts.storage(target);
    await vault.save('config', seededBytes(1));
    const copier = accounts.copier(source, target)!;
    assert.equal(await copier.copy(`data/${id.slice(0, 2)}/${id}`, `data/${id.slice(0, 2)}/${id}`, id), 5000);
    assert.ok((await vault.load(`data/${id.slice(0, 2)}/${id}`)).equals(data));
    await assert.rejects(copier.copy('data/00/wrong', 'data/00/wrong', id), IntegrityError);
    await assert.rejects(copier.copy('data/00/missing', 'data/00/missing', id), NotFoundError);
    assert.deepEqual(await listKeys(vault, 'data/'), [`data/${id.slice(0, 2)}/${id}`]);
    assert.equal(accounts.copier(source, { ...target, account: 'otheraccount' }), null, 'another account: streamed by the caller');
  });
});
