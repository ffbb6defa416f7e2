import type { FastifyInstance, FastifyRequest } from 'fastify';

const held = new WeakMap<FastifyRequest, (() => Promise<void>)[]>();

/**
 * Closes `release` once the request is over: after its response was sent, or when the client went away.
 * For per-request resources such as a vault's Storage. A failing release is logged, never thrown.
 */
export function releaseAfterResponse(request: FastifyRequest, release: () => Promise<void>): void {
  const list = held.get(request);
  if (list) list.push(release);
  else held.set(request, [release]);
}

/** Installs the hooks that run what {@link releaseAfterResponse} registered. */
export function installRequestResources(app: FastifyInstance): void {
  const releaseAll = async (request: FastifyRequest): Promise<void> => {
    const list = held.get(request);
    if (list === undefined) return;
    held.delete(request);
    for (const release of list) {
      await release().catch((err: unknown) => request.log.warn({ err }, 'releasing a request resource failed'));
    }
  };
  app.addHook('onResponse', releaseAll);
  app.addHook('onRequestAbort', releaseAll);
}
