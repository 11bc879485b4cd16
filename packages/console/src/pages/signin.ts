import { html, type SafeHtml } from '../html/escape.js';
import { type Frame, page } from '../html/layout.js';

export function signinPage(frame: Frame, token: string, scope: string, error: string | null): SafeHtml {
  return page(
    frame,
    'Sign in',
    html`${error ? html`<p class="error" role="alert">${error}</p>` : ''}
<form method="post" action="${frame.base}/signin" class="signin">
  <input type="hidden" name="_csrf" value="${token}">
  <label>Admin key (an <code>ak_</code> key whose scopes name <code>${scope}</code>)
    <input type="password" name="key" autocomplete="off" required></label>
  <button type="submit">Sign in</button>
</form>
<p class="hint">The key is checked and forgotten: the session is a signed cookie that names its row only.</p>`,
  );
}
