import type { ServiceContext } from '../context.js';
import type { Gauge } from '../metrics.js';

/**
 * Gauges read from the database at scrape time, so every instance sharing the database reports the same:
 * record counts, the bytes agents reported as added, and import jobs by state (a sample per state that has
 * jobs).
 */
export async function collectGauges(ctx: ServiceContext): Promise<Gauge[]> {
  const count = async (table: 'tenants' | 'storage_accounts' | 'vaults' | 'machines'): Promise<number> => {
    const row = await ctx.db.selectFrom(table).select((eb) => eb.fn.countAll<number | string | bigint>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  };
  const added = await ctx.db
    .selectFrom('backup_runs')
    .select((eb) => eb.fn.sum<number | string | null>('bytes_added').as('bytes'))
    .executeTakeFirstOrThrow();
  const jobs = await ctx.db
    .selectFrom('import_jobs')
    .select((eb) => ['state', eb.fn.countAll<number | string | bigint>().as('n')])
    .groupBy('state')
    .orderBy('state')
    .execute();
  return [
    { name: 'ferry_tenants', help: 'Tenants.', samples: [{ labels: {}, value: await count('tenants') }] },
    { name: 'ferry_storage_accounts', help: 'Storage accounts.', samples: [{ labels: {}, value: await count('storage_accounts') }] },
    { name: 'ferry_vaults', help: 'Vaults.', samples: [{ labels: {}, value: await count('vaults') }] },
    { name: 'ferry_machines', help: 'Registered machines.', samples: [{ labels: {}, value: await count('machines') }] },
    {
      name: 'ferry_backup_bytes_added',
      help: 'Bytes that agents reported as added to their vaults, over all recorded backup runs.',
      samples: [{ labels: {}, value: Number(added.bytes ?? 0) }],
    },
    { name: 'ferry_import_jobs', help: 'Import jobs by state.', samples: jobs.map((j) => ({ labels: { state: j.state }, value: Number(j.n) })) },
  ];
}
