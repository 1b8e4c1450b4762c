// The case inbox: the cases of the user's scope (the API decides which), with filters and keyset paging. The
// filters and the page live in the address (?stage=...&before=...), so a list can be reloaded or linked.
import { t, label, onLangChange, pageHref } from './i18n.js';
import { get, errorText, loadTaxonomy } from './api.js';
import { fieldFor, showError, clearErrors, numberErrors } from './fields.js';
import { start, el, when, codeLabel, regionName } from './shell.js';

const FILTERS = ['stage', 'province', 'region', 'category', 'limit'];
const form = document.getElementById('filters');
const status = document.getElementById('status');
let tax = null;
let answer = null;

function query() {
  const q = new URLSearchParams(location.search);
  const out = {};
  for (const k of [...FILTERS, 'before']) if (q.get(k)) out[k] = q.get(k);
  return out;
}

function fillSelect(select, items, current) {
  select.replaceChildren(el('option', { value: '', text: t('inbox.any') }));
  for (const [code, item] of items) select.append(el('option', { value: code, text: label(item), selected: code === current }));
}

function fillFilters() {
  const q = query();
  fillSelect(document.getElementById('stage'), tax.stages, q.stage);
  fillSelect(document.getElementById('category'), tax.crime_categories, q.category);
  fillSelect(document.getElementById('province'), [...tax.regions].filter(([, r]) => !r.parent), q.province);
  document.getElementById('region').value = q.region || '';
  if (q.limit) document.getElementById('limit').value = q.limit;
}

function today() {
  return new Date().toLocaleDateString('en-CA', { timeZone: 'Asia/Shanghai' });
}

function render() {
  const table = document.getElementById('cases');
  const body = table.querySelector('tbody');
  body.replaceChildren();
  if (!answer) return;
  const now = today();
  for (const c of answer.cases) {
    const late = c.deadline && c.deadline < now && !['closed', 'not_accepted'].includes(c.stage);
    body.append(el('tr', {},
      el('td', {}, el('a', { href: pageHref('/case.html', { id: c.id }), text: String(c.id) })),
      el('td', { text: codeLabel(tax.stages, c.stage) }),
      el('td', { text: codeLabel(tax.results, c.result) }),
      el('td', { text: regionName(tax.regions, c.region) }),
      el('td', { text: c.categories.map((x) => codeLabel(tax.crime_categories, x)).join('、') }),
      el('td', { text: codeLabel(tax.sectors, c.sector) }),
      el('td', { text: when(c.received_at) }),
      el('td', { class: late ? 'overdue' : null, text: c.deadline ? when(c.deadline, true) : '' })));
  }
  table.hidden = answer.cases.length === 0;
  status.textContent = answer.cases.length ? '' : t('inbox.none');
  const q = query();
  const paging = document.getElementById('paging');
  const base = Object.fromEntries(Object.entries(q).filter(([k]) => k !== 'before'));
  document.getElementById('first').href = pageHref('/index.html', base);
  document.getElementById('first').hidden = !q.before;
  document.getElementById('next').href = pageHref('/index.html', { ...base, before: answer.next });
  document.getElementById('next').hidden = !answer.next;
  paging.hidden = !q.before && !answer.next;
}

async function load() {
  const q = new URLSearchParams(query());
  try {
    answer = await get('/api/v1/cases' + (q.toString() ? '?' + q : ''));
    render();
  } catch (e) {
    if (e.status === 400 && e.field && fieldFor(form, e.field)) showError(fieldFor(form, e.field), t('err.field') + e.message);
    status.textContent = errorText(e);
  }
}

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  clearErrors(form);
  const region = document.getElementById('region').value.trim();
  if (region && !/^[0-9]{6}$/.test(region)) {
    showError(fieldFor(form, 'region'), t('err.field') + '6');
    return;
  }
  const q = {};
  for (const k of FILTERS) {
    const v = document.getElementById(k).value.trim();
    if (v && !(k === 'limit' && v === '50')) q[k] = v;
  }
  location.assign(pageHref('/index.html', q));
});
form.addEventListener('reset', (ev) => {
  ev.preventDefault();
  location.assign(pageHref('/index.html'));
});

numberErrors(document);
start({
  roles: ['national', 'provincial', 'unit_officer', 'reviewer'],
  init: async () => {
    tax = await loadTaxonomy();
    fillFilters();
    onLangChange(() => {
      fillFilters();
      render();
    });
    await load();
  },
});
