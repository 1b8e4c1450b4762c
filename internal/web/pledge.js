// The confidentiality pledge, accepted once (and recorded) before any case is shown.
import { t, initLang, pageHref } from './i18n.js';
import { get, post, errorText } from './api.js';
import { fieldFor, showError, clearErrors, numberErrors } from './fields.js';
import { homeOf } from './shell.js';

const form = document.getElementById('pledge');

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  clearErrors(form);
  document.getElementById('form-error').hidden = true;
  if (!document.getElementById('accept').checked) {
    showError(fieldFor(form, 'accept'), t('pledge.must'));
    document.getElementById('accept').focus();
    return;
  }
  try {
    await post('/api/v1/pledge');
    const me = await get('/api/v1/me');
    const next = new URLSearchParams(location.search).get('next');
    location.assign(next && /^\/[A-Za-z0-9_.-]*(\?[A-Za-z0-9_.=&%-]*)?$/.test(next) ? next : pageHref(homeOf(me.role)));
  } catch (e) {
    const p = document.getElementById('form-error');
    p.textContent = errorText(e);
    p.hidden = false;
  }
});

numberErrors(document);
initLang();
document.body.dataset.ready = '1';
// Straight to login when there is no session.
get('/api/v1/me').then((me) => {
  if (me.pledged) location.assign(pageHref(homeOf(me.role)));
}).catch(() => {});
