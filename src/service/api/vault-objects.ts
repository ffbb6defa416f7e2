/**
 * The vault object routes: the Storage interface over HTTP, for `HttpStorage` (src/storage/http/) and any
 * other client. The wire protocol is specified in docs/service-http-storage.md; the rules of who may do what
 * live in ../vault-objects/object-access-policy.ts, the operations in ../vault-objects/vault-objects.ts.
 *
 *   GET    /v1/vaults/:vaultId/objects?prefix=P   list (NDJSON, streamed)
 *   GET    /v1/vaults/:vaultId/objects/<key>      load; `Range: bytes=A-B`, `bytes=A-`, `bytes=-N` → 206 (416 past the end)
 *   HEAD   /v1/vaults/:vaultId/objects/<key>      stat (Content-Length)
 *   PUT    /v1/vaults/:vaultId/objects/<key>      save (application/octet-stream, streamed)
 *   DELETE /v1/vaults/:vaultId/objects/<key>      remove (idempotent)
 */
import { allocateAligned } from '../../os/direct-write.js';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ForbiddenError, IntegrityError } from '../../core/errors.js';
import { assertValidPrefix, isValidKey } from '../../storage/object-key.js';
import { contentRange, exactRange, parseRangeHeader, resolveRange, type RangeRequest } from './byte-ranges.js';
import type { ByteRange } from '../../storage/storage.js';
import type { LockOwnership, ObjectProvenance, ResolvedVault } from '../vault-objects/vault-access.js';
import { VaultObjects } from '../vault-objects/vault-objects.js';
import { toApiError } from './error-handler.js';
import type { RouteAccess } from './route-access.js';
import { ListingAbandonedError, ListingWriter } from './vault-object-listing.js';
import { BufferPool } from '../../core/buffer-pool.js';
import { gatheredBody, UPLOAD_BUFFERS_KEPT, UPLOAD_CHUNK_BYTES } from './upload-body.js';

export type { LockOwnership, ObjectProvenance, ObjectWriter, ResolvedVault } from '../vault-objects/vault-access.js';

/** The largest object accepted by default: packs are about 16 MiB, so this leaves room. */
export const DEFAULT_MAX_OBJECT_BYTES = 64 * 1024 * 1024;

/** What the routes need from the rest of the service. */
export interface VaultObjectRouteDeps {
  /** Authenticates the request for `vaultId`; throws typed errors (401, 403, and 404 for other tenants' vaults). */
  resolveVault(request: FastifyRequest, vaultId: string): Promise<ResolvedVault>;
  lockOwnership: LockOwnership;
  /** Where the vault routes record who stored (and removed) which object; nothing is recorded when absent. */
  objectProvenance?: ObjectProvenance;
  /** Called with the size of every object stored, for /metrics. */
  onBytesStored?(bytes: number): void;
  /** The largest object accepted, in bytes; default {@link DEFAULT_MAX_OBJECT_BYTES}. */
  maxObjectBytes?: number;
  /**
   * Called after a DELETE removed `key` of vault `vaultId` (no `refusal`), or when the access policy refused
   * it (`refusal`, a ForbiddenError): the audit log's hook. Its errors fail the request.
   */
  onRemove?: (request: FastifyRequest, vaultId: string, key: string, refusal?: ForbiddenError) => Promise<void>;
}

/** An upload larger than the limit: refused from its Content-Length before any byte is read, or as it streams. */
class PayloadTooLargeError extends Error {
  readonly statusCode = 413;
  readonly code = 'PAYLOAD_TOO_LARGE';
}

/** The client went away before its upload was complete: nothing was stored, and nobody is left to answer. */
class UploadAbortedError extends Error {
  readonly statusCode = 400;
  readonly code = 'UPLOAD_ABORTED';
}

/** The buffers every upload of this process is gathered into (upload-body.ts). */
// Aligned, so an FsStorage account writes the chunks past the page cache (os/direct-write.ts).
const uploadBuffers = new BufferPool(UPLOAD_BUFFERS_KEPT * UPLOAD_CHUNK_BYTES, allocateAligned);

const OBJECT_CONTENT_TYPE = 'application/octet-stream';
const LISTING_CONTENT_TYPE = 'application/x-ndjson';
const SHA256_HEADER = 'x-ferry-sha256';

