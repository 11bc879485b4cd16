import type { ConsoleApp } from './console-app.js';

export interface Page {
  status: number;
  location: string | null;
  body: string;
  headers: Headers;
}

/** A browser-less client: one cookie jar, forms posted urlencoded, redirects not followed. */
export class Client {
  private readonly jar = new Map<string, string>();
  constructor(readonly base: string) {}

  get cookie(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  setCookie(name: string, value: string) {
    this.jar.set(name, value);
  }

  async request(method: 'GET' | 'POST', path: string, form?: Record<string, string>): Promise<Page> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      redirect: 'manual',
      headers: {
        cookie: this.cookie,
        ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i);
      const value = pair!.slice(i + 1);
      if (value === '' || /Max-Age=0/.test(line)) this.jar.delete(name);
      else this.jar.set(name, value);
    }
    return {
      status: res.status,
      location: res.headers.get('location'),
      body: await res.text(),
      headers: res.headers,
    };
  }

  get = (path: string) => this.request('GET', path);
  post = (path: string, form: Record<string, string>) => this.request('POST', path, form);

  /** The CSRF token of the last page's forms. */
  static csrf(page: Page): string {
    const m = /name="_csrf" value="([^"]+)"/.exec(page.body);
    if (!m) throw new Error(`no CSRF field on the page (status ${page.status})`);
    return m[1]!;
  }

  async signIn(key: string): Promise<Page> {
    const form = await this.get('/signin');
    return this.post('/signin', { _csrf: Client.csrf(form), key });
  }
}

export async function signedIn(c: ConsoleApp): Promise<{ client: Client; csrf: string }> {
  const client = new Client(c.url);
  const done = await client.signIn(c.admin.key);
  if (done.status !== 303) throw new Error(`sign-in answered ${done.status}`);
  return { client, csrf: Client.csrf(await client.get('/')) };
}
