import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { request, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PermanentError } from '../../core/errors.js';
import { listKeys, seededBytes, withoutOptionalMethods } from '../../storage/testing/conformance.js';
import type { ByteRange, ObjectInfo, ObjectWriter, SaveOptions, Storage } from '../../storage/storage.js';
import { keyOf, shapedBytes, shapedObject } from '../vault-objects/testing/shaped-objects.js';
import { TEST_TOKENS, TEST_VAULT_ID, createVaultObjectApp, type VaultObjectApp } from '../vault-objects/testing/vault-object-app.js';
import type { ApiErrorBody } from './error-handler.js';
import { DEFAULT_MAX_OBJECT_BYTES } from './vault-objects.js';

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');
const VAULT = `/v1/vaults/${TEST_VAULT_ID}`;
const objectPath = (key: string): string => `${VAULT}/objects/${key}`;

/** The key each kind of content-named object of `bytes` has. */
function layoutKeys(bytes: Buffer): Record<'pack' | 'index' | 'snapshot' | 'keySlot' | 'lock', string> {
  const id = sha256(bytes);
  return { pack: `data/${id.slice(0, 2)}/${id}`, index: `index/${id}`, snapshot: `snapshots/${id}`, keySlot: `keys/${id}`, lock: `locks/${id}` };
}

type Token = keyof typeof TEST_TOKENS;
const apiError = (response: { json: <T>() => T }): ApiErrorBody => response.json<ApiErrorBody>();
const auth = (token: Token): Record<string, string> => ({ authorization: `Bearer ${TEST_TOKENS[token]}` });

async function put(t: VaultObjectApp, token: Token, key: string, body: Buffer, headers: Record<string, string> = {}) {
  return t.app.inject({
    method: 'PUT',
    url: objectPath(key),
    headers: { ...auth(token), 'content-type': 'application/octet-stream', ...headers },
    payload: body,
  });
}
const del = (t: VaultObjectApp, token: Token, key: string) => t.app.inject({ method: 'DELETE', url: objectPath(key), headers: auth(token) });
const get = (t: VaultObjectApp, token: Token, key: string, headers: Record<string, string> = {}) =>
  t.app.inject({ method: 'GET', url: objectPath(key), headers: { ...auth(token), ...headers } });

/** Every file (not folder) under `root`, relative: no object and no temp file may be left by a refused upload. */
async function files(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name).slice(root.length + 1)).sort();
}

/** Runs `body` against a fresh app, closed afterwards. */
async function withApp(body: (t: VaultObjectApp) => Promise<void>, options: Parameters<typeof createVaultObjectApp>[0] = {}): Promise<void> {
  const t = await createVaultObjectApp(options);
  try {
    await body(t);
  } finally {
    await t.close();
  }
}

