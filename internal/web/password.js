// A user's own new password: after login with a temporary one (nothing else is served until it is set), or at
// any time. Then the pledge if not yet given, or the role's first page.
import { t, initLang, pageHref } from './i18n.js';
import { post, get, errorText } from './api.js';
import { fieldFor, showError, clearErrors, numberErrors, focusFirstError } from './fields.js';
import { homeOf } from './shell.js';

const form = document.getElementById('password');

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  clearErrors(form);
  document.getElementById('form-error').hidden = true;
  const v = (id) => document.getElementById(id).value;
  for (const k of ['current', 'new', 'repeat']) if (!v(k)) showError(fieldFor(form, k), t('err.required'));
  if (v('new') && v('repeat') && v('new') !== v('repeat')) showError(fieldFor(form, 'repeat'), t('pw.mismatch'));
  if (form.querySelector('[aria-invalid="true"]')) return focusFirstError(form);
  try {
    await post('/api/v1/password', { current: v('current'), new: v('new') });
    const me = await get('/api/v1/me');
    location.assign(pageHref(me.pledged ? homeOf(me.role) : '/pledge.html'));
  } catch (e) {
    for (const id of ['current', 'new', 'repeat']) document.getElementById(id).value = '';
    if (e.status === 400 && e.field && fieldFor(form, e.field)) {
      showError(fieldFor(form, e.field), t('err.field') + e.message);
      focusFirstError(form);
    } else {
      const p = document.getElementById('form-error');
      p.textContent = errorText(e);
      p.hidden = false;
    }
  }
});

numberErrors(document);
initLang();
document.getElementById('current').focus();
document.body.dataset.ready = '1';
