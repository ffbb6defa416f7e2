/** The import job pages: the list, and one job with its disks, timeline, shipping form and error log. */
import type { ErrorLogEntry } from '../../../contract/ingest.js';
import type { ImportJob } from '../../../contract/import-job.js';
import { ACTIVE_JOB_STATES, BEFORE_RECEIPT_JOB_STATES } from '../../../contract/job-states.js';
import { html, type Html } from '../html.js';
import { bytesOf, countdownOf, percentOf, timeOf } from '../portal-format.js';
import { csrfField, page, stateBadge, table, type Viewer } from '../portal-layout.js';

/** Rows of the error log shown on the page; the CSV has all. */
const ERROR_ROWS = 200;

/** The tracking deadline as a countdown while it matters (no shipping yet), else what happened instead. */
function deadlineOf(job: ImportJob, now: number): Html {
  if (job.trackingDeadline === null) return html`<span class="muted">starts when the disks are prepared</span>`;
  if (job.shippedAt !== null) return html`<span>met: shipped ${timeOf(job.shippedAt)}</span>`;
  if (!BEFORE_RECEIPT_JOB_STATES.includes(job.state)) return html`<span class="muted">${timeOf(job.trackingDeadline)}</span>`;
  return html`<span>${countdownOf(job.trackingDeadline, now)} (${timeOf(job.trackingDeadline)})</span>`;
}

/** The list of import jobs the person may see. */
export function jobListPage(viewer: Viewer, jobs: readonly ImportJob[], now: number): Html {
  const rows = [...jobs].reverse().map(
    (job) => html`<tr>
<td><a href="/jobs/${job.id}">${job.name}</a></td>
<td>${stateBadge(job.state)}</td>
<td class="num">${job.disks.length}</td>
<td>${timeOf(job.createdAt)}</td>
<td>${deadlineOf(job, now)}</td>
</tr>`,
  );
  const head = html`<tr><th scope="col">Name</th><th scope="col">State</th><th scope="col" class="num">Disks</th><th scope="col">Created</th><th scope="col">Tracking deadline</th></tr>`;
  return page({ title: 'Import jobs', viewer, current: 'jobs', body: table('Import jobs', head, rows, 'No import jobs yet: an agent starts one with ferry seed start.') });
}

/** What the shipping form shows after a refused submission: the values sent, and the errors by field. */
export interface ShippingForm {
  readonly values: { readonly carrier: string; readonly trackingNumber: string; readonly returnAddress: string };
  /** Messages by field name (`carrier`, `trackingNumber`, `returnAddress`), or `form` for the whole form. */
  readonly errors: Readonly<Record<string, string>>;
}

export interface JobPageData {
  readonly job: ImportJob;
  readonly errors: readonly ErrorLogEntry[];
  readonly shippingAddress: string;
  readonly now: number;
  /** A refused shipping form to show again, with its errors. */
  readonly form?: ShippingForm;
  /** A one-line confirmation (e.g. after the shipping information was saved). */
  readonly notice?: string;
}

function field(form: ShippingForm, name: 'carrier' | 'trackingNumber' | 'returnAddress', label: string, hint: string, multiline: boolean): Html {
  const error = form.errors[name];
  const described = [`${name}-hint`, ...(error !== undefined ? [`${name}-error`] : [])].join(' ');
  const value = form.values[name];
  const control = multiline
    ? html`<textarea id="${name}" name="${name}" rows="4" required aria-describedby="${described}"${error !== undefined ? html` aria-invalid="true"` : ''}>${value}</textarea>`
    : html`<input type="text" id="${name}" name="${name}" value="${value}" required aria-describedby="${described}"${error !== undefined ? html` aria-invalid="true"` : ''}>`;
  return html`<div><label for="${name}">${label}</label><p id="${name}-hint" class="muted">${hint}</p>${control}${error !== undefined ? html`<p id="${name}-error" class="field-error">${error}</p>` : ''}</div>`;
}

function shippingSection(viewer: Viewer, data: JobPageData): Html {
  const { job } = data;
  const may = viewer.access.may(viewer.principal, 'ship') && BEFORE_RECEIPT_JOB_STATES.includes(job.state);
  const facts = html`<dl class="facts"><dt>Carrier</dt><dd>${job.carrier ?? '–'}</dd><dt>Tracking number</dt><dd>${job.trackingNumber ?? '–'}</dd><dt>Return address</dt><dd><pre class="address">${job.returnAddress ?? '–'}</pre></dd></dl>`;
  if (!may) return html`<section aria-labelledby="shipping-h"><h2 id="shipping-h">Shipping</h2>${facts}</section>`;
  const form: ShippingForm = data.form ?? { values: { carrier: job.carrier ?? '', trackingNumber: job.trackingNumber ?? '', returnAddress: job.returnAddress ?? '' }, errors: {} };
  const formError = form.errors['form'];
  return html`<section aria-labelledby="shipping-h"><h2 id="shipping-h">Shipping</h2>
${formError !== undefined ? html`<div class="panel problem" role="alert" id="shipping-problem"><p><strong>Not saved:</strong> ${formError}</p></div>` : ''}
${Object.keys(form.errors).length > 0 && formError === undefined ? html`<div class="panel problem" role="alert"><p><strong>Not saved:</strong> correct the fields marked below.</p></div>` : ''}
<form class="stack" method="post" action="/jobs/${job.id}/shipping" novalidate>
${csrfField(viewer)}
${field(form, 'carrier', 'Carrier', 'The company that carries the disks, e.g. DHL.', false)}
${field(form, 'trackingNumber', 'Tracking number', 'As the carrier gave it: letters, digits, spaces, "-" and ".".', false)}
${field(form, 'returnAddress', 'Return address', 'Where the datacenter sends the disks back.', true)}
<div><button type="submit">Save shipping information</button></div>
</form></section>`;
}