describe('vault object routes: append-only agents', () => {
  it('an agent creates every kind of layout object, and re-sending the same bytes is a no-op', () =>
    withApp(async (t) => {
      const objects = (['config', 'pack', 'index', 'snapshot', 'key', 'lock'] as const).map((kind) => shapedObject(kind, 3));
      for (const { key, bytes } of objects) {
        const first = await put(t, 'agentA', key, bytes);
        assert.equal(first.statusCode, 201, `${key}: ${first.body}`);
        assert.deepEqual(first.json(), { key, size: bytes.length, stored: true });
        const again = await put(t, 'agentA', key, bytes);
        assert.equal(again.statusCode, 200, `${key}: ${again.body}`);
        assert.deepEqual(again.json(), { key, size: bytes.length, stored: false });
      }
      assert.deepEqual(await listKeys(t.storage, ''), objects.map(({ key }) => key).sort());
      assert.deepEqual(t.bytesStored, objects.map(({ bytes }) => bytes.length), 'only stored objects count for /metrics');
    }));

  it('an agent can neither overwrite nor remove data, index, snapshots, key slots or config', () =>
    withApp(async (t) => {
      const bytes = seededBytes(500, 1);
      const other = seededBytes(500, 2);
      const content = Object.entries(layoutKeys(bytes)).filter(([kind]) => kind !== 'lock');
      for (const [, key] of content) assert.equal((await put(t, 'admin', key, bytes)).statusCode, 201);
      assert.equal((await put(t, 'admin', 'config', bytes)).statusCode, 201);

      for (const [kind, key] of content) {
        const overwrite = await put(t, 'agentA', key, other);
        assert.equal(overwrite.statusCode, 422, `overwrite ${kind}: other bytes cannot carry its name`);
        const remove = await del(t, 'agentA', key);
        assert.equal(remove.statusCode, 403, `remove ${kind}`);
        assert.equal(apiError(remove).code, 'FORBIDDEN');
        assert.match(apiError(remove).message, /append-only/);
      }
      const overwriteConfig = await put(t, 'agentA', 'config', other);
      assert.equal(overwriteConfig.statusCode, 403);
      assert.match(apiError(overwriteConfig).message, /may not overwrite/);
      assert.equal((await del(t, 'agentA', 'config')).statusCode, 403);

      for (const key of ['config', ...content.map(([, key]) => key)]) {
        assert.ok((await t.storage.load(key)).equals(bytes), `${key} is unchanged`);
      }
    }));

  it('a refused removal of an absent object is a no-op, as remove is idempotent', () =>
    withApp(async (t) => {
      const key = layoutKeys(seededBytes(10)).snapshot;
      assert.equal((await del(t, 'agentA', key)).statusCode, 204);
    }));

  it('an agent may create only objects of the repository layout', () =>
    withApp(async (t) => {
      for (const key of ['notes/readme', `data/00/${'ab'.repeat(32)}`, `snapshots/${'AB'.repeat(32)}`]) {
        const response = await put(t, 'agentA', key, seededBytes(64));
        assert.equal(response.statusCode, 403, key);
        assert.match(apiError(response).message, /repository layout/);
      }
      assert.equal((await put(t, 'admin', 'notes/readme', seededBytes(64))).statusCode, 201, 'a tenant-admin may');
      assert.deepEqual(await files(t.root), ['notes/readme']);
    }));

  it('an agent removes its own locks, not those of another machine or of a tenant-admin', () =>
    withApp(async (t) => {
      const [mine, theirs, admins] = [seededBytes(200, 1), seededBytes(200, 2), seededBytes(200, 3)];
      const [myKey, theirKey, adminKey] = [layoutKeys(mine).lock, layoutKeys(theirs).lock, layoutKeys(admins).lock];
      assert.equal((await put(t, 'agentA', myKey, mine)).statusCode, 201);
      assert.equal((await put(t, 'agentB', theirKey, theirs)).statusCode, 201);
      assert.equal((await put(t, 'admin', adminKey, admins)).statusCode, 201);
      assert.equal(t.lockOwnership.size, 2);

      const foreign = await del(t, 'agentA', theirKey);
      assert.equal(foreign.statusCode, 403);
      assert.match(apiError(foreign).message, /another machine/);
      assert.equal((await del(t, 'agentA', adminKey)).statusCode, 403);
      // Re-sending another machine's lock bytes does not make it ours.
      assert.equal((await put(t, 'agentA', theirKey, theirs)).statusCode, 200);
      assert.equal((await del(t, 'agentA', theirKey)).statusCode, 403);

      assert.equal((await del(t, 'agentA', myKey)).statusCode, 204);
      assert.equal((await del(t, 'agentA', myKey)).statusCode, 204, 'a repeated release is fine');
      assert.equal((await del(t, 'admin', theirKey)).statusCode, 204, 'a tenant-admin removes any lock');
      assert.deepEqual(await listKeys(t.storage, 'locks/'), [adminKey]);
      assert.equal(t.lockOwnership.size, 0, 'removed locks leave no ownership record');
    }));

  it("refuses an agent's junk shaped like no repository object, storing nothing; a tenant-admin is not judged", () =>
    withApp(async (t) => {
      const junk = seededBytes(100, 9);
      const keys = Object.values(layoutKeys(junk)).filter((key) => !key.startsWith('locks/'));
      for (const key of keys) {
        const response = await put(t, 'agentA', key, junk);
        assert.equal(response.statusCode, 400, key);
        assert.equal(apiError(response).code, 'OBJECT_SHAPE');
        assert.match(apiError(response).message, /is not (a pack|an index file|a snapshot|a key slot) of the repository format/);
      }
      const tooBig = shapedObject('lock', 4, 70_000);
      assert.equal((await put(t, 'agentA', tooBig.key, tooBig.bytes)).statusCode, 400, 'a lock over 64 KiB');
      assert.deepEqual(await files(t.root), [], 'nothing stored, no temp file left');
      assert.deepEqual(t.bytesStored, []);
      for (const key of keys) assert.equal((await put(t, 'admin', key, junk)).statusCode, 201, key);
    }));

  it('an agent credential without a machine cannot create locks', () =>
    withApp(async (t) => {
      const bytes = seededBytes(50);
      const response = await put(t, 'agentWithoutMachine', layoutKeys(bytes).lock, bytes);
      assert.equal(response.statusCode, 403);
      assert.deepEqual(await files(t.root), []);
    }));
});

