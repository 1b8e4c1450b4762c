// The audit trail for auditors (the operations of 0013, 0015): the chain recomputed by the database (from the newest
// signed head, or from the first event on request, in chunks of CHUNK events with the progress shown), the signed
// heads with each note for download and all as one text file, and the events newest first with prefix filters and
// paging, each actor with login name, display name and role. Each load is itself an audit event.
// The notes' signatures are checked outside, with the public key (casemgrd audit verify).
import { t, onLangChange } from './i18n.js';
import { get, errorText } from './api.js';
import { fieldFor, showError, clearErrors, numberErrors } from './fields.js';
import { start, el, when } from './shell.js';

const status = document.getElementById('status');
const form = document.getElementById('filters');
const CHUNK = 50000; // events per request of the full check (docs/formats/staff-api.md)
let st, heads = [], events = [], next = null, actors = {};

function facts(pairs) {
  const dl = el('dl', { class: 'facts' });
  for (const [k, v] of pairs) if (v !== null && v !== undefined && v !== '') dl.append(el('dt', { text: t(k) }), el('dd', { text: String(v) }));
  return dl;
}

function download(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/plain;charset=utf-8' }));
  const a = el('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function renderStatus() {
  const c = st.chain;
  const verdict = c.ok ? t('au.ok') : t('au.bad', { seq: c.bad_seq, reason: t('au.reason.' + c.reason) });
  document.getElementById('chain').replaceChildren(
    el('p', { class: c.ok && st.heads_ok ? 'done' : 'refusal', id: 'verdict', text: verdict + (st.heads_ok ? '' : ' ' + t('au.heads_bad')) }),
    facts([['au.events_n', st.events], ['au.checked', t(c.full ? 'au.from_start' : 'au.from_head', { from: c.from, n: c.checked })],
      ['au.head_size', st.head ? st.head.size : t('au.no_head')], ['au.head_at', st.head ? when(st.head.signed_at) : '']]));
  const ok = new Map(st.heads.map((h) => [h.size, h.matches]));
  const tb = document.querySelector('#heads tbody');
  tb.replaceChildren();
  for (const h of heads.slice().reverse()) {
    tb.append(el('tr', {}, el('td', { class: 'num', text: String(h.size) }), el('td', { text: when(h.signed_at) }),
      el('td', { text: ok.has(h.size) ? t(ok.get(h.size) ? 'yes' : 'no') : '' }),
      el('td', {}, el('button', { type: 'button', text: t('f.download'),
        onclick: () => download(h.size + '.note', h.note) }))));
  }
}

// "login（display name）· role · #id", or the system.
function actorText(id) {
  if (id === null) return t('tl.system');
  const a = actors[id];
  if (!a) return '#' + id;
  return a.username + (a.display_name ? '（' + a.display_name + '）' : '') + ' · ' + t('role.' + a.role) + ' · #' + id;
}

function renderEvents() {
  const tb = document.querySelector('#events tbody');
  tb.replaceChildren();
  for (const e of events) {
    tb.append(el('tr', {}, el('td', { class: 'num', text: String(e.seq) }), el('td', { text: when(e.at) }),
      el('td', { text: actorText(e.actor) }), el('td', { text: e.action }),
      el('td', { text: e.object }), el('td', { title: e.hash, text: e.hash.slice(0, 16) + '…' })));
  }
  document.getElementById('more').hidden = next === null;
}

function query(before) {
  const q = new URLSearchParams();
  for (const k of ['action', 'object', 'actor']) {
    const v = document.getElementById(k).value.trim();
    if (v) q.set(k, v);
  }
  q.set('limit', '50');
  if (before !== null) q.set('before', String(before));
  return q.toString();
}

async function loadEvents(more) {
  clearErrors(form);
  try {
    const doc = await get('/api/v1/ops/audit_events?' + query(more ? next : null));
    events = more ? events.concat(doc.events) : doc.events;
    Object.assign(actors, doc.actors || {});
    next = doc.next;
    renderEvents();
  } catch (e) {
    if (e.status === 400 && e.field && fieldFor(form, e.field)) showError(fieldFor(form, e.field), t('err.field') + e.message);
    else {
      status.hidden = false;
      status.textContent = errorText(e);
    }
  }
}

// The status; with full, the whole chain one chunk after the other, the progress shown, as one result: from event
// 0, the events checked summed, the first broken link.
async function checkStatus(full) {
  if (!full) return get('/api/v1/ops/audit_status');
  const progress = document.getElementById('progress');
  let doc, from = 0, checked = 0;
  progress.hidden = false;
  try {
    for (;;) {
      doc = await get('/api/v1/ops/audit_status?full=true&from=' + from + '&limit=' + CHUNK);
      checked += doc.chain.checked;
      if (doc.chain.next === null) break;
      from = doc.chain.next;
      progress.textContent = t('au.progress', { n: from, total: doc.events });
    }
  } finally {
    progress.hidden = true;
  }
  doc.chain.from = 0;
  doc.chain.checked = checked;
  return doc;
}

async function loadStatus(full) {
  try {
    [st, heads] = [await checkStatus(full), (await get('/api/v1/ops/audit_heads')).heads];
    status.hidden = true;
    document.getElementById('content').hidden = false;
    renderStatus();
  } catch (e) {
    status.hidden = false;
    status.textContent = errorText(e);
  }
}

numberErrors(document);
start({
  roles: ['auditor', 'national'],
  init: async () => {
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      loadEvents(false);
    });
    document.getElementById('more').addEventListener('click', () => loadEvents(true));
    document.getElementById('full').addEventListener('click', () => loadStatus(true));
    document.getElementById('export').addEventListener('click', () => download('audit-heads.txt', heads.map((h) => h.note).join('\n')));
    onLangChange(() => {
      if (st) renderStatus();
      renderEvents();
    });
    await loadStatus(false);
    await loadEvents(false);
  },
});
