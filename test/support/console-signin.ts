/**
 * Signs in to a mounted console over HTTP as a browser would: the sign-in form's token and
 * cookie, then the key. Resolves the session cookie (`akc_session=…`) and the sign-in's status.
 */
export async function signInConsole(
  url: string,
  key: string,
): Promise<{ status: number; cookie: string | null }> {
  const form = await fetch(`${url}/signin`);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1];
  if (!csrf) throw new Error(`no sign-in form at ${url}/signin (status ${form.status})`);
  const res = await fetch(`${url}/signin`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      cookie: form.headers.getSetCookie()[0]?.split(';')[0] ?? '',
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ _csrf: csrf, key }).toString(),
  });
  const session = res.headers.getSetCookie().find((l) => l.startsWith('akc_session='));
  return { status: res.status, cookie: session ? session.split(';')[0]! : null };
}