/**
 * The vault's storage with every `stat` held until `count` of them were answered: that many uploads all find
 * an object absent before any of them writes, as uploads through several service instances can.
 */
const checksMeetFirst =
  (count: number) =>
  (storage: Storage): Storage => {
    let answered = 0;
    let open = (): void => undefined;
    const opened = new Promise<void>((resolve) => (open = resolve));
    return {
      ...withoutOptionalMethods(storage),
      stat: async (key) => {
        try {
          return await storage.stat(key);
        } finally {
          if (++answered === count) open();
          await opened;
        }
      },
    };
  };

describe('vault object routes: uploads racing past the existence check (several instances)', () => {
  it('two agents create config with other bytes: exactly one is stored, the other refused as an overwrite', () =>
    withApp(
      async (t) => {
        const [a, b] = [shapedObject('config', 1), shapedObject('config', 2)];
        const answers = await Promise.all([put(t, 'agentA', 'config', a.bytes), put(t, 'agentB', 'config', b.bytes)]);
        const statuses = answers.map((x) => x.statusCode).sort();
        assert.deepEqual(statuses, [201, 403], answers.map((x) => x.body).join(' | '));
        const refused = answers.find((x) => x.statusCode === 403)!;
        assert.match(apiError(refused).message, /exists with other bytes; agents are append-only/);
        const winner = answers[0].statusCode === 201 ? a : b;
        assert.ok((await t.storage.load('config')).equals(winner.bytes), "the winner's bytes stay");
        assert.deepEqual(await files(t.root), ['config'], 'no temp file left');
        assert.deepEqual(t.bytesStored, [winner.bytes.length]);
      },
      { wrapStorage: checksMeetFirst(2) },
    ));

  it('the same config sent twice at once (a retry through another instance) is stored once, the other a no-op; a racing lock is accepted twice and owned', () =>
    withApp(
      async (t) => {
        const config = shapedObject('config', 5);
        const lock = shapedObject('lock', 5);
        const answers = await Promise.all([put(t, 'agentA', 'config', config.bytes), put(t, 'agentA', 'config', config.bytes), put(t, 'agentA', lock.key, lock.bytes), put(t, 'agentA', lock.key, lock.bytes)]);
        assert.deepEqual(answers.slice(2).map((x) => x.statusCode), [201, 201], answers.map((x) => x.body).join(' | '));
        assert.deepEqual(answers.slice(0, 2).map((x) => x.json<{ stored: boolean }>().stored).sort(), [false, true]);
        assert.deepEqual(answers.slice(0, 2).map((x) => x.statusCode).sort(), [200, 201]);
        assert.ok((await t.storage.load('config')).equals(config.bytes));
        assert.equal((await del(t, 'agentB', lock.key)).statusCode, 403);
        assert.equal((await del(t, 'agentA', lock.key)).statusCode, 204, 'the machine owns its lock');
      },
      { wrapStorage: checksMeetFirst(4) },
    ));

  it('full access creates only with If-None-Match: *: an existing object is 409 ALREADY_EXISTS and stays', () =>
    withApp(async (t) => {
      const createOnly = { 'if-none-match': '*' };
      assert.equal((await put(t, 'admin', 'notes/a', seededBytes(10, 1), createOnly)).statusCode, 201);
      const again = await put(t, 'admin', 'notes/a', seededBytes(10, 2), createOnly);
      assert.equal(again.statusCode, 409, again.body);
      assert.equal(apiError(again).code, 'ALREADY_EXISTS');
      assert.ok((await t.storage.load('notes/a')).equals(seededBytes(10, 1)));
      assert.equal((await put(t, 'admin', 'notes/a', seededBytes(10, 2), { 'if-none-match': '"abc"' })).statusCode, 400, 'only * is understood');
      assert.equal((await put(t, 'admin', 'notes/a', seededBytes(10, 2))).statusCode, 201, 'without it, full access replaces');
    }));
});

