import type { Principal } from '../auth/principal.js';
import { html, type Html } from './html.js';
import type { PortalAccess, PortalPage } from './portal-access.js';

/** What every page's frame needs about the person: who they are, what they may open, their form token. */
export interface Viewer {
  readonly principal: Principal;
  readonly csrfToken: string;
  readonly access: PortalAccess;
}

const NAV: readonly { page: PortalPage; href: string; label: string }[] = [
  { page: 'jobs', href: '/jobs', label: 'Import jobs' },
  { page: 'vaults', href: '/vaults', label: 'Vaults' },
  { page: 'datacenter', href: '/datacenter', label: 'Datacenter' },
  { page: 'tenants', href: '/admin/tenants', label: 'Tenants' },
  { page: 'tokens', href: '/admin/tokens', label: 'Tokens' },
  { page: 'audit', href: '/admin/audit', label: 'Audit log' },
];

export interface PageOptions {
  readonly title: string;
  readonly viewer: Viewer | null;
  /** The nav entry to mark as the current page. */
  readonly current?: PortalPage;
  /** `running`: the page refreshes its live regions (portal.js) until a refresh says `final`. */
  readonly live?: 'running' | 'final';
  readonly body: Html;
}

/** The hidden field every form of a session carries. */
export function csrfField(viewer: Viewer): Html {
  return html`<input type="hidden" name="_csrf" value="${viewer.csrfToken}">`;
}

/** A whole page: language, viewport for phones, a skip link, the nav the person may use, one h1. */
export function page(options: PageOptions): Html {
  const { viewer } = options;
  const nav = viewer === null ? [] : NAV.filter((entry) => viewer.access.may(viewer.principal, entry.page));
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.title} – Ferry</title>
<link rel="stylesheet" href="/portal/assets/portal.css">
<script src="/portal/assets/portal.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<a class="brand" href="/">Ferry</a>
${nav.length > 0 ? html`<nav aria-label="Main"><ul>${nav.map((e) => html`<li><a href="${e.href}"${e.page === options.current ? html` aria-current="page"` : ''}>${e.label}</a></li>`)}</ul></nav>` : ''}
${viewer === null ? '' : html`<div class="who"><span>Signed in as ${viewer.principal.role}</span><form class="inline" method="post" action="/sign-out">${csrfField(viewer)}<button type="submit" class="secondary">Sign out</button></form></div>`}
</header>
<main id="main" tabindex="-1"${options.live !== undefined ? html` data-live="${options.live}"` : ''}>
<h1>${options.title}</h1>
${options.body}
</main>
</body>
</html>
`;
}

/** A state as text in a bordered badge; the class only adds colour, the word says it. */
export function stateBadge(state: string): Html {
  const tone = /^(Completed|Adopted|Closed|succeeded|active|ingested|adopted|cleaned up)$/.test(state)
    ? 'good'
    : /^(Failed|CompletedWithErrors|NeverReceived|Deleted|failed|partial|revoked|expired|Cancelled)$/.test(state)
      ? 'bad'
      : /^(Received|Transferring|Shipping|Running|shipped)$/.test(state)
        ? 'active'
        : 'quiet';
  return html`<span class="state state-${tone}">${state}</span>`;
}

/** A table in a region that scrolls sideways on narrow screens (focusable, so keyboards can scroll it). */
export function table(label: string, head: Html, rows: Html[], empty: string): Html {
  if (rows.length === 0) return html`<p class="muted">${empty}</p>`;
  return html`<div class="table-wrap" role="region" aria-label="${label}" tabindex="0"><table><thead>${head}</thead><tbody>${rows}</tbody></table></div>`;
}
