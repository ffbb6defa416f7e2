/** The datacenter's queue: what is on its way, what is being ingested, and what went wrong. */
import type { ImportJob } from '../../../contract/import-job.js';
import { INGESTING_JOB_STATES } from '../../../contract/job-states.js';
import { html, type Html } from '../html.js';
import { bytesOf, percentOf, timeOf } from '../portal-format.js';
import { page, stateBadge, table, type Viewer } from '../portal-layout.js';

const PROBLEM_DISK_STATES: ReadonlySet<string> = new Set(['Failed', 'NeverReceived', 'CompletedWithErrors']);

function jobLink(job: ImportJob): Html {
  return html`<a href="/jobs/${job.id}">${job.name}</a>`;
}

export function datacenterPage(viewer: Viewer, jobs: readonly ImportJob[]): Html {
  const shipped = jobs.filter((j) => j.state === 'Shipping');
  const working = jobs.filter((j) => INGESTING_JOB_STATES.includes(j.state));
  const problems = jobs.flatMap((job) => job.disks.filter((d) => PROBLEM_DISK_STATES.has(d.state)).map((disk) => ({ job, disk })));
  const failedJobs = jobs.filter((j) => j.state === 'Failed');

  const shippedRows = shipped.map((j) => html`<tr><td>${jobLink(j)}</td><td>${j.carrier ?? '–'}</td><td>${j.trackingNumber ?? '–'}</td><td class="num">${j.disks.length}</td><td>${timeOf(j.shippedAt)}</td></tr>`);
  const workingRows = working.map((j) => {
    const bytes = j.disks.reduce((sum, d) => sum + d.bytes, 0);
    const done = j.disks.reduce((sum, d) => sum + (d.progress?.bytesDone ?? 0), 0);
    const percent = percentOf(done, bytes);
    return html`<tr><td>${jobLink(j)}</td><td>${stateBadge(j.state)}</td><td><progress max="100" value="${percent}" aria-label="${j.name} ingest">${percent} %</progress> ${percent} % · ${bytesOf(done)} of ${bytesOf(bytes)}</td><td>${j.disks.map((d) => html`Disk ${d.index + 1} ${stateBadge(d.state)} `)}</td></tr>`;
  });
  const problemRows = [
    ...problems.map(({ job, disk }) => html`<tr><td>${jobLink(job)}</td><td>Disk ${disk.index + 1}</td><td>${stateBadge(disk.state)}</td><td class="num">${disk.progress?.filesFailed ?? 0}</td></tr>`),
    ...failedJobs.map((job) => html`<tr><td>${jobLink(job)}</td><td>whole job</td><td>${stateBadge(job.state)}</td><td class="num">${job.errorCount}</td></tr>`),
  ];
  const body = html`<p>Receive disks with <code>ferry datacenter receive JOB</code> and ingest them with <code>ferry datacenter ingest JOB --disk PATH…</code>.</p>
<section aria-labelledby="shipped-h"><h2 id="shipped-h">Shipped, awaiting receipt</h2>
${table('Shipped jobs', html`<tr><th scope="col">Job</th><th scope="col">Carrier</th><th scope="col">Tracking number</th><th scope="col" class="num">Disks</th><th scope="col">Shipped</th></tr>`, shippedRows, 'Nothing on its way.')}</section>
<section aria-labelledby="working-h"><h2 id="working-h">Received and transferring</h2>
${table('Jobs being ingested', html`<tr><th scope="col">Job</th><th scope="col">State</th><th scope="col">Progress</th><th scope="col">Disks</th></tr>`, workingRows, 'No job is being ingested.')}</section>
<section aria-labelledby="problems-h"><h2 id="problems-h">Disks refused, failed or never received</h2>
${table('Problem disks', html`<tr><th scope="col">Job</th><th scope="col">Disk</th><th scope="col">State</th><th scope="col" class="num">Errors</th></tr>`, problemRows, 'No problems.')}</section>`;
  return page({ title: 'Datacenter queue', viewer, current: 'datacenter', body });
}