describe('vault object routes: uploads', () => {
  it('bytes that do not match the SHA-256 their key claims are refused with 422 and nothing is stored', () =>
    withApp(async (t) => {
      const bytes = seededBytes(4000, 1);
      const claimed = layoutKeys(seededBytes(4000, 2));
      for (const key of Object.values(claimed)) {
        const response = await put(t, 'admin', key, bytes);
        assert.equal(response.statusCode, 422, `admin ${key}`);
        assert.equal(apiError(response).code, 'INTEGRITY');
      }
      // An agent's uploads are also judged by their shape (object-shape.ts): bytes shaped right, named wrong.
      for (const kind of ['pack', 'index', 'snapshot', 'key', 'lock'] as const) {
        const key = keyOf(kind, shapedBytes(kind, 2, 4000));
        const response = await put(t, 'agentA', key, shapedBytes(kind, 1, 4000));
        assert.equal(response.statusCode, 422, `agentA ${key}`);
        assert.equal(apiError(response).code, 'INTEGRITY');
      }
      const right = layoutKeys(bytes).pack;
      const declared = await put(t, 'admin', right, bytes, { 'x-ferry-sha256': sha256(seededBytes(1)) });
      assert.equal(declared.statusCode, 422, 'a declared sha256 other than the name');
      const plain = await put(t, 'admin', 'config', bytes, { 'x-ferry-sha256': sha256(seededBytes(1)) });
      assert.equal(plain.statusCode, 422, 'a declared sha256 is checked for keys without a claim');
      assert.deepEqual(await files(t.root), []);
      assert.deepEqual(t.bytesStored, []);
      assert.equal((await put(t, 'admin', right, bytes, { 'x-ferry-sha256': sha256(bytes) })).statusCode, 201);
    }));

  it('only application/octet-stream bodies are accepted', () =>
    withApp(async (t) => {
      const response = await t.app.inject({
        method: 'PUT',
        url: objectPath('config'),
        headers: { ...auth('admin'), 'content-type': 'application/json' },
        payload: '{"a":1}',
      });
      assert.equal(response.statusCode, 415);
      assert.deepEqual(await files(t.root), []);
    }));

  it('an empty object can be stored', () =>
    withApp(async (t) => {
      assert.equal((await put(t, 'admin', 'config', Buffer.alloc(0))).statusCode, 201);
      assert.equal((await t.storage.stat('config')).size, 0);
    }));

  it('an upload declaring more than the limit is refused from its Content-Length before its body is read', () =>
    withApp(async (t) => {
      const url = new URL(await t.listen());
      const response = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = request({
          host: url.hostname,
          port: url.port,
          method: 'PUT',
          path: objectPath('config'),
          headers: { ...auth('admin'), 'content-type': 'application/octet-stream', 'content-length': String(DEFAULT_MAX_OBJECT_BYTES + 1) },
        });
        req.on('response', resolve);
        req.on('error', reject);
        // Only a few bytes of the declared 64 MiB ever leave: the answer comes without the rest.
        req.write(Buffer.alloc(1024));
      });
      const body = await readAll(response);
      assert.equal(response.statusCode, 413);
      assert.equal(response.headers.connection, 'close');
      assert.equal((JSON.parse(body) as ApiErrorBody).code, 'PAYLOAD_TOO_LARGE');
      response.socket.destroy();
      assert.deepEqual(await files(t.root), []);
    }));

  it('a chunked upload is cut off once it passes the limit, and nothing is stored', () =>
    withApp(
      async (t) => {
        const url = new URL(await t.listen());
        const response = await new Promise<IncomingMessage>((resolve, reject) => {
          const req = request({
            host: url.hostname,
            port: url.port,
            method: 'PUT',
            path: objectPath('config'),
            headers: { ...auth('admin'), 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' },
          });
          req.on('response', resolve);
          req.on('error', reject);
          for (let i = 0; i < 8; i++) req.write(Buffer.alloc(512));
          req.end();
        });
        await readAll(response);
        assert.equal(response.statusCode, 413);
        assert.deepEqual(await files(t.root), []);
      },
      { maxObjectBytes: 1024 },
    ));

  it('an upload whose client goes away midway stores nothing', async () => {
    let observed: SaveObserver | undefined;
    await withApp(
      async (t) => {
        const url = new URL(await t.listen());
        const req = request({
          host: url.hostname,
          port: url.port,
          method: 'PUT',
          path: objectPath('config'),
          headers: { ...auth('admin'), 'content-type': 'application/octet-stream', 'content-length': '100000' },
        });
        req.on('error', () => undefined);
        req.write(seededBytes(50_000));
        await observed?.started;
        req.destroy();
        const outcome = await observed?.settled;
        assert.ok(outcome instanceof Error, 'the save failed');
        assert.deepEqual(await files(t.root), []);
        assert.deepEqual(await listKeys(t.storage, ''), []);
      },
      { wrapStorage: (storage) => (observed = new SaveObserver(storage)) },
    );
  });
});

