/** The vault pages: the vaults a person may see, and one vault with machines, backups and its seed. */
import type { ImportJob } from '../../../contract/import-job.js';
import type { JobState } from '../../../contract/job-states.js';
import type { BackupRun } from '../../resources/backup-runs.js';
import type { Machine } from '../../resources/machines.js';
import type { VaultDetails, Vault } from '../../resources/vaults.js';
import { html, type Html } from '../html.js';
import { bytesOf, durationOf, timeOf } from '../portal-format.js';
import { page, stateBadge, table, type Viewer } from '../portal-layout.js';
import { backupChart } from './backup-chart.js';

/** The stages of an offline seed, in order, and the job states that put the seed in each. */
const SEED_STAGES: readonly { stage: string; states: readonly JobState[] }[] = [
  { stage: 'staging', states: ['Creating'] },
  { stage: 'shipped', states: ['Shipping', 'Received', 'Transferring'] },
  { stage: 'ingested', states: ['Completed', 'CompletedWithErrors'] },
  { stage: 'adopted', states: ['Adopted'] },
  { stage: 'cleaned up', states: ['Closed'] },
];

/** The seed's stage for a job's state, or undefined when the job left the path (Cancelled, Deleted, Failed). */
export function seedStageOf(state: JobState): string | undefined {
  return SEED_STAGES.find((s) => s.states.includes(state))?.stage;
}

export interface VaultRow {
  readonly vault: Vault;
  readonly tenantName: string;
  readonly seed: VaultDetails['seed'];
}

export function vaultListPage(viewer: Viewer, vaults: readonly VaultRow[]): Html {
  const rows = vaults.map(
    (v) => html`<tr><td><a href="/vaults/${v.vault.id}">${v.vault.name}</a></td><td>${v.tenantName}</td><td>${timeOf(v.vault.createdAt)}</td><td>${v.seed === null ? html`<span class="muted">none pending</span>` : html`${v.seed.jobName}: ${stateBadge(v.seed.state)}`}</td></tr>`,
  );
  const head = html`<tr><th scope="col">Vault</th><th scope="col">Tenant</th><th scope="col">Created</th><th scope="col">Offline seed</th></tr>`;
  return page({ title: 'Vaults', viewer, current: 'vaults', body: table('Vaults', head, rows, 'No vaults yet.') });
}

export interface VaultPageData {
  readonly vault: VaultDetails;
  readonly machines: readonly Machine[];
  /** Newest first. */
  readonly runs: readonly BackupRun[];
  /** The vault's import jobs, oldest first. */
  readonly jobs: readonly ImportJob[];
}

function seedSection(jobs: readonly ImportJob[]): Html {
  const job = jobs.at(-1);
  if (job === undefined) return html`<p class="muted">This vault was never seeded offline.</p>`;
  const current = seedStageOf(job.state);
  const steps = SEED_STAGES.map((s) => {
    const here = s.stage === current;
    return html`<li${here ? html` aria-current="step"` : ''}>${here ? html`<strong>${s.stage} (current)</strong>` : s.stage}</li>`;
  });
  return html`<p>Import job <a href="/jobs/${job.id}">${job.name}</a>: ${stateBadge(job.state)}</p>
${current === undefined ? html`<p>The seed did not finish: the job is ${job.state}.</p>` : html`<ol class="steps">${steps}</ol>`}`;
}

export function vaultPage(viewer: Viewer, data: VaultPageData): Html {
  const runsByMachine = new Map<string, BackupRun>();
  for (const run of data.runs) if (!runsByMachine.has(run.machineId)) runsByMachine.set(run.machineId, run);
  const machineRows = data.machines.map((m) => {
    const last = runsByMachine.get(m.id);
    return html`<tr><th scope="row">${m.hostname}</th><td>${timeOf(m.registeredAt)}</td><td>${last === undefined ? html`<span class="muted">none reported</span>` : html`${timeOf(last.finishedAt)} ${stateBadge(last.status)}`}</td></tr>`;
  });
  const runRows = data.runs.map(
    (r) => html`<tr><td>${timeOf(r.startedAt)}</td><td>${stateBadge(r.status)}</td><td class="num">${bytesOf(r.bytesAdded)}</td><td class="num">${durationOf(Date.parse(r.finishedAt) - Date.parse(r.startedAt))}</td><td class="num">${r.errorCount}</td><td>${r.trigger}</td></tr>`,
  );
  const body = html`<dl class="facts"><dt>Container</dt><dd>${data.vault.container}</dd><dt>Created</dt><dd>${timeOf(data.vault.createdAt)}</dd></dl>
<section aria-labelledby="machines-h"><h2 id="machines-h">Machines</h2>
${table('Machines', html`<tr><th scope="col">Machine</th><th scope="col">Registered</th><th scope="col">Last backup</th></tr>`, machineRows, 'No machines registered yet.')}</section>
<section aria-labelledby="history-h"><h2 id="history-h">Backup history</h2>${backupChart(data.runs)}
${table('Backup runs', html`<tr><th scope="col">Started</th><th scope="col">Outcome</th><th scope="col" class="num">Added</th><th scope="col" class="num">Duration</th><th scope="col" class="num">Errors</th><th scope="col">Trigger</th></tr>`, runRows, '')}</section>
<section aria-labelledby="seed-h"><h2 id="seed-h">Offline seed</h2>${seedSection(data.jobs)}</section>`;
  return page({ title: `Vault ${data.vault.name}`, viewer, current: 'vaults', body });
}