const vaultIdSchema = z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'a vault id is 1 to 128 of [A-Za-z0-9._-]');
const keySchema = z.string().refine(isValidKey, {
  message: 'not a valid object key: `/`-separated segments of [A-Za-z0-9._-], none "." or "..", none over 255 characters, at most 1024 characters',
});
const listQuery = z.object({
  prefix: z.string().refine(isValidPrefix, { message: 'not a valid key prefix' }).default(''),
});
const saveHeaders = z.looseObject({
  [SHA256_HEADER]: z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex SHA-256').optional(),
  // Create only (RFC 9110 conditional request); an existing object is answered 409 ALREADY_EXISTS.
  'if-none-match': z.literal('*', { error: 'only If-None-Match: * (create only) is supported' }).optional(),
});

/** Who may reach the object routes at all; resolveVault then decides full or append-only, or 404. */
const VAULT_OBJECT_ACCESS: RouteAccess = ['admin', 'tenant-admin', 'agent'];

/**
 * One set of object routes: the Storage interface over HTTP under `<base>/objects`, for a vault or for an
 * import job's objects. Both speak the same wire protocol (docs/service-http-storage.md).
 */
export interface ObjectRouteSpec {
  /** The URL the routes hang under, with one parameter: `/v1/vaults/:vaultId`. */
  readonly base: string;
  /** That parameter's name and schema. */
  readonly param: string;
  readonly paramSchema: z.ZodString;
  /** What the OpenAPI summaries call the owner: "vault", "import". */
  readonly noun: string;
  readonly access: RouteAccess;
  /** Authenticates the request for the owner `id` and opens its storage (typed errors: 401, 403, 404, 409). */
  resolve(request: FastifyRequest, id: string): Promise<ResolvedVault>;
  /** The key the owner's uploads and locks are serialized and recorded under (the vault id; `import:<jobId>`). */
  scopeOf(id: string): string;
  /** Whether DELETE exists (imports have none: closing the job removes them). */
  readonly remove: boolean;
  /** See {@link VaultObjectRouteDeps.onRemove}. */
  onRemove?: (request: FastifyRequest, id: string, key: string, refusal?: ForbiddenError) => Promise<void>;
  /** Refuses a key for upload before anything is read (a `UserError`, 400); all keys when absent. */
  checkUploadKey?(key: string): void;
  /** Append-only uploads must be shaped like repository objects (../vault-objects/object-shape.ts). */
  readonly checkShapes?: boolean;
  /** Records provenance (the vault routes: `deps.objectProvenance`). */
  readonly provenance?: ObjectProvenance;
}

/**
 * Registers the vault object routes in their own encapsulated context (it accepts only
 * application/octet-stream bodies, streamed, up to `maxObjectBytes`). Errors are typed and left to the API's
 * one error handler (installErrorHandler), except a range past the end of an object, answered 416.
 */
export function registerVaultObjectRoutes(app: FastifyInstance, deps: VaultObjectRouteDeps): void {
  registerObjectRoutes(app, deps, {
    base: '/v1/vaults/:vaultId',
    param: 'vaultId',
    paramSchema: vaultIdSchema,
    noun: 'vault',
    access: VAULT_OBJECT_ACCESS,
    resolve: (request, id) => deps.resolveVault(request, id),
    scopeOf: (id) => id,
    remove: true,
    ...(deps.onRemove !== undefined ? { onRemove: deps.onRemove } : {}),
    checkShapes: true,
    provenance: deps.objectProvenance,
  });
}

/** What {@link registerObjectRoutes} needs besides the spec: the lock records, metrics and the size limit. */
export type ObjectRouteDeps = Omit<VaultObjectRouteDeps, 'resolveVault' | 'onRemove' | 'objectProvenance'>;