describe('vault object routes: keys, reads and listings', () => {
  let t: VaultObjectApp;
  let baseUrl: URL;
  const data = seededBytes(1000, 9);
  before(async () => {
    t = await createVaultObjectApp();
    baseUrl = new URL(await t.listen());
    await t.storage.save('index/plain', data);
  });
  after(() => t.close());

  it('keys that are not valid object keys are refused with 400 for every method, before storage is touched', async () => {
    // Sent over a socket: inject() would normalize "..", and a real client might not.
    const paths = ['a/../b', 'a/%2e%2e/b', '..%2Fconfig', '%2E%2E/%2E%2E/etc/passwd', 'a%00b', 'a%20b', '/x', 'x/', ''];
    for (const method of ['GET', 'HEAD', 'PUT', 'DELETE']) {
      for (const path of paths) {
        const status = await rawStatus(baseUrl, method, `${VAULT}/objects/${path}`);
        assert.equal(status, 400, `${method} ${path}`);
      }
    }
    assert.equal(await rawStatus(baseUrl, 'GET', `/v1/vaults/a%2Fb/objects/config`), 400, 'vault id');
    assert.deepEqual(await files(t.root), ['index/plain']);
  });

  it('answers the whole object, ranges with 206 as RFC 9110 says, a range past the end with 416', async () => {
    const whole = await get(t, 'agentA', 'index/plain');
    assert.equal(whole.statusCode, 200);
    assert.ok(whole.rawPayload.equals(data));
    const part = await get(t, 'agentA', 'index/plain', { range: 'bytes=10-19' });
    assert.equal(part.statusCode, 206);
    assert.equal(part.headers['content-range'], 'bytes 10-19/*');
    assert.ok(part.rawPayload.equals(data.subarray(10, 20)));
    // [Range, first byte, last byte, Content-Range]: clipped, open, suffix, huge numbers.
    const served: ReadonlyArray<readonly [string, number, number, string]> = [
      ['bytes=995-1004', 995, 999, 'bytes 995-999/1000'],
      ['bytes=0-2147483647', 0, 999, 'bytes 0-999/1000'],
      ['bytes=0-99999999999999999999999', 0, 999, 'bytes 0-999/1000'],
      ['bytes=5-', 5, 999, 'bytes 5-999/1000'],
      ['bytes=-5', 995, 999, 'bytes 995-999/1000'],
      ['bytes=-5000', 0, 999, 'bytes 0-999/1000'],
      ['BYTES = 7-8', 7, 8, 'bytes 7-8/*'],
    ];
    for (const [range, first, last, contentRange] of served) {
      const answer = await get(t, 'agentA', 'index/plain', { range });
      assert.equal(answer.statusCode, 206, range);
      assert.equal(answer.headers['content-range'], contentRange, range);
      assert.ok(answer.rawPayload.equals(data.subarray(first, last + 1)), range);
    }
    for (const range of ['bytes=1000-1000', 'bytes=1000-', 'bytes=2147483647-2147483648', 'bytes=99999999999999999999-', 'bytes=-0']) {
      const past = await get(t, 'agentA', 'index/plain', { range });
      assert.equal(past.statusCode, 416, range);
      assert.equal(past.headers['content-range'], 'bytes */1000', range);
      assert.equal(apiError(past).code, 'RANGE_NOT_SATISFIABLE');
    }
    // Several ranges and other units are ignored (RFC 9110 allows it): the whole object.
    for (const range of ['bytes=0-1,4-5', 'items=0-1']) {
      const answer = await get(t, 'agentA', 'index/plain', { range });
      assert.equal(answer.statusCode, 200, range);
      assert.ok(answer.rawPayload.equals(data), range);
    }
    for (const range of ['bytes=9-3', 'bytes=-', 'bytes=a-b', 'bytes=1-2-3', 'bytes 0-1', 'bytes=0x10-20', 'bytes=-1-2']) {
      const answer = await get(t, 'agentA', 'index/plain', { range });
      assert.equal(answer.statusCode, 400, range);
      assert.equal(apiError(answer).code, 'INVALID_RANGE', range);
    }
  });

  it('stats with HEAD, and a missing object is 404 without the server path', async () => {
    const head = await t.app.inject({ method: 'HEAD', url: objectPath('index/plain'), headers: auth('agentB') });
    assert.equal(head.statusCode, 200);
    assert.equal(head.headers['content-length'], '1000');
    const missing = await get(t, 'admin', 'snapshots/nope');
    assert.equal(missing.statusCode, 404);
    assert.equal(apiError(missing).code, 'NOT_FOUND');
    assert.ok(!missing.body.includes(t.root), missing.body);
    assert.equal((await t.app.inject({ method: 'HEAD', url: objectPath('snapshots/nope'), headers: auth('admin') })).statusCode, 404);
  });

  it('needs a credential and a known vault (the resolver decides)', async () => {
    assert.equal((await t.app.inject({ method: 'GET', url: objectPath('index/plain') })).statusCode, 401);
    assert.equal((await t.app.inject({ method: 'GET', url: `/v1/vaults/other/objects/index/plain`, headers: auth('admin') })).statusCode, 404);
    assert.equal((await t.app.inject({ method: 'GET', url: `/v1/vaults/other/objects`, headers: auth('admin') })).statusCode, 404);
  });

  it('lists as NDJSON ending with a done line, filtered by prefix; a bad prefix is 400', async () => {
    const listing = await t.app.inject({ method: 'GET', url: `${VAULT}/objects?prefix=index/`, headers: auth('agentA') });
    assert.equal(listing.statusCode, 200);
    assert.match(String(listing.headers['content-type']), /application\/x-ndjson/);
    assert.deepEqual(ndjson(listing.body), [{ key: 'index/plain', size: 1000 }, { done: true, count: 1 }]);
    const none = await t.app.inject({ method: 'GET', url: `${VAULT}/objects?prefix=snapshots/`, headers: auth('agentA') });
    assert.deepEqual(ndjson(none.body), [{ done: true, count: 0 }]);
    for (const prefix of ['../', '/', 'a//']) {
      const bad = await t.app.inject({ method: 'GET', url: `${VAULT}/objects?prefix=${encodeURIComponent(prefix)}`, headers: auth('agentA') });
      assert.equal(bad.statusCode, 400, prefix);
    }
  });
});

