/**
 * A corpus of hostile requests for every route of the service (run by hostile-run.ts):
 * odd ranges, malformed and absurd headers, path parameters and keys that try to escape, query strings and
 * JSON bodies of the wrong shape, size or depth. Each case is a change to an otherwise plausible request.
 */
import type { InjectOptions } from 'fastify';
import type { RegisteredRoute } from '../api/route-access.js';

/** An otherwise plausible request for a route, before a hostile case changes it. */
export interface BaseRequest {
  readonly params: Readonly<Record<string, string>>;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: unknown;
}

/** One hostile case: a name for failure messages and the request it makes of a route. */
export interface HostileCase {
  readonly name: string;
  /** The request, or undefined when the case does not apply to the route (e.g. a body for a GET). */
  build(route: RegisteredRoute, base: BaseRequest): InjectOptions | undefined;
}

const BIG_NUMBER = '9'.repeat(40);
const HOSTILE_SEGMENTS = [
  '..', '%2e%2e', '%2E%2E%2F%2E%2E', '.', '%00', 'a%00b', '%2F', '-1', BIG_NUMBER, '1e309', '__proto__', 'constructor',
  'prototype', '%F0%9F%92%A9', '%C3%A9', '%E2%80%AE', '%FF%FE', 'x'.repeat(5000), '%25', ' ', '%20', 'null', 'undefined',
];
const HOSTILE_KEYS = [
  '../config', 'a/../../b', '%2e%2e/%2e%2e/etc/passwd', 'keys/%00', 'keys/a%00b', `keys/${'k'.repeat(256)}`,
  `${'a'.repeat(255)}/${'b'.repeat(255)}/${'c'.repeat(255)}/${'d'.repeat(255)}`, `data/${'x'.repeat(2000)}`, 'keys/%F0%9F%92%A9',
  '__proto__', 'constructor/prototype', 'locks/.tmp-0123456789abcdef', 'keys//double', 'keys/./x', '%5C..%5Cwindows',
];
const RANGES = [
  'bytes=0-2147483647', 'bytes=0-4294967296', `bytes=0-${BIG_NUMBER}`, `bytes=${BIG_NUMBER}-`, `bytes=-${BIG_NUMBER}`,
  'bytes=2147483647-2147483648', 'bytes=-0', 'bytes=-1', 'bytes=5-1', 'bytes=-1-2', 'bytes=1e3-2e3', 'bytes=0x0-0x10',
  Array.from({ length: 500 }, (_, i) => `${i * 2}-${i * 2}`).join(',').replace(/^/, 'bytes='), 'bytes=', 'bytes', 'items=0-1',
  'bytes=0-0,-1', ' bytes = 0 - 1 ', 'bytes=\u00bd-1',
];
const AUTHORIZATIONS = [
  'Bearer', 'Bearer ', 'Bearer  ', 'Basic dXNlcjpwYXNz', `Bearer fry_adm_${'A'.repeat(8000)}`, 'Bearer fry_adm_', 'bearer fry_xyz_abc',
  `Bearer ${'\u00e9'.repeat(10)}`, 'Bearer fry_adm_AAAA AAAA', 'Digest x', 'Bearer null', 'Bearer undefined', 'Bearer __proto__',
];
const CONTENT_TYPES = [
  'text/plain', 'application/json; charset=utf-16', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x',
  'application/octet-stream', 'application/json', 'application/xml', 'application/json; charset=nonsense', '*/*', 'application/',
  'APPLICATION/JSON', 'application/json;;;;', `application/json; ${'p=1; '.repeat(500)}`,
];
const HOSTILE_VALUES: readonly unknown[] = [
  null, true, -1, 0, -0.5, 1e308, -1e308, 2 ** 53 + 1, 2 ** 31, '', 'x'.repeat(40_000), [], [null], {}, { __proto__: null, polluted: 1 },
  '../../etc/passwd', '\u0000', '\ud800', '9999-12-31T23:59:59.999Z', '0000-00-00T00:00:00.000Z', '-271821-04-20T00:00:00.000Z',
  'fry_adm_AAAA', BIG_NUMBER, Array.from({ length: 5000 }, (_, i) => i),
];
const RAW_BODIES: readonly string[] = [
  'null', '[]', '"string"', '123', 'true', '{}', '{', '{"a":1,}', '\ufeff{}', '{"a":1e400}', '{"a":-0}',
  '['.repeat(10_000) + ']'.repeat(10_000), '{"a":'.repeat(5000) + '1' + '}'.repeat(5000),
  '{"__proto__":{"polluted":true}}', '{"constructor":{"prototype":{"polluted":true}}}', '{"__proto__":[],"a":1}',
  `{"a":"${'\\u0000'.repeat(1000)}"}`, `{"a":"\\ud800"}`, JSON.stringify({ a: 'x'.repeat(70 * 1024) }), '\u0000\u0001\u0002',
  `[${'1,'.repeat(20_000)}1]`, '{"a":1}'.repeat(2),
];
const QUERIES = [
  'limit=-1', `limit=${BIG_NUMBER}`, 'limit=1e3', 'limit=abc', 'limit[]=1', 'limit=1&limit=2', 'prefix=../', 'prefix=%00',
  `prefix=${'a'.repeat(5000)}`, 'prefix=keys/../..', '__proto__[polluted]=1', 'constructor[prototype][polluted]=1',
  'diskId=..', `diskId=${'d'.repeat(5000)}`, `name=${'n'.repeat(10_000)}`, 'name=%00', 'a=1&'.repeat(2000), '%', '&&&=&=',
  'prefix[__proto__]=x', 'limit=0x10', 'limit=+5', 'limit= 5',
];

