import type { FastifyInstance } from 'fastify';

/** One year: browsers then keep to HTTPS for this host even when a link says http://. */
export const HSTS_MAX_AGE_SECONDS = 365 * 24 * 3600;

/**
 * The headers of every answer. The API answers JSON, NDJSON, Prometheus text and object bytes, never a
 * page: nothing may be sniffed as HTML, run, framed, or carry this URL to another site.
 */
const ALWAYS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
};

/**
 * The portal's pages (service/portal/) load their one stylesheet and script from this origin and post
 * forms only to it; nothing inline runs, nothing else loads, nothing frames them.
 */
export const PORTAL_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/**
 * Adds the security headers to every answer fastify sends, errors and 404s included (an `onSend` hook, so
 * answers from the access-control hook and the error handler get them too):
 * `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`, a CSP allowing nothing (`frame-ancestors
 * 'none'`; PORTAL_CSP on the portal's routes), `Referrer-Policy: no-referrer`, `Cross-Origin-Resource-Policy: same-origin`,
 * `Cache-Control: no-store` unless the route chose its own, and with `hsts` (the service speaks TLS)
 * `Strict-Transport-Security: max-age=31536000`. Not HSTS over plain HTTP: browsers ignore it there, and a
 * proxy that terminates TLS (`--insecure-http`) sets its own.
 *
 * Answers node writes without fastify (a malformed request's 400, the 503 while stopping) carry none.
 */
export function installSecurityHeaders(app: FastifyInstance, options: { readonly hsts: boolean }): void {
  const hsts = `max-age=${HSTS_MAX_AGE_SECONDS}`;
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.headers(ALWAYS);
    if (request.routeOptions.config?.portal !== undefined) reply.header('content-security-policy', PORTAL_CSP);
    // Every answer depends on the token that asked for it: no cache along the way may keep one.
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    if (options.hsts) reply.header('strict-transport-security', hsts);
    done(null, payload);
  });
}
