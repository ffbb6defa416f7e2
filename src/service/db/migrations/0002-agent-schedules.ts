import type { Kysely } from 'kysely';

/**
 * Agent schedules and retention: each machine's schedule (JSON), and per backup run whether the schedule
 * started it and when the machine's retention policy removed its snapshot.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('machines').addColumn('schedule', 'text').execute();
  await db.schema.alterTable('backup_runs').addColumn('trigger', 'text', (c) => c.notNull().defaultTo('manual')).execute();
  await db.schema.alterTable('backup_runs').addColumn('forgotten_at', 'text').execute();
}
