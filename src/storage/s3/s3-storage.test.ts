import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { AlreadyExistsError, IntegrityError, NotFoundError, PermanentError, UserError } from '../../core/errors.js';
import type { S3Location } from '../s3-url.js';
import { listKeys, runStorageConformance, seededBytes } from '../testing/conformance.js';
import { FaultProxy } from '../testing/fault-proxy.js';
import { radosgwSkipReason, useRadosgw, type Radosgw } from '../testing/radosgw.js';
import { createS3Client } from './s3-client.js';
import { s3ConfigFromEnv } from './s3-config.js';
import { S3Endpoint } from './s3-endpoint.js';

const skip = radosgwSkipReason();
const FAST_RETRY = { attempts: 4, baseDelayMs: 10, maxDelayMs: 50 };
const PART = 5 * 1024 * 1024;
const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

describe('S3Storage on Ceph radosgw', { skip }, () => {
  const radosgw = useRadosgw();
  const at = (server: Radosgw, bucket = server.newBucket(), prefix = ''): S3Location => ({ bucket, prefix });
  const endpointOf = (server: Radosgw, through?: string): S3Endpoint => new S3Endpoint({ env: server.envFor(through), retry: FAST_RETRY, partSize: PART });
  /** A raw client, to look at the bucket behind the storage's back. */
  const rawClient = (server: Radosgw): S3Client => createS3Client(s3ConfigFromEnv(server.env), FAST_RETRY);
  const objectNames = async (server: Radosgw, bucket: string): Promise<string[]> =>
    ((await rawClient(server).send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key ?? '').sort();

  // The seam's contract exactly: the bucket's root (a prefix would shorten the longest key).
  runStorageConformance('S3Storage (radosgw)', async () => {
    const server = await radosgw();
    return { storage: endpointOf(server).storage(at(server)), cleanup: async () => {} };
  });

  it('keeps a location under its prefix: two prefixes of one bucket do not see each other', async () => {
    const server = await radosgw();
    const bucket = server.newBucket();
    const endpoint = endpointOf(server);
    const a = endpoint.storage(at(server, bucket, 'tenant-a/vault'));
    const b = endpoint.storage(at(server, bucket, 'tenant-a/vault-2'));
    await a.save('config', seededBytes(10, 1));
    await b.save('config', seededBytes(10, 2));
    assert.deepEqual(await listKeys(a, ''), ['config']);
    assert.ok((await a.load('config')).equals(seededBytes(10, 1)));
    assert.deepEqual(await objectNames(server, bucket), ['tenant-a/vault-2/config', 'tenant-a/vault/config']);
    await assert.rejects(a.save('x'.repeat(255) + '/' + 'y'.repeat(255) + '/' + 'z'.repeat(255) + '/' + 'w'.repeat(255), seededBytes(1)), PermanentError);
  });

  it('saves a large object as a multipart upload, completed only when whole and verified', async () => {
    const server = await radosgw();
    const location = at(server);
    const storage = endpointOf(server).storage(location);
    const data = seededBytes(2 * PART + 100_000, 9);
    async function* pieces(bytes: Buffer, fail?: Error): AsyncGenerator<Uint8Array> {
      // One reused buffer: the storage must copy what it keeps.
      const reused = Buffer.alloc(1024 * 1024);
      for (let i = 0; i < bytes.length; i += reused.length) {
        const n = bytes.copy(reused, 0, i, i + reused.length);
        yield reused.subarray(0, n);
      }
      if (fail) throw fail;
    }
    await assert.rejects(storage.save('data/ab/big', pieces(data), { sha256: sha256(seededBytes(10, 8)) }), IntegrityError);
    const boom = new Error('source failed');
    await assert.rejects(storage.save('data/ab/big', pieces(data, boom)), (err) => err === boom);
    await assert.rejects(storage.save('data/ab/big', pieces(data), { length: data.length + 1 }), IntegrityError);
    await assert.rejects(storage.stat('data/ab/big'), NotFoundError, 'no part became visible');
    const uploads = await rawClient(server).send(new ListMultipartUploadsCommand({ Bucket: location.bucket }));
    assert.equal(uploads.Uploads?.length ?? 0, 0, 'the failed multipart uploads were aborted');
    await storage.save('data/ab/big', pieces(data), { length: data.length, sha256: sha256(data) });
    assert.ok((await storage.load('data/ab/big')).equals(data));
    assert.ok((await storage.load('data/ab/big', { offset: PART - 1000, length: 70_000 })).equals(data.subarray(PART - 1000, PART + 69_000)), 'a range across parts');
    assert.equal((await storage.stat('data/ab/big')).size, data.length);
  });

  it('a create-only save is one PutObject: a larger source is a PermanentError and stores nothing (radosgw ignores the condition on a multipart completion)', async () => {
    const server = await radosgw();
    const storage = endpointOf(server).storage(at(server));
    await assert.rejects(storage.save('data/ab/big', seededBytes(PART + 1, 5), { ifAbsent: true }), PermanentError);
    await assert.rejects(storage.stat('data/ab/big'), NotFoundError);
    await storage.save('data/ab/big', seededBytes(PART, 5), { ifAbsent: true });
    await assert.rejects(storage.save('data/ab/big', seededBytes(PART, 6), { ifAbsent: true }), AlreadyExistsError);
    assert.ok((await storage.load('data/ab/big')).equals(seededBytes(PART, 5)));
  });

  it('a missing bucket lists nothing and loads NotFound; the first save creates it', async () => {
    const server = await radosgw();
    const storage = endpointOf(server).storage(at(server));
    assert.deepEqual(await listKeys(storage, ''), []);
    await assert.rejects(storage.load('config'), NotFoundError);
    await assert.rejects(storage.stat('config'), NotFoundError);
    await storage.remove('config');
    await storage.save('config', seededBytes(3));
    assert.deepEqual(await listKeys(storage, ''), ['config']);
  });

  it('retries throttling and server errors with backoff, multipart parts too; a listing that keeps failing rejects, never lists empty', async () => {
    const server = await radosgw();
    const proxy = await FaultProxy.start({ host: '127.0.0.1', port: server.port });
    try {
      const storage = endpointOf(server, proxy.url).storage(at(server));
      await storage.save('index/i', seededBytes(100));
      for (const status of [503, 500, 429]) {
        proxy.refuseNext(FAST_RETRY.attempts - 1, status, status === 429 ? { 'retry-after': '0' } : {});
        const before = proxy.requests;
        assert.ok((await storage.load('index/i')).equals(seededBytes(100)), `after ${status}`);
        assert.equal(proxy.requests - before, FAST_RETRY.attempts, `${status}: every attempt used`);
      }
      proxy.refuseNext(2, 503);
      const big = seededBytes(PART + 10, 4);
      await storage.save('data/00/big', big, { sha256: sha256(big) });
      assert.ok((await storage.load('data/00/big')).equals(big));
      proxy.refuseNext(FAST_RETRY.attempts, 503);
      await assert.rejects(listKeys(storage, ''), (err: Error) => !(err instanceof NotFoundError) && !(err instanceof PermanentError) && /HTTP 503/.test(err.message));
      assert.deepEqual(await listKeys(storage, ''), ['data/00/big', 'index/i']);
      proxy.refuseNext(1, 400);
      await assert.rejects(storage.load('index/i'), PermanentError, 'a 400 is not retried');
    } finally {
      await proxy.close();
    }
  });

  it('a store that stops mid-upload fails the save cleanly: nothing half written is visible', async () => {
    const server = await radosgw();
    const proxy = await FaultProxy.start({ host: '127.0.0.1', port: server.port });
    try {
      const storage = endpointOf(server, proxy.url).storage(at(server));
      await storage.save('config', seededBytes(5));
      const big = seededBytes(2 * PART + 10, 5);
      // The first part goes up, then the store answers 503 for longer than the retries last.
      async function* slow(): AsyncGenerator<Uint8Array> {
        yield big.subarray(0, PART + 1);
        await new Promise((resolve) => setTimeout(resolve, 200));
        proxy.refuseNext(1000, 503);
        yield big.subarray(PART + 1);
      }
      await assert.rejects(storage.save('data/00/half', slow()), (err: Error) => /HTTP 503/.test(err.message));
      proxy.refuseNext(0, 503);
      await assert.rejects(storage.stat('data/00/half'), NotFoundError);
      assert.deepEqual(await listKeys(storage, ''), ['config']);
    } finally {
      await proxy.close();
    }
  });

  it('a whole load whose bytes do not match the ETag MD5 is an IntegrityError', async () => {
    const server = await radosgw();
    const proxy = await FaultProxy.start({ host: '127.0.0.1', port: server.port });
    try {
      const storage = endpointOf(server, proxy.url).storage(at(server));
      await storage.save('snapshots/s', seededBytes(2000));
      proxy.corruptNextResponse();
      await assert.rejects(storage.load('snapshots/s'), IntegrityError);
      assert.ok((await storage.load('snapshots/s')).equals(seededBytes(2000)));
    } finally {
      await proxy.close();
    }
  });

  it('credentials: none is a UserError naming the variables; a wrong secret is a PermanentError', async () => {
    const server = await radosgw();
    assert.throws(() => new S3Endpoint({ env: {} }).storage(at(server)), (err: Error) => err instanceof UserError && /AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/.test(err.message));
    assert.throws(() => new S3Endpoint({ env: { ...server.env, AWS_ENDPOINT_URL_S3: 'ftp://x' } }).storage(at(server)), UserError);
    const storage = new S3Endpoint({ env: { ...server.env, AWS_SECRET_ACCESS_KEY: 'wrong' }, retry: FAST_RETRY }).storage(at(server));
    await assert.rejects(storage.load('config'), (err: Error) => err instanceof PermanentError && /access denied.*AWS_ACCESS_KEY_ID/.test(err.message));
  });

  it('copies inside the endpoint server-side, only bytes that match their name and still have the hashed ETag', async () => {
    const server = await radosgw();
    const endpoint = endpointOf(server);
    const source = at(server, server.newBucket(), 'imports/job-1');
    const target = at(server, server.newBucket(), 'vault');
    const data = seededBytes(5000, 3);
    const id = sha256(data);
    const key = `data/${id.slice(0, 2)}/${id}`;
    await endpoint.storage(source).save(key, data);
    await endpoint.storage(source).save('data/00/wrong', seededBytes(10));
    const vault = endpoint.storage(target);
    const copier = endpoint.copier(source, target);
    assert.equal(await copier.copy(key, key, id), 5000, 'the target bucket is created on the way');
    assert.ok((await vault.load(key)).equals(data));
    await assert.rejects(copier.copy('data/00/wrong', 'data/00/wrong', id), IntegrityError);
    await assert.rejects(copier.copy('data/00/missing', 'data/00/missing', id), NotFoundError);
    assert.deepEqual(await listKeys(vault, 'data/'), [key]);
  });
});