/** The URL of a route with its parameters filled (values are used as given: they may be percent-encoded). */
export function fillUrl(route: RegisteredRoute, params: Readonly<Record<string, string>>): string {
  return route.url.replace(/:([A-Za-z0-9_]+)/g, (_m, name: string) => params[name] ?? 'missing').replace(/\*$/, () => params['*'] ?? 'missing');
}

const hasBody = (route: RegisteredRoute): boolean => route.method === 'POST' || route.method === 'PUT' || route.method === 'PATCH';
const isObjectRoute = (route: RegisteredRoute): boolean => route.url.endsWith('/objects/*');

function request(route: RegisteredRoute, base: BaseRequest, change: Partial<InjectOptions> & { params?: Record<string, string> } = {}): InjectOptions {
  const { params, ...rest } = change;
  const body = base.body;
  return {
    method: route.method,
    url: fillUrl(route, { ...base.params, ...params }),
    headers: { ...base.headers, ...(rest.headers as Record<string, string> | undefined) },
    ...(body !== undefined && hasBody(route) ? { payload: body as InjectOptions['payload'] } : {}),
    ...('payload' in rest ? { payload: rest.payload } : {}),
    ...(rest.query !== undefined ? { query: rest.query } : {}),
  };
}

/** Every hostile case. */
export function hostileCases(): HostileCase[] {
  const cases: HostileCase[] = [{ name: 'the plain request', build: (route, base) => request(route, base) }];
  for (const segment of HOSTILE_SEGMENTS) {
    cases.push({
      name: `every path parameter ${JSON.stringify(segment.slice(0, 30))}`,
      build: (route, base) => {
        const names = [...route.url.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
        if (names.length === 0) return undefined;
        return request(route, base, { params: Object.fromEntries(names.map((name) => [name, segment])) });
      },
    });
  }
  for (const key of HOSTILE_KEYS) {
    cases.push({ name: `object key ${JSON.stringify(key.slice(0, 40))}`, build: (route, base) => (route.url.endsWith('*') ? request(route, base, { params: { '*': key } }) : undefined) });
  }
  for (const range of RANGES) {
    cases.push({ name: `Range ${JSON.stringify(range.slice(0, 40))}`, build: (route, base) => request(route, base, { headers: { range } }) });
  }
  for (const authorization of AUTHORIZATIONS) {
    cases.push({ name: `Authorization ${JSON.stringify(authorization.slice(0, 30))}`, build: (route, base) => request(route, base, { headers: { authorization } }) });
  }
  for (const contentType of CONTENT_TYPES) {
    cases.push({
      name: `Content-Type ${JSON.stringify(contentType.slice(0, 40))}`,
      build: (route, base) => (hasBody(route) ? request(route, base, { headers: { 'content-type': contentType }, payload: Buffer.from(JSON.stringify(base.body ?? {})) }) : undefined),
    });
  }
  for (const [name, value] of [
    ['x-ferry-sha256', 'G'.repeat(64)],
    ['x-ferry-sha256', 'a'.repeat(10_000)],
    ['accept', 'application/x-ndjson, */*;q=0'],
    ['accept-encoding', 'gzip;q=1e400, br'],
    ['if-none-match', '*'],
    ['transfer-encoding', 'identity'],
    ['expect', '100-continue'],
    ['x-forwarded-for', '127.0.0.1, ::1'],
    ['host', 'evil.example:99999'],
    ['cookie', `session=${'c'.repeat(4000)}`],
  ] as const) {
    cases.push({ name: `header ${name}: ${JSON.stringify(value.slice(0, 30))}`, build: (route, base) => request(route, base, { headers: { [name]: value } }) });
  }
  for (const query of QUERIES) {
    cases.push({ name: `query ${JSON.stringify(query.slice(0, 40))}`, build: (route, base) => ({ ...request(route, base), url: `${fillUrl(route, base.params)}?${query}` }) });
  }
  for (const raw of RAW_BODIES) {
    cases.push({
      name: `JSON body ${JSON.stringify(raw.slice(0, 30))}`,
      build: (route, base) =>
        hasBody(route) && !isObjectRoute(route) ? request(route, base, { headers: { 'content-type': 'application/json' }, payload: raw }) : undefined,
    });
  }
  for (const value of HOSTILE_VALUES) {
    cases.push({
      name: `every body field set to ${JSON.stringify(value)?.slice(0, 30)}`,
      build: (route, base) => {
        if (!hasBody(route) || isObjectRoute(route) || typeof base.body !== 'object' || base.body === null) return undefined;
        // One field at a time would multiply the corpus; the schema checks each field anyway, and every
        // field hostile at once reaches the same validators.
        const body = Object.fromEntries(Object.keys(base.body).map((field) => [field, value]));
        return request(route, base, { payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      },
    });
    cases.push({
      name: `one extra field __proto__ = ${JSON.stringify(value)?.slice(0, 30)}`,
      build: (route, base) => {
        if (!hasBody(route) || isObjectRoute(route) || typeof base.body !== 'object' || base.body === null) return undefined;
        const json = JSON.stringify(base.body).replace(/^\{/, `{"__proto__":${JSON.stringify(value) ?? 'null'},`).replace(/,\}$/, '}');
        return request(route, base, { payload: json, headers: { 'content-type': 'application/json' } });
      },
    });
  }
  // Uploads over the limit and lying Content-Lengths need a socket: test/e2e/hostile-serve.test.ts.
  for (const [name, payload] of [
    ['an empty upload', Buffer.alloc(0)],
    ['a JSON document as an object', Buffer.from('{"__proto__":{"polluted":true}}')],
  ] as const) {
    cases.push({
      name,
      build: (route, base) =>
        route.method === 'PUT' && isObjectRoute(route) ? request(route, base, { headers: { 'content-type': 'application/octet-stream' }, payload }) : undefined,
    });
  }
  return cases;
}
