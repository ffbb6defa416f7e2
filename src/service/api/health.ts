import { z } from 'zod';
import type { ServiceContext } from '../context.js';
import { collectGauges } from '../resources/service-stats.js';
import type { ApiApp } from './api-app.js';

/** GET /healthz (public: 200 once the database answers) and GET /metrics (Prometheus text, admin token). */
export function registerHealthRoutes(app: ApiApp, ctx: ServiceContext): void {
  app.route({
    method: 'GET',
    url: '/healthz',
    config: { access: 'public', summary: 'Liveness and readiness: 200 when the service can reach its database' },
    schema: { response: { 200: z.object({ status: z.literal('ok') }) } },
    handler: async () => {
      await ctx.db.selectFrom('tenants').select('id').limit(1).execute();
      return { status: 'ok' as const };
    },
  });
  app.route({
    method: 'GET',
    url: '/metrics',
    config: { access: ['admin'], summary: 'Prometheus metrics in the text exposition format' },
    handler: async (_request, reply) =>
      reply.type('text/plain; version=0.0.4; charset=utf-8').send(ctx.metrics.render(await collectGauges(ctx))),
  });
}
