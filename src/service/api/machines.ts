import { z } from 'zod';
import type { ServiceContext } from '../context.js';
import { listMachines } from '../resources/machines.js';
import { AgentSchedule } from './agent-schedules.js';
import type { ApiApp } from './api-app.js';
import { principalOf } from './route-access.js';
import { RecordId, Timestamp, VaultParams } from './schemas.js';

const Machine = z.object({
  id: RecordId,
  vaultId: RecordId,
  hostname: z.string(),
  registeredAt: Timestamp,
  lastReportAt: Timestamp.nullable(),
  schedule: AgentSchedule.nullable(),
});

/** GET /v1/vaults/:vaultId/machines. */
export function registerMachineRoutes(app: ApiApp, ctx: ServiceContext): void {
  app.route({
    method: 'GET',
    url: '/v1/vaults/:vaultId/machines',
    config: { access: ['admin', 'tenant-admin'], summary: 'List the machines registered to a vault' },
    schema: { params: VaultParams, response: { 200: z.object({ machines: z.array(Machine) }) } },
    handler: async (request) => ({ machines: await listMachines(ctx, principalOf(request), request.params.vaultId) }),
  });
}
