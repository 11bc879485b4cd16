import { html, type SafeHtml } from '../html/escape.js';
import { type Frame, page } from '../html/layout.js';

export function signinPage(
  frame: Frame,
  token: string,
  scope: string,
  error: string | null,
  oidcIssuer: string | null = null,
): SafeHtml {
  return page(
    frame,
    'Sign in',
    html`${error ? html`<p class="error" role="alert">${error}</p>` : ''}
${
  oidcIssuer
    ? html`<p class="oidc-signin"><a class="button" href="${frame.base}/oidc/login">Sign in with ${oidcIssuer}</a>
  (your account must carry <code>${scope}</code>)</p>
<p class="hint">Or with an admin key:</p>`
    : ''
}
<form method="post" action="${frame.base}/signin" class="signin">
  <input type="hidden" name="_csrf" value="${token}">
  <label>Admin key (an <code>ak_</code> key whose scopes name <code>${scope}</code>)
    <input type="password" name="key" autocomplete="off" required></label>
  <button type="submit">Sign in</button>
</form>
<p class="hint">The key is checked and forgotten: the session is a signed cookie that names its row only.</p>`,
  );
}

/**
 * After the provider's redirect back: the session cookie is SameSite=Strict, and a navigation that
 * began on the provider's site would not carry it, so this page (same-site) moves on by a meta
 * refresh and a link, neither of which is script.
 */
export function signedInPage(base: string, who: string): SafeHtml {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="0;url=${base}/">
<title>Signed in · agentkey console</title>
<link rel="stylesheet" href="${base}/static/console.css">
</head>
<body><main><p>Signed in as ${who}. <a href="${base}/">Continue to the console</a></p></main></body>
</html>`;
}