describe('vault object routes: long listings', () => {
  const COUNT = 3000; // about 300 KiB of NDJSON: several batches, streamed

  it('streams a long listing with every object once', () =>
    withApp(async (t) => {
      const keys = await saveMany(t.storage, COUNT);
      const listing = await t.app.inject({ method: 'GET', url: `${VAULT}/objects`, headers: auth('admin') });
      assert.equal(listing.statusCode, 200);
      const lines = ndjson(listing.body);
      assert.deepEqual(lines.at(-1), { done: true, count: COUNT });
      assert.deepEqual(lines.slice(0, -1).map((line) => line.key).sort(), keys);
    }));

  it('a storage failure after the listing started ends it with an error line; before, with a status', async () => {
    let failAfter = 0;
    await withApp(
      async (t) => {
        await saveMany(t.storage, COUNT);
        failAfter = 2000;
        const late = await t.app.inject({ method: 'GET', url: `${VAULT}/objects`, headers: auth('admin') });
        assert.equal(late.statusCode, 200);
        const last = ndjson(late.body).at(-1);
        assert.deepEqual(last, { error: { code: 'PERMANENT', message: 'disk on fire' } });
        failAfter = 0;
        const early = await t.app.inject({ method: 'GET', url: `${VAULT}/objects`, headers: auth('admin') });
        assert.equal(early.statusCode, 507);
        assert.equal(apiError(early).code, 'PERMANENT');
      },
      { wrapStorage: (storage) => new FailingListStorage(storage, () => failAfter) },
    );
  });
});