function disksRegion(job: ImportJob): Html {
  const rows = job.disks.map((disk) => {
    const done = disk.progress?.bytesDone ?? 0;
    const percent = percentOf(done, disk.bytes);
    return html`<tr>
<th scope="row">Disk ${disk.index + 1}</th>
<td>${stateBadge(disk.state)}</td>
<td>${disk.progress === null ? html`<span class="muted">not started</span>` : html`<progress max="100" value="${percent}" aria-label="Disk ${disk.index + 1} ingest">${percent} %</progress> <span>${percent} % · ${bytesOf(done)} of ${bytesOf(disk.bytes)}</span>`}</td>
<td class="num">${disk.progress?.filesDone ?? 0} of ${disk.files}</td>
<td class="num">${disk.progress?.filesFailed ?? 0}</td>
</tr>`;
  });
  const head = html`<tr><th scope="col">Disk</th><th scope="col">State</th><th scope="col">Ingest progress</th><th scope="col" class="num">Files done</th><th scope="col" class="num">Files failed</th></tr>`;
  return table('Disks', head, rows, 'No disks registered yet: the copy computer runs ferry diskprep.');
}

function timelineRegion(job: ImportJob): Html {
  return html`<ol class="timeline">${job.timeline.map((event) => html`<li>${timeOf(event.at)} ${stateBadge(event.state)} ${event.note ?? ''} <span class="muted">by ${event.actor}</span></li>`)}</ol>`;
}

function errorsRegion(job: ImportJob, errors: readonly ErrorLogEntry[]): Html {
  if (errors.length === 0) return html`<p>No errors.</p>`;
  const rows = errors.slice(0, ERROR_ROWS).map(
    (e) => html`<tr><td>${timeOf(e.at)}</td><td>${e.diskIndex === null ? '–' : `Disk ${e.diskIndex + 1}`}</td><td>${e.path ?? '–'}</td><td>${e.code}</td><td>${e.message}</td></tr>`,
  );
  const head = html`<tr><th scope="col">Time</th><th scope="col">Disk</th><th scope="col">Path</th><th scope="col">Code</th><th scope="col">Message</th></tr>`;
  return html`<p>${errors.length} ${errors.length === 1 ? 'entry' : 'entries'}${errors.length > ERROR_ROWS ? `, the first ${ERROR_ROWS} shown` : ''}. <a href="/jobs/${job.id}/errors.csv" download>Download the error log (CSV)</a></p>
${table('Error log', head, rows, '')}`;
}

/** One import job. The state, disks, timeline and error log refresh themselves while the job is moving. */
export function jobPage(viewer: Viewer, data: JobPageData): Html {
  const { job, now } = data;
  const mayCancel = viewer.access.may(viewer.principal, 'cancel') && BEFORE_RECEIPT_JOB_STATES.includes(job.state);
  const body = html`
${data.notice !== undefined ? html`<div class="panel notice" role="status"><p>${data.notice}</p></div>` : ''}
<dl class="facts">
<dt>State</dt><dd id="job-state" data-live-region aria-live="polite">${stateBadge(job.state)}</dd>
<dt>Created</dt><dd>${timeOf(job.createdAt)}</dd>
<dt>Tracking deadline</dt><dd id="job-deadline" data-live-region>${deadlineOf(job, now)}</dd>
<dt>Received</dt><dd id="job-received" data-live-region>${timeOf(job.receivedAt)}</dd>
</dl>
<section aria-labelledby="disks-h"><h2 id="disks-h">Disks</h2><div id="job-disks" data-live-region>${disksRegion(job)}</div></section>
<section aria-labelledby="address-h"><h2 id="address-h">Ship the disks to</h2><div class="panel"><pre class="address">${data.shippingAddress}</pre></div></section>
${shippingSection(viewer, data)}
${mayCancel ? html`<section aria-labelledby="cancel-h"><h2 id="cancel-h">Cancel</h2><p>Cancelling is possible until the datacenter receives the disks; it cannot be undone.</p><form method="post" action="/jobs/${job.id}/cancel">${csrfField(viewer)}<button type="submit" class="danger">Cancel import job ${job.name}</button></form></section>` : ''}
<section aria-labelledby="timeline-h"><h2 id="timeline-h">Timeline</h2><div id="job-timeline" data-live-region>${timelineRegion(job)}</div></section>
<section aria-labelledby="errors-h"><h2 id="errors-h">Error log</h2><div id="job-errors" data-live-region>${errorsRegion(job, data.errors)}</div></section>`;
  return page({ title: `Import job ${job.name}`, viewer, current: 'jobs', live: ACTIVE_JOB_STATES.includes(job.state) ? 'running' : 'final', body });
}

/** A CSV cell: quoted, quotes doubled, and a leading = + - @ defused so a spreadsheet shows it as text. */
function csvCell(value: string): string {
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return `"${text.replaceAll('"', '""')}"`;
}

/** The error log as CSV (RFC 4180, CRLF line ends): time, disk (1-based), path, code, message. */
export function errorLogCsv(errors: readonly ErrorLogEntry[]): string {
  const lines = [['time', 'disk', 'path', 'code', 'message'].join(',')];
  for (const e of errors) lines.push([e.at, e.diskIndex === null ? '' : String(e.diskIndex + 1), e.path ?? '', e.code, e.message].map(csvCell).join(','));
  return lines.join('\r\n') + '\r\n';
}
