import { html, type Html } from '../html.js';
import { page } from '../portal-layout.js';

/** The sign-in form: a token in a password field, with the form token that its cookie must match. */
export function signInPage(formToken: string, problem?: string): Html {
  return page({
    title: 'Sign in',
    viewer: null,
    body: html`${problem !== undefined ? html`<div class="panel problem" role="alert"><p><strong>Not signed in:</strong> <span id="sign-in-problem">${problem}</span></p></div>` : ''}
<form class="stack" method="post" action="/sign-in">
<input type="hidden" name="_csrf" value="${formToken}">
<div><label for="token">Token</label><p id="token-hint" class="muted">A tenant-admin, admin, operator or job token (it starts with fry_). It is not stored in the browser: the session ends after 8 hours or when the token does.</p>
<input type="password" id="token" name="token" autocomplete="off" required aria-describedby="token-hint"${problem !== undefined ? html` aria-invalid="true"` : ''}></div>
<div><button type="submit">Sign in</button></div>
</form>`,
  });
}

/** A one-time sign-in link's page: signing in takes a click (a POST), so a link preview cannot use the link up. */
export function signInLinkPage(code: string, formToken: string): Html {
  return page({
    title: 'Sign in with a link',
    viewer: null,
    body: html`<p>This link signs you in once.</p><form method="post" action="/sign-in/${code}"><input type="hidden" name="_csrf" value="${formToken}"><button type="submit">Sign in</button></form>`,
  });
}

/** An error answered as a page: what went wrong, and the way back. */
export function errorPage(status: number, message: string): Html {
  const title = status === 404 ? 'Not found' : status === 403 ? 'Not allowed' : status === 429 ? 'Too many attempts' : status >= 500 ? 'Something went wrong' : 'That did not work';
  return page({ title, viewer: null, body: html`<p>${message}</p><p><a href="/">Back to the portal</a></p>` });
}
