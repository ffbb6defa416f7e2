import { z } from 'zod';
import type { ApiApp } from './api-app.js';
import type { RegisteredRoute } from './route-access.js';
import { ErrorBody } from './schemas.js';

type JsonSchema = Record<string, unknown>;

/** The parts of an OpenAPI 3.1 document this service writes. */
export interface OpenApiDocument {
  readonly openapi: '3.1.0';
  readonly info: { readonly title: string; readonly version: string; readonly description: string };
  readonly paths: Record<string, Record<string, unknown>>;
  readonly components: { readonly securitySchemes: Record<string, unknown>; readonly schemas: Record<string, JsonSchema> };
}

/**
 * The OpenAPI document of `routes`, made from the same zod schemas that validate requests (so it cannot
 * drift from what the server accepts): path and query parameters, JSON bodies, responses, and for each
 * operation the roles allowed (`x-ferry-access`) and whether it needs a bearer token. The portal's pages
 * (`route.portal`) are for browsers, not part of the API: they are left out.
 */
export function buildOpenApiDocument(routes: readonly RegisteredRoute[], version: string): OpenApiDocument {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes.filter((r) => r.portal === undefined)) {
    const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const schema = (route.schema ?? {}) as Record<string, unknown>;
    const operation: Record<string, unknown> = {
      summary: route.summary,
      'x-ferry-access': route.access,
      security: route.access === 'public' ? [] : [{ bearerToken: [] }],
      parameters: [...parameters(schema.params, 'path'), ...parameters(schema.querystring, 'query')],
      responses: responses(schema.response),
    };
    if (schema.body instanceof z.ZodType) {
      operation.requestBody = { required: true, content: { 'application/json': { schema: jsonSchema(schema.body, 'input') } } };
    }
    (paths[path] ??= {})[route.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Ferry service API', version, description: 'Tenants, storage accounts, vaults, machines, tokens, backup runs and import jobs. See docs/service.md.' },
    paths,
    components: {
      securitySchemes: { bearerToken: { type: 'http', scheme: 'bearer', description: 'A Ferry token (fry_…); never in the URL' } },
      schemas: { Error: jsonSchema(ErrorBody, 'output') },
    },
  };
}

/** GET /openapi.json (public): the document of every route registered on the app, built on first use. */
export function registerOpenApiRoute(app: ApiApp, routes: readonly RegisteredRoute[], version: string): void {
  let document: OpenApiDocument | undefined;
  app.route({
    method: 'GET',
    url: '/openapi.json',
    config: { access: 'public', summary: 'This OpenAPI document' },
    handler: async () => (document ??= buildOpenApiDocument(routes, version)),
  });
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, target: 'draft-2020-12', unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

function parameters(schema: unknown, where: 'path' | 'query'): unknown[] {
  if (!(schema instanceof z.ZodObject)) return [];
  return Object.entries(schema.shape as Record<string, z.ZodType>).map(([name, field]) => ({
    name,
    in: where,
    required: where === 'path' || !field.safeParse(undefined).success,
    schema: jsonSchema(field, 'input'),
  }));
}

function responses(schema: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (typeof schema === 'object' && schema !== null) {
    for (const [status, body] of Object.entries(schema as Record<string, unknown>)) {
      if (body instanceof z.ZodType) out[status] = { description: 'success', content: { 'application/json': { schema: jsonSchema(body, 'output') } } };
    }
  }
  if (Object.keys(out).length === 0) out['200'] = { description: 'success' };
  out.default = { description: 'an error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  return out;
}
