// The status page: the query code is checked in the page (20 digits, Damm check digit) before any request,
// and sent only in a POST body; the answer is shown as a timeline in plain words.
import { t, label, initLang, onLangChange } from './i18n.js';
import {
  getJSON, proofOfWork, fieldFor, showError, clearErrors, numberErrors, focusFirstError, dammOk, apiMessage,
} from './common.js';

const $ = (id) => document.getElementById(id);
const form = $('lookup');
let lists = null; // stages and results, for their labels
let shown = null; // the last answer, re-drawn when the language changes

const named = (list, code) => {
  const it = lists && lists[list].find((i) => i.code === code);
  return it ? label(it) : code;
};

function draw() {
  if (!shown) return;
  $('stage').textContent = named('stages', shown.stage);
  $('result').textContent = named('results', shown.result);
  $('updated').textContent = shown.updated_at;
  $('timeline').replaceChildren(
    ...shown.history.map((h) => {
      const li = document.createElement('li');
      const when = Object.assign(document.createElement('span'), { className: 'date', textContent: h.date });
      li.append(when, ' ', named('stages', h.stage));
      return li;
    }),
  );
}

async function lookup(ev) {
  ev.preventDefault();
  clearErrors(form);
  $('form-error').hidden = true;
  $('answer').hidden = true;
  const field = fieldFor(form, 'query_code');
  const digits = $('query-code').value.replace(/[\s-]/g, '');
  if (!/^\d{20}$/.test(digits) || !dammOk(digits)) {
    showError(field, t(/^\d{20}$/.test(digits) ? 'status.bad_check' : 'status.bad_length'));
    focusFirstError(form);
    return;
  }
  $('submit').disabled = true;
  $('working').hidden = false;
  try {
    if (!lists) lists = (await getJSON('/api/v1/form')).taxonomy.lists;
    const pow = await proofOfWork((p) => ($('pow-progress').value = p));
    const r = await fetch('/api/v1/status', {
      method: 'POST',
      cache: 'no-store',
      credentials: 'omit',
      headers: { 'Content-Type': 'application/json', 'X-Proof-Of-Work': pow },
      body: JSON.stringify({ query_code: digits }),
    });
    const body = await r.json().catch(() => null);
    if (r.status === 200 || r.status === 404) {
      shown = r.status === 200 ? body : null;
      $('found').hidden = !shown;
      $('unknown').hidden = !!shown;
      draw();
      $('answer').hidden = false;
      $('answer').focus();
    } else if (r.status === 400 && body && body.field === 'query_code') {
      showError(field, t('status.bad_check'));
      focusFirstError(form);
    } else {
      $('form-error').textContent = apiMessage(r.status, r.headers);
      $('form-error').hidden = false;
    }
  } catch {
    $('form-error').textContent = t('err.network');
    $('form-error').hidden = false;
  } finally {
    $('submit').disabled = false;
    $('working').hidden = true;
  }
}

initLang();
numberErrors(document);
onLangChange(draw);
form.addEventListener('submit', lookup);
