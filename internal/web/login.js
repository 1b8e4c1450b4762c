// Login: user name, password and, for accounts with a second factor, the current TOTP code. Then a new password
// after a temporary one, the pledge on first login, or the page asked for, or the role's first page.
import { t, initLang, pageHref } from './i18n.js';
import { api, get, errorText } from './api.js';
import { fieldFor, showError, clearErrors, numberErrors, focusFirstError } from './fields.js';
import { homeOf } from './shell.js';

const form = document.getElementById('login');
const formError = document.getElementById('form-error');

// Only a path of this site: "/x", never "//host" or "/\host".
function nextPage() {
  const next = new URLSearchParams(location.search).get('next');
  return next && /^\/[A-Za-z0-9_.-]*(\?[A-Za-z0-9_.=&%-]*)?$/.test(next) ? next : null;
}

function say(text) {
  formError.textContent = text;
  formError.hidden = false;
}

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  clearErrors(form);
  formError.hidden = true;
  const body = {
    username: document.getElementById('username').value.trim(),
    password: document.getElementById('password').value,
  };
  const code = document.getElementById('totp').value.trim();
  if (code) body.totp = code;
  for (const k of ['username', 'password']) if (!body[k]) showError(fieldFor(form, k), t('err.required'));
  if (form.querySelector('[aria-invalid="true"]')) return focusFirstError(form);
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  try {
    await api('POST', '/api/v1/login', body);
    const me = await get('/api/v1/me');
    if (me.must_change_password) return location.assign(pageHref('/password.html'));
    location.assign(!me.pledged ? pageHref('/pledge.html', nextPage() ? { next: nextPage() } : null)
      : nextPage() || pageHref(homeOf(me.role)));
  } catch (e) {
    document.getElementById('password').value = '';
    if (e.status === 401) say(t('login.failed'));
    else if (e.error === 'locked') showError(fieldFor(form, 'username'), t('login.locked'));
    else if (e.status === 400 && e.field && fieldFor(form, e.field)) showError(fieldFor(form, e.field), t('err.field') + e.message);
    else say(errorText(e));
    focusFirstError(form);
  } finally {
    button.disabled = false;
  }
});

numberErrors(document);
initLang();
document.getElementById('username').focus();
document.body.dataset.ready = '1';