/** Registers one set of object routes (see {@link ObjectRouteSpec}) in its own encapsulated context. */
export function registerObjectRoutes(app: FastifyInstance, deps: ObjectRouteDeps, spec: ObjectRouteSpec): void {
  const objects = new VaultObjects({
    lockOwnership: deps.lockOwnership,
    onBytesStored: (bytes) => deps.onBytesStored?.(bytes),
    checkShapes: spec.checkShapes ?? false,
    provenance: spec.provenance,
  });
  const maxObjectBytes = deps.maxObjectBytes ?? DEFAULT_MAX_OBJECT_BYTES;
  const listParams = z.object({ [spec.param]: spec.paramSchema });
  const objectParams = z.object({ [spec.param]: spec.paramSchema, '*': keySchema });
  const idOf = (request: FastifyRequest): string => (request.params as Record<string, string>)[spec.param]!;
  const keyOf = (request: FastifyRequest): string => (request.params as Record<string, string>)['*']!;
  const { noun, access } = spec;

  void app.register(async (plain) => {
    plain.setValidatorCompiler(validatorCompiler);
    const scope = plain.withTypeProvider<ZodTypeProvider>();
    // No JSON or text parsing here: an upload body is a stream handed to storage as it arrives.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(OBJECT_CONTENT_TYPE, (request, payload, done) => {
      const declared = Number(request.headers['content-length']);
      if (declared > request.routeOptions.bodyLimit) {
        done(new PayloadTooLargeError(`objects are limited to ${request.routeOptions.bodyLimit} bytes; this upload declares ${declared}`), undefined);
        return;
      }
      done(null, payload);
    });

    scope.route({
      method: 'GET',
      url: `${spec.base}/objects`,
      config: { access, summary: `List ${noun} objects under a prefix (streamed JSON lines)` },
      exposeHeadRoute: false,
      schema: { params: listParams, querystring: listQuery },
      handler: async (request, reply) => {
        const { prefix } = request.query;
        const vault = await spec.resolve(request, idOf(request));
        return sendListing(request, reply, (writer) => objects.list(vault, prefix, (info) => writer.add(info)));
      },
    });

    scope.route({
      method: 'GET',
      url: `${spec.base}/objects/*`,
      config: { access, summary: `Read ${noun === 'import' ? 'an' : 'a'} ${noun} object, whole or a byte range` },
      exposeHeadRoute: false,
      schema: { params: objectParams },
      handler: async (request, reply) => {
        const key = keyOf(request);
        const wanted = parseRangeHeader(request.headers.range);
        const vault = await spec.resolve(request, idOf(request));
        reply.header('cache-control', 'no-store').header('accept-ranges', 'bytes');
        if (wanted.kind === 'whole') return reply.type(OBJECT_CONTENT_TYPE).send(await objects.load(vault, key));
        return sendRange(reply, wanted, {
          load: (range) => objects.load(vault, key, range),
          size: async () => (await objects.stat(vault, key)).size,
        });
      },
    });

    scope.route({
      method: 'HEAD',
      url: `${spec.base}/objects/*`,
      config: { access, summary: `Size of ${noun === 'import' ? 'an' : 'a'} ${noun} object` },
      schema: { params: objectParams },
      handler: async (request, reply) => {
        const vault = await spec.resolve(request, idOf(request));
        const info = await objects.stat(vault, keyOf(request));
        return reply
          .header('cache-control', 'no-store')
          .header('content-length', String(info.size))
          .type(OBJECT_CONTENT_TYPE)
          .send();
      },
    });

    scope.route({
      method: 'PUT',
      url: `${spec.base}/objects/*`,
      config: { access, summary: `Store ${noun === 'import' ? 'an' : 'a'} ${noun} object (streamed, verified against the hash its name claims)` },
      bodyLimit: maxObjectBytes,
      schema: { params: objectParams, headers: saveHeaders },
      handler: async (request, reply) => {
        const id = idOf(request);
        const key = keyOf(request);
        const sha256 = request.headers[SHA256_HEADER];
        const length = declaredLength(request);
        try {
          spec.checkUploadKey?.(key);
          const vault = await spec.resolve(request, id);
          const body = request.body as Readable | undefined;
          const source = body === undefined ? undefined : gatheredBody(body, uploadBuffers);
          const result = await objects.upload(spec.scopeOf(id), vault, key, limited(source, maxObjectBytes), { length, sha256, ifAbsent: request.headers['if-none-match'] === '*' });
          return await reply.status(result.stored ? 201 : 200).send({ key, size: result.size, stored: result.stored });
        } catch (err) {
          // The rest of a refused body is not read; the connection cannot carry another request after it.
          if (!request.raw.complete) reply.header('connection', 'close');
          throw err;
        }
      },
    });

    if (!spec.remove) return;
    scope.route({
      method: 'DELETE',
      url: `${spec.base}/objects/*`,
      config: { access, summary: `Remove a ${noun} object (agents: only their own machine's lock objects)` },
      schema: { params: objectParams },
      handler: async (request, reply) => {
        const id = idOf(request);
        const key = keyOf(request);
        const vault = await spec.resolve(request, id);
        await objects.remove(spec.scopeOf(id), vault, key).catch(async (err: unknown) => {
          if (err instanceof ForbiddenError) await spec.onRemove?.(request, id, key, err);
          throw err;
        });
        await spec.onRemove?.(request, id, key);
        return reply.status(204).send();
      },
    });
  });
}

