/** The admin pages: tenants and their storage accounts, tokens (create shows the secret once; revoke), the audit log. */
import type { AuditRecord } from '../../audit/audit-log.js';
import type { IssuedToken, TokenListing } from '../../auth/token-store.js';
import type { StorageAccount } from '../../resources/storage-accounts.js';
import type { Tenant } from '../../resources/tenants.js';
import { html, type Html } from '../html.js';
import { timeOf } from '../portal-format.js';
import { csrfField, page, stateBadge, table, type Viewer } from '../portal-layout.js';

export function tenantsPage(viewer: Viewer, tenants: readonly { tenant: Tenant; accounts: readonly StorageAccount[] }[]): Html {
  const rows = tenants.map(
    ({ tenant, accounts }) => html`<tr><th scope="row">${tenant.name}</th><td>${timeOf(tenant.createdAt)}</td><td>${accounts.length === 0 ? html`<span class="muted">none</span>` : html`<ul>${accounts.map((a) => html`<li>${a.name} <span class="muted">(${a.backend ?? 'default: the service data folder'})</span></li>`)}</ul>`}</td></tr>`,
  );
  const head = html`<tr><th scope="col">Tenant</th><th scope="col">Created</th><th scope="col">Storage accounts</th></tr>`;
  return page({ title: 'Tenants and storage accounts', viewer, current: 'tenants', body: table('Tenants', head, rows, 'No tenants yet.') });
}

export interface TokensPageData {
  readonly tokens: readonly TokenListing[];
  readonly tenants: readonly Tenant[];
  /** A token just created: its secret is shown on this answer only. */
  readonly created?: IssuedToken;
  /** Why the create form was refused. */
  readonly problem?: string;
}

function scopeOf(t: TokenListing): string {
  return [t.tenantName, t.vaultName, t.machineName, t.jobName].filter((x) => x !== null).join(' / ') || 'service-wide';
}

export function tokensPage(viewer: Viewer, data: TokensPageData): Html {
  const mayRevoke = viewer.access.may(viewer.principal, 'revokeToken');
  const rows = data.tokens.map(
    (t) => html`<tr><td><code>${t.id.slice(0, 8)}</code></td><td>${t.role}</td><td>${scopeOf(t)}</td><td>${stateBadge(t.state)}</td><td>${timeOf(t.createdAt)}</td><td>${timeOf(t.expiresAt)}</td>
<td>${mayRevoke && t.state === 'active' && t.id !== viewer.principal.tokenId ? html`<form class="inline" method="post" action="/admin/tokens/${t.id}/revoke">${csrfField(viewer)}<button type="submit" class="secondary" aria-label="Revoke ${t.role} token ${t.id.slice(0, 8)}">Revoke</button></form>` : ''}</td></tr>`,
  );
  const roles = viewer.principal.role === 'admin' ? ['tenant-admin', 'operator', 'admin'] : ['tenant-admin'];
  const create = viewer.access.may(viewer.principal, 'createToken')
    ? html`<section aria-labelledby="create-h"><h2 id="create-h">Create a token</h2>
${data.problem !== undefined ? html`<div class="panel problem" role="alert"><p><strong>Not created:</strong> ${data.problem}</p></div>` : ''}
<form class="stack" method="post" action="/admin/tokens">${csrfField(viewer)}
<div><label for="role">Role</label><select id="role" name="role">${roles.map((r) => html`<option value="${r}">${r}</option>`)}</select></div>
<div><label for="tenantId">Tenant (for tenant-admin tokens)</label><select id="tenantId" name="tenantId"><option value="">none</option>${data.tenants.map((t) => html`<option value="${t.id}">${t.name}</option>`)}</select></div>
<div><button type="submit">Create token</button></div></form></section>`
    : '';
  const created = data.created === undefined
    ? ''
    : html`<div class="panel notice" role="status"><h2>New ${data.created.role} token</h2><p>Copy it now: it is shown only this once, and the service keeps only its hash.</p><p class="secret" id="new-token">${data.created.token}</p><p>Expires ${timeOf(data.created.expiresAt)}.</p></div>`;
  const head = html`<tr><th scope="col">Id</th><th scope="col">Role</th><th scope="col">Scope</th><th scope="col">State</th><th scope="col">Created</th><th scope="col">Expires</th><th scope="col">Action</th></tr>`;
  return page({ title: 'Tokens', viewer, current: 'tokens', body: html`${created}${create}<section aria-labelledby="tokens-h"><h2 id="tokens-h">All tokens</h2>${table('Tokens', head, rows, 'No tokens.')}</section>` });
}

/** A record's detail as `key: value` lines (it holds ids, a reason, the remote address: short values). */
function detailOf(detail: AuditRecord['detail']): Html {
  return html`${Object.entries(detail).map(([key, value]) => html`<span class="detail-item"><span class="muted">${key}:</span> ${Array.isArray(value) ? value.join(', ') : String(value)}</span>`)}`;
}

/** The audit log, newest first; `tenantNames` names the tenants the viewer sees (by id). */
export function auditPage(viewer: Viewer, records: readonly AuditRecord[], nextCursor: string | null, tenantNames: ReadonlyMap<string, string>): Html {
  const rows = records.map(
    (r) => html`<tr><td>${timeOf(r.at)}</td><td>${r.actor}</td><td>${r.tenantId === null ? html`<span class="muted">none</span>` : (tenantNames.get(r.tenantId) ?? r.tenantId)}</td><td>${r.action}</td><td>${r.target.type}${r.target.id !== null ? html` <code>${r.target.id.slice(0, 8)}</code>` : ''}</td><td>${stateBadge(r.outcome)}</td><td>${detailOf(r.detail)}</td></tr>`,
  );
  const head = html`<tr><th scope="col">Time</th><th scope="col">Actor</th><th scope="col">Tenant</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">Outcome</th><th scope="col">Detail</th></tr>`;
  return page({
    title: 'Audit log',
    viewer,
    current: 'audit',
    body: html`<p>Newest first.</p>${table('Audit records', head, rows, 'No records.')}${nextCursor !== null ? html`<p><a href="/admin/audit?cursor=${encodeURIComponent(nextCursor)}">Older records</a></p>` : ''}`,
  });
}
