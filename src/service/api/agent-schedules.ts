import { z } from 'zod';
import type { ServiceContext } from '../context.js';
import { applyAgentRetention } from '../resources/agent-retention.js';
import { setAgentSchedule } from '../resources/agent-schedules.js';
import type { ApiApp } from './api-app.js';
import { principalOf } from './route-access.js';
import { Timestamp, VaultParams } from './schemas.js';

// No -1 ("unlimited") here: a schedule that keeps everything leaves the rule out (or sets no retention).
const Count = z.number().int().min(0, 'a count of 0 or more (leave a rule out to keep everything)').max(1_000_000);

export const RetentionRules = z.strictObject({
  keepLast: Count.optional(),
  keepHourly: Count.optional(),
  keepDaily: Count.optional(),
  keepWeekly: Count.optional(),
  keepMonthly: Count.optional(),
  keepYearly: Count.optional(),
  keepWithin: z.string().regex(/^([0-9]{1,5}[ymwdh])+$/, 'a duration such as 36h, 7d, 2w or 1y6m').optional(),
});

export const AgentSchedule = z.object({
  daily: z.string(),
  retention: RetentionRules.nullable(),
  updatedAt: Timestamp,
});

const ScheduleBody = z.strictObject({
  daily: z.string().regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, 'a time of day HH:MM'),
  retention: RetentionRules.nullable(),
});

const SnapshotIds = z.array(z.string());

/** The agent's own schedule, and its retention run after each scheduled backup. */
export function registerAgentScheduleRoutes(app: ApiApp, ctx: ServiceContext): void {
  app.route({
    method: 'PUT',
    url: '/v1/vaults/:vaultId/schedule',
    config: { access: ['agent'], summary: "Set the schedule and retention policy of the agent token's machine" },
    schema: { params: VaultParams, body: ScheduleBody, response: { 200: AgentSchedule } },
    handler: async (request) => setAgentSchedule(ctx, principalOf(request), request.params.vaultId, request.body),
  });
  app.route({
    method: 'POST',
    url: '/v1/vaults/:vaultId/retention',
    config: { access: ['agent'], summary: "Apply the machine's retention policy to its scheduled snapshots (never those under 7 days old)" },
    schema: { params: VaultParams, response: { 200: z.object({ kept: SnapshotIds, forgotten: SnapshotIds, protected: SnapshotIds }) } },
    handler: async (request) => applyAgentRetention(ctx, principalOf(request), request.params.vaultId),
  });
}