/**
 * Answers a listing: a listing that ends or fails before its first batch is full is answered whole, with
 * the status its outcome deserves; a longer one streams, and a failure after the first batch ends the
 * stream with an error line.
 */
async function sendListing(
  request: FastifyRequest,
  reply: FastifyReply,
  list: (writer: ListingWriter) => Promise<void>,
): Promise<FastifyReply> {
  const writer = new ListingWriter();
  reply.raw.once('close', () => writer.stream.destroy());
  let failure: { error: unknown } | undefined;
  const listing = list(writer).catch((error: unknown) => void (failure = { error }));
  await Promise.race([listing, writer.whenStarted]);
  reply.header('cache-control', 'no-store').type(LISTING_CONTENT_TYPE);
  if (!writer.started) {
    await listing;
    if (failure !== undefined) throw failure.error;
    return reply.send(writer.completeBody());
  }
  void listing.then(async () => {
    try {
      if (failure === undefined) return await writer.finish();
      if (failure.error instanceof ListingAbandonedError) return;
      const { status, body } = toApiError(failure.error);
      if (status >= 500) request.log.error({ err: failure.error }, 'listing failed after it started');
      await writer.fail(body);
    } catch (err) {
      // Only a client that went away lands here; there is nobody left to tell.
      request.log.debug({ err }, 'listing not delivered');
    }
  });
  return reply.send(writer.stream);
}

/** The body as a source that fails once it passes `limit` bytes, or when the client goes away mid-upload. */
async function* limited(body: AsyncIterable<Buffer> | undefined, limit: number): AsyncGenerator<Buffer> {
  if (body === undefined) return;
  let size = 0;
  try {
    for await (const chunk of body) {
      size += chunk.byteLength;
      if (size > limit) throw new PayloadTooLargeError(`objects are limited to ${limit} bytes; this upload sent more`);
      yield chunk;
    }
  } catch (err) {
    if (err instanceof PayloadTooLargeError) throw err;
    throw new UploadAbortedError('the upload ended before it was complete; nothing was stored', { cause: err });
  }
}

/** The request's Content-Length, or undefined for a chunked upload. */
function declaredLength(request: FastifyRequest): number | undefined {
  const header = request.headers['content-length'];
  return header === undefined ? undefined : Number(header);
}

/**
 * Answers a ranged read with 206, or 416 and `Content-Range: bytes *\/SIZE` when the range selects nothing.
 * A `bytes=FIRST-LAST` of safe integers is loaded at once (the common case: one storage call, and the
 * storage refuses a range past the end without allocating it); any other range, or one that did not fit,
 * is resolved against the object's size first (clipped, suffix, open), so no client number sizes anything.
 */
async function sendRange(
  reply: FastifyReply,
  wanted: Exclude<RangeRequest, { kind: 'whole' }>,
  object: { load(range: ByteRange): Promise<Buffer>; size(): Promise<number> },
): Promise<FastifyReply> {
  const exact = exactRange(wanted);
  if (exact !== undefined) {
    try {
      const bytes = await object.load(exact);
      return await reply.status(206).header('content-range', contentRange(exact)).type(OBJECT_CONTENT_TYPE).send(bytes);
    } catch (err) {
      if (!(err instanceof IntegrityError)) throw err;
    }
  }
  const size = await object.size();
  const range = resolveRange(wanted, size);
  if (range === 'unsatisfiable') {
    return reply
      .status(416)
      .header('content-range', `bytes */${size}`)
      .send({ code: 'RANGE_NOT_SATISFIABLE', message: `the range selects no byte of this object of ${size} bytes` });
  }
  const bytes = await object.load(range);
  return reply.status(206).header('content-range', contentRange(range, size)).type(OBJECT_CONTENT_TYPE).send(bytes);
}

function isValidPrefix(prefix: string): boolean {
  try {
    assertValidPrefix(prefix);
    return true;
  } catch {
    return false;
  }
}
