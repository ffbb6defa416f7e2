import type { LightMyRequestResponse } from 'fastify';
import type { ServiceFixture } from './service-fixture.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** A browser of the portal, as far as inject() goes: keeps its cookies, finds each page's form token. */
export class PortalBrowser {
  readonly cookies = new Map<string, string>();
  constructor(
    private readonly fixture: Pick<ServiceFixture, 'app'>,
    /** The address the requests come from. */
    private readonly remoteAddress = '127.0.0.1',
  ) {}
  csrf = '';

  async request(method: 'GET' | 'POST', url: string, form?: Record<string, string>): Promise<LightMyRequestResponse> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const response = await this.fixture.app.inject({
      method,
      url,
      remoteAddress: this.remoteAddress,
      headers: { ...(cookie !== '' ? { cookie } : {}), ...(form !== undefined ? FORM : {}) },
      ...(form !== undefined ? { payload: new URLSearchParams(form).toString() } : {}),
    });
    for (const set of ([] as string[]).concat(response.headers['set-cookie'] ?? [])) {
      const [pair] = set.split(';');
      const [name, value] = pair!.split('=') as [string, string];
      if (value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const token = /name="_csrf" value="([^"]+)"/.exec(response.body)?.[1];
    if (token !== undefined) this.csrf = token;
    return response;
  }

  async signIn(token: string): Promise<LightMyRequestResponse> {
    await this.request('GET', '/sign-in');
    return this.request('POST', '/sign-in', { _csrf: this.csrf, token });
  }
}