/** Saves `count` objects with long keys directly into storage; returns their keys, sorted. */
async function saveMany(storage: Storage, count: number): Promise<string[]> {
  const keys = Array.from({ length: count }, (_, i) => `data/${String(i % 100).padStart(2, '0')}/${String(i).padStart(60, 'x')}`);
  for (const key of keys) await storage.save(key, seededBytes(1, 1));
  return keys.sort();
}

interface ListingLine {
  key?: string;
  size?: number;
  done?: boolean;
  count?: number;
  error?: { code: string; message: string };
}
const ndjson = (body: string): ListingLine[] =>
  body
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as ListingLine);

function readAll(response: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => (body += chunk));
    response.on('end', () => resolve(body));
    response.on('error', reject);
  });
}

/** The status of a request sent with `path` exactly as written (no URL normalization). */
function rawStatus(base: URL, method: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: base.hostname,
      port: base.port,
      method,
      path,
      headers: { ...auth('admin'), ...(method === 'PUT' ? { 'content-type': 'application/octet-stream' } : {}) },
    });
    req.on('response', (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(method === 'PUT' ? 'bytes' : undefined);
  });
}

/** Delegates to a storage and tells when the first save started and how it ended. */
class SaveObserver implements Storage {
  readonly properties;
  readonly started: Promise<void>;
  readonly settled: Promise<'stored' | Error>;
  #start = (): void => undefined;
  #settle = (_outcome: 'stored' | Error): void => undefined;

  constructor(private readonly inner: Storage) {
    this.properties = inner.properties;
    this.started = new Promise((resolve) => (this.#start = resolve));
    this.settled = new Promise((resolve) => (this.#settle = resolve));
  }

  async save(key: string, data: Uint8Array | AsyncIterable<Uint8Array>, options?: SaveOptions): Promise<void> {
    this.#start();
    try {
      await this.inner.save(key, data, options);
      this.#settle('stored');
    } catch (err) {
      this.#settle(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }
  begin = (folder: string): Promise<ObjectWriter> => this.inner.begin(folder);
  load = (key: string, range?: ByteRange): Promise<Buffer> => this.inner.load(key, range);
  stat = (key: string): Promise<ObjectInfo> => this.inner.stat(key);
  list = (prefix: string, onObject: (info: ObjectInfo) => void | Promise<void>): Promise<void> => this.inner.list(prefix, onObject);
  remove = (key: string): Promise<void> => this.inner.remove(key);
  close = (): Promise<void> => this.inner.close();
}

/** A storage whose listing fails with a PermanentError after `failAfter()` objects. */
class FailingListStorage implements Storage {
  readonly properties;
  constructor(
    private readonly inner: Storage,
    private readonly failAfter: () => number,
  ) {
    this.properties = inner.properties;
  }
  async list(prefix: string, onObject: (info: ObjectInfo) => void | Promise<void>): Promise<void> {
    let seen = 0;
    const limit = this.failAfter();
    await this.inner.list(prefix, async (info) => {
      if (seen++ >= limit) throw new PermanentError('disk on fire');
      await onObject(info);
    });
  }
  save = (key: string, data: Uint8Array | AsyncIterable<Uint8Array>, options?: SaveOptions): Promise<void> => this.inner.save(key, data, options);
  begin = (folder: string): Promise<ObjectWriter> => this.inner.begin(folder);
  load = (key: string, range?: ByteRange): Promise<Buffer> => this.inner.load(key, range);
  stat = (key: string): Promise<ObjectInfo> => this.inner.stat(key);
  remove = (key: string): Promise<void> => this.inner.remove(key);
  close = (): Promise<void> => this.inner.close();
}

describe('vault object routes: the route table', () => {
  it('has exactly the five documented routes (no implicit HEAD of a listing)', () =>
    withApp(async (t) => {
      const routes = t.app.printRoutes({ commonPrefix: false, includeMeta: false });
      const methods = [...routes.matchAll(/\((.*?)\)/g)].flatMap((match) => match[1]!.split(', ')).sort();
      assert.deepEqual(methods, ['DELETE', 'GET', 'GET', 'HEAD', 'PUT'], routes);
    }));
});
