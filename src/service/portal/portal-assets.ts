/**
 * The portal's only stylesheet and script, served by the service itself (no other origin, no build step):
 * the pages work offline and the Content-Security-Policy allows nothing but these.
 */

/** Served at /portal/assets/portal.css. */
export const PORTAL_CSS = `
:root { color-scheme: light; --ink: #1b1f24; --muted: #4f5863; --line: #c9ced6; --accent: #0b57a4; --bad: #a3161b; --good: #1d6b2c; --bg: #ffffff; --panel: #f4f6f8; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, textarea:focus-visible, select:focus-visible, [tabindex]:focus-visible { outline: 3px solid #e8a200; outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: var(--bg); padding: .5rem; }
.skip:focus { left: .5rem; }
header.top { display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; align-items: center; padding: .75rem 1rem; border-bottom: 1px solid var(--line); background: var(--panel); }
header.top .brand { font-weight: 700; text-decoration: none; color: var(--ink); }
header.top nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: .25rem 1rem; margin: 0; padding: 0; }
header.top nav a[aria-current="page"] { font-weight: 700; text-decoration-thickness: 3px; }
header.top .who { margin-left: auto; display: flex; gap: .75rem; align-items: center; color: var(--muted); }
main { max-width: 72rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.6rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.25rem; margin: 1.75rem 0 .5rem; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--panel); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.state { display: inline-block; padding: 0 .45rem; border: 1px solid currentColor; border-radius: .25rem; font-weight: 600; white-space: nowrap; }
.state-good { color: var(--good); }
.state-bad { color: var(--bad); }
.state-active { color: var(--accent); }
.state-quiet { color: var(--muted); }
.timeline { list-style: none; padding: 0; margin: 0; border-left: 3px solid var(--line); }
.timeline li { padding: .25rem 0 .5rem 1rem; }
.muted { color: var(--muted); }
.detail-item { display: block; overflow-wrap: anywhere; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: .4rem; padding: .75rem 1rem; margin: .75rem 0; }
.notice { border-left: 6px solid var(--good); }
.problem { border-left: 6px solid var(--bad); }
form.stack { display: grid; gap: .75rem; max-width: 36rem; }
label { font-weight: 600; display: block; }
input[type=text], input[type=password], input[type=number], textarea, select { width: 100%; font: inherit; padding: .45rem; border: 1px solid #6b7480; border-radius: .25rem; }
input[aria-invalid=true], textarea[aria-invalid=true] { border: 2px solid var(--bad); }
.field-error { color: var(--bad); font-weight: 600; margin: .15rem 0 0; }
.field-error::before { content: "Error: "; }
button { font: inherit; padding: .45rem 1rem; border-radius: .25rem; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
button.secondary { background: var(--bg); color: var(--accent); }
button.danger { background: var(--bad); border-color: var(--bad); }
form.inline { display: inline; }
progress { width: 10rem; max-width: 100%; height: 1rem; vertical-align: middle; }
.secret { font-family: ui-monospace, monospace; word-break: break-all; background: #fff; padding: .5rem; border: 1px dashed var(--ink); }
pre.address { white-space: pre-wrap; font: inherit; margin: 0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
svg.chart { max-width: 100%; height: auto; }
@media (max-width: 40rem) {
  header.top .who { margin-left: 0; }
  dl.facts { grid-template-columns: 1fr; }
  th, td { padding: .3rem .35rem; }
}
`;

/**
 * Served at /portal/assets/portal.js: writes every `<time data-local>` in the browser's locale and time
 * zone, and on a page marked `data-live` fetches the page again every LIVE_MS and swaps in each changed
 * `[data-live-region]` (the state, the disks' progress, the timeline), until the page says it is final.
 */
export const PORTAL_JS = `
'use strict';
(function () {
  var LIVE_MS = 1500;
  var served = {};
  function localize(root) {
    var times = root.querySelectorAll('time[data-local]');
    for (var i = 0; i < times.length; i++) {
      var t = times[i];
      var d = new Date(t.getAttribute('datetime'));
      if (!isNaN(d.getTime())) t.textContent = d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
    }
  }
  function poll(main) {
    fetch(location.pathname, { credentials: 'same-origin', headers: { accept: 'text/html' } }).then(function (response) {
      if (!response.ok || response.redirected) return null;
      return response.text();
    }).then(function (text) {
      if (text === null) return;
      var next = new DOMParser().parseFromString(text, 'text/html');
      var regions = next.querySelectorAll('[data-live-region]');
      for (var i = 0; i < regions.length; i++) {
        var here = document.getElementById(regions[i].id);
        if (here && served[here.id] !== regions[i].innerHTML) {
          served[here.id] = regions[i].innerHTML;
          here.innerHTML = regions[i].innerHTML;
          localize(here);
        }
      }
      var nextMain = next.querySelector('main[data-live]');
      if (nextMain && nextMain.getAttribute('data-live') === 'running') setTimeout(function () { poll(main); }, LIVE_MS);
    }).catch(function () { setTimeout(function () { poll(main); }, LIVE_MS * 4); });
  }
  document.addEventListener('DOMContentLoaded', function () {
    var regions = document.querySelectorAll('[data-live-region]');
    for (var i = 0; i < regions.length; i++) served[regions[i].id] = regions[i].innerHTML;
    localize(document);
    var main = document.querySelector('main[data-live="running"]');
    if (main) setTimeout(function () { poll(main); }, LIVE_MS);
  });
})();
`;
