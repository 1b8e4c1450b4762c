// Administration: the holiday calendar that deadlines in working days follow (the holidays, holiday_set and
// holiday_delete operations of 0006). Accounts and units have no operation yet, so no page either.
import { t, onLangChange } from './i18n.js';
import { get, post, errorText } from './api.js';
import { fieldFor, showError, clearErrors, numberErrors, focusFirstError } from './fields.js';
import { start, el, when } from './shell.js';

const status = document.getElementById('status');
const yearForm = document.getElementById('year-form');
const setForm = document.getElementById('set');
let doc;

function say(p, cls, text) {
  p.className = cls;
  p.textContent = text;
  p.hidden = false;
  p.focus();
}

function render() {
  const body = document.querySelector('#days tbody');
  body.replaceChildren();
  for (const d of doc.days) {
    const del = el('button', { type: 'button', text: t('adm.delete'), 'aria-label': t('adm.delete') + ' ' + d.day,
      onclick: () => remove(d.day) });
    body.append(el('tr', {}, el('td', { text: when(d.day, true) }), el('td', { text: t('adm.kind.' + d.kind) }),
      el('td', { text: d.name }), el('td', {}, del)));
  }
  if (!doc.days.length) body.append(el('tr', {}, el('td', { colspan: '4', text: t('board.none') })));
  status.hidden = true;
}

async function load() {
  clearErrors(yearForm);
  const y = document.getElementById('year').value.trim();
  try {
    doc = await get('/api/v1/ops/holidays' + (/^[0-9]{4}$/.test(y) ? '?year=' + y : ''));
    document.getElementById('year').value = doc.year;
    render();
  } catch (e) {
    if (e.status === 400 && e.field && fieldFor(yearForm, e.field)) showError(fieldFor(yearForm, e.field), t('err.field') + e.message);
    status.hidden = false;
    status.textContent = errorText(e);
  }
}

async function remove(day) {
  const p = document.getElementById('set-outcome');
  try {
    await post('/api/v1/ops/holiday_delete', { day });
    await load();
    say(p, 'done', t('adm.deleted', { day }));
  } catch (e) {
    say(p, 'refusal', errorText(e));
  }
}

setForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  clearErrors(setForm);
  const p = document.getElementById('set-outcome');
  p.hidden = true;
  const body = { day: document.getElementById('day').value, kind: document.getElementById('kind').value,
    name: document.getElementById('name').value.trim() };
  for (const k of ['day', 'name']) if (!body[k]) showError(fieldFor(setForm, k), t('err.required'));
  if (setForm.querySelector('[aria-invalid="true"]')) return focusFirstError(setForm);
  try {
    await post('/api/v1/ops/holiday_set', body);
    document.getElementById('year').value = body.day.slice(0, 4);
    await load();
    say(p, 'done', t('adm.saved', { day: body.day }));
  } catch (e) {
    if (e.status === 400 && e.field && fieldFor(setForm, e.field)) {
      showError(fieldFor(setForm, e.field), t('err.field') + e.message);
      focusFirstError(setForm);
    } else {
      say(p, 'refusal', errorText(e));
    }
  }
});

numberErrors(document);
start({
  roles: ['administrator'],
  init: async () => {
    yearForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      load();
    });
    onLangChange(() => doc && render());
    await load();
  },
});
