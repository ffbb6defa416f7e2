/**
 * The portal's two cookies: the session (its secret) and the sign-in form's CSRF token (before there is a
 * session, the form and this cookie must carry the same random value). Both are HttpOnly,
 * SameSite=Strict and Path=/; over TLS they are Secure and named with the `__Host-` prefix, so no other
 * host or path can set them.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

const SESSION = 'ferry-session';
const SIGN_IN = 'ferry-sign-in';

/** How long the sign-in form's token cookie lives. */
const SIGN_IN_COOKIE_SECONDS = 3600;

function isTls(request: FastifyRequest): boolean {
  return request.protocol === 'https';
}

function nameOf(request: FastifyRequest, base: string): string {
  return isTls(request) ? `__Host-${base}` : base;
}

/** The cookies of the request's `Cookie` header, by name (the first of repeated names wins). */
export function requestCookies(request: FastifyRequest): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at <= 0) continue;
    const name = part.slice(0, at).trim();
    if (!cookies.has(name)) cookies.set(name, part.slice(at + 1).trim());
  }
  return cookies;
}

/** The session secret the browser sent, if any. */
export function sessionCookie(request: FastifyRequest): string | undefined {
  return requestCookies(request).get(nameOf(request, SESSION)) || undefined;
}

/** The sign-in form token the browser sent, if any. */
export function signInCookie(request: FastifyRequest): string | undefined {
  return requestCookies(request).get(nameOf(request, SIGN_IN)) || undefined;
}

function cookie(request: FastifyRequest, base: string, value: string, maxAgeSeconds: number): string {
  const attributes = [`${nameOf(request, base)}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`];
  if (isTls(request)) attributes.push('Secure');
  return attributes.join('; ');
}

/** Sets the session cookie until `expiresAt` (the session's end) and removes the sign-in form's cookie. */
export function setSessionCookie(request: FastifyRequest, reply: FastifyReply, secret: string, expiresAt: string, now: number): void {
  reply.header('set-cookie', [cookie(request, SESSION, secret, (Date.parse(expiresAt) - now) / 1000), cookie(request, SIGN_IN, '', 0)]);
}

/** Removes the session cookie (sign-out). */
export function clearSessionCookie(request: FastifyRequest, reply: FastifyReply): void {
  reply.header('set-cookie', cookie(request, SESSION, '', 0));
}

/** Sets the sign-in form's token cookie. */
export function setSignInCookie(request: FastifyRequest, reply: FastifyReply, token: string): void {
  reply.header('set-cookie', cookie(request, SIGN_IN, token, SIGN_IN_COOKIE_SECONDS));
}
