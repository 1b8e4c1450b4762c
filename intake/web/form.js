// The report form: built from GET /api/v1/form, sent as multipart/form-data with a proof of work.
// Nothing of the report is written to any browser storage; the page forgets it once it is acknowledged.
import { t, label, initLang, onLangChange, translate } from './i18n.js';
import { stripMetadata } from './strip.js';
import {
  getJSON, proofOfWork, fieldFor, showError, clearErrors, numberErrors, focusFirstError, apiMessage,
} from './common.js';

const $ = (id) => document.getElementById(id);
const form = $('report');
// Kept apart from the form, which is removed once the report is acknowledged.
const button = $('submit');
const working = $('working');
const TIME_RANGES = ['within_week', 'within_month', 'within_half_year', 'within_year', 'over_year', 'ongoing'];
let doc; // the form document from the server
const children = new Map(); // region code (or '' for the top) -> its regions
const relabel = []; // functions that re-label what was built from data

// Fills a <select> with a "choose" entry and items {code, zh, en}, keeping the choice across re-labelling.
function fillSelect(sel, items) {
  const keep = sel.value;
  sel.replaceChildren(new Option(t('choose'), ''));
  for (const it of items) sel.add(new Option(label(it), it.code));
  sel.value = items.some((it) => it.code === keep) ? keep : '';
}

function buildCategories() {
  const box = $('categories');
  for (const it of doc.taxonomy.lists.crime_categories) {
    const input = Object.assign(document.createElement('input'), { type: 'checkbox', value: it.code });
    const text = document.createElement('span');
    const l = document.createElement('label');
    l.append(input, ' ', text);
    box.append(l);
    relabel.push(() => (text.textContent = label(it)));
  }
}

function showLevel(cls, items, sel) {
  for (const el of document.querySelectorAll('.' + cls)) el.hidden = items.length === 0;
  fillSelect(sel, items);
}

function buildRegions() {
  for (const r of doc.taxonomy.regions) {
    const p = r.parent || '';
    if (!children.has(p)) children.set(p, []);
    children.get(p).push(r);
  }
  const kids = (code) => (code && children.get(code)) || [];
  $('province').addEventListener('change', () => {
    showLevel('level2', kids($('province').value), $('prefecture'));
    showLevel('level3', [], $('county'));
  });
  $('prefecture').addEventListener('change', () => showLevel('level3', kids($('prefecture').value), $('county')));
  relabel.push(() => {
    fillSelect($('province'), children.get('') || []);
    fillSelect($('prefecture'), kids($('province').value));
    fillSelect($('county'), kids($('prefecture').value));
  });
}

// The people reported and the officials named: lists the reporter grows ("add another") and shrinks, up to the
// API's limit. The first entry in the page is the model for the others. Each entry is a group with its own legend,
// and its fields carry data-field paths with the entry's place in the page (persons[2].phones), so errors found here
// land there; collect() leaves empty entries out and keeps, in `sent`, which entry each index sent came from, so
// that an error the server names by the index it received lands on the entry the reporter typed.
const lists = [
  { box: 'persons', add: 'add-person', path: 'persons', limit: 'max_persons', word: 'person' },
  { box: 'officials', add: 'add-official', path: 'umbrella.officials', limit: 'max_officials', word: 'official' },
];

function announce(text) {
  const live = $('entries-status');
  live.textContent = '';
  live.textContent = text;
}

// Numbers the entries 1..n again: legends, ids (the first entry keeps the page's ids), label targets, error ids,
// data-field indexes; each control is named by its entry's legend and its own label ("Person 2 Name").
function renumber(list) {
  const entries = [...list.boxEl.children];
  entries.forEach((entry, i) => {
    const n = String(i + 1);
    const legend = entry.querySelector('legend');
    legend.dataset.tN = n;
    legend.id = list.box + '-legend-' + n;
    for (const field of entry.querySelectorAll('[data-field]')) {
      const path = field.dataset.field;
      field.dataset.field = list.path + '[' + i + ']' + path.slice(path.indexOf(']') + 1);
      const control = field.querySelector('input, textarea');
      const lab = field.querySelector('label');
      const error = field.querySelector('.error');
      control.id = control.dataset.base + (i ? '-' + n : '');
      lab.htmlFor = control.id;
      lab.id = control.id + '-label';
      error.id = control.id + '-error';
      control.setAttribute('aria-labelledby', legend.id + ' ' + lab.id);
      if (control.hasAttribute('aria-describedby')) control.setAttribute('aria-describedby', error.id);
    }
    const remove = entry.querySelector('.remove');
    if (remove) remove.dataset.tN = n;
    translate(entry);
  });
  list.addEl.hidden = entries.length >= list.max;
}

function addEntry(list) {
  const entry = list.model.cloneNode(true);
  for (const c of entry.querySelectorAll('input, textarea')) c.value = '';
  const remove = Object.assign(document.createElement('button'), { type: 'button', className: 'remove' });
  remove.dataset.t = 'entry.remove_' + list.word;
  remove.addEventListener('click', () => removeEntry(list, entry));
  entry.append(remove);
  list.boxEl.append(entry);
  renumber(list);
  const n = list.boxEl.children.length;
  announce(t('entry.added_' + list.word, { n }) + (n >= list.max ? ' ' + t('entry.full', { n: list.max }) : ''));
  entry.querySelector('input, textarea').focus();
}

function removeEntry(list, entry) {
  const n = [...list.boxEl.children].indexOf(entry) + 1;
  entry.remove();
  renumber(list);
  announce(t('entry.removed_' + list.word, { n }));
  list.addEl.focus();
}

function buildLists() {
  for (const list of lists) {
    list.boxEl = $(list.box);
    list.addEl = $(list.add);
    list.max = doc.limits[list.limit] || 1;
    list.sent = [];
    const first = list.boxEl.firstElementChild;
    for (const c of first.querySelectorAll('input, textarea')) c.dataset.base = c.id;
    list.model = first.cloneNode(true); // before anything is typed or marked
    list.addEl.addEventListener('click', () => addEntry(list));
    renumber(list);
  }
}

// Each entry's trimmed values by the last part of its fields' paths (name, description, phones, ...).
const entryValues = (list) => [...list.boxEl.children].map((entry) => Object.fromEntries(
  [...entry.querySelectorAll('[data-field]')].map((f) => [f.dataset.field.replace(/^.*\]\./, ''),
    f.querySelector('input, textarea').value.trim()])));

// The non-empty entries of a list as the report carries them; list.sent[k] is the page entry of item k.
function listItems(list, toItem) {
  list.sent = [];
  const items = [];
  entryValues(list).forEach((v, i) => {
    if (!Object.values(v).some(Boolean)) return;
    list.sent.push(i);
    items.push(toItem(v));
  });
  return items;
}

// An error path as the page numbers entries: persons[1].phones[0] -> persons[2].phones[0] when the second person
// sent is the third in the page.
function pagePath(path) {
  for (const list of lists) {
    const m = path.startsWith(list.path + '[') && /^\[(\d+)\]/.exec(path.slice(list.path.length));
    if (m && list.sent[Number(m[1])] !== undefined) {
      return list.path + '[' + list.sent[Number(m[1])] + ']' + path.slice(list.path.length + m[0].length);
    }
  }
  return path;
}

function relabelAll() {
  fillSelect($('sector'), doc.taxonomy.lists.sectors);
  fillSelect($('time'), TIME_RANGES.map((code) => ({ code, zh: t('time.' + code), en: t('time.' + code) })));
  for (const fn of relabel) fn();
}

// The report JSON (docs/formats/report-json.md); empty optional blocks are left out.
function collect() {
  const v = (id) => $(id).value.trim();
  const region = v('county') || v('prefecture') || v('province');
  const report = {
    taxonomy_version: doc.taxonomy.version,
    locale: document.documentElement.lang,
    activity: {
      categories: [...$('categories').querySelectorAll('input:checked')].map((c) => c.value),
      sector: v('sector'),
      region,
      time: v('time') && 'range:' + v('time'),
      place: v('place'),
      narrative: v('narrative'),
    },
    reporter: { anonymous: $('realname').hidden },
  };
  if (!$('realname').hidden) {
    Object.assign(report.reporter, {
      anonymous: false, name: v('name'), phone: v('phone'), id_number: v('id-number').toUpperCase(),
      address: v('address'), contact_allowed: $('contact').checked,
    });
  }
  const persons = listItems(lists[0], (p) => ({ name: p.name, description: p.description,
    phones: p.phones ? [p.phones] : [] }));
  if (persons.length) report.persons = persons;
  const officials = listItems(lists[1], (o) => ({ name: o.name, position: o.position, unit: o.unit }));
  if (officials.length) report.umbrella = { officials };
  return report;
}

// What the page can tell before asking the server; returns whether all is well.
function check(report) {
  const req = (path, ok, key) => ok || (showError(fieldFor(form, path), t(key)), false);
  const files = [...$('files').files];
  const bytes = files.reduce((n, f) => n + f.size, 0);
  const lim = doc.limits;
  // The API needs a name or a description of each person; a phone number alone is not enough.
  const persons = entryValues(lists[0]).map((p, i) => !p.phones || p.name || p.description ||
    (showError(fieldFor(form, 'persons[' + i + '].name'), t('err.person_name')), false));
  return [
    ...persons,
    req('activity.categories', report.activity.categories.length > 0, 'err.categories'),
    req('activity.region', report.activity.region !== '', 'err.required'),
    report.reporter.anonymous || req('reporter.name', report.reporter.name !== '', 'err.required'),
    report.reporter.anonymous || req('reporter.phone', report.reporter.phone !== '', 'err.required'),
    files.length <= lim.max_attachments ||
      (showError(fieldFor(form, 'activity.attachments'), t('err.too_many_files', { n: lim.max_attachments })), false),
    bytes <= lim.attachment_bytes ||
      (showError(fieldFor(form, 'activity.attachments'),
        t('err.too_large', { n: Math.floor(lim.attachment_bytes / 1048576) })), false),
  ].every(Boolean);
}

// The files as they will be sent: unless the reporter keeps them, photo metadata is removed and names become
// neutral (a phone names photos by the time they were taken). Throws the name of a file that cannot be cleaned.
async function attachments() {
  const keep = $('keep-meta').checked;
  const out = [];
  for (const [i, f] of [...$('files').files].entries()) {
    if (keep) {
      out.push(f);
      continue;
    }
    const cleaned = stripMetadata(new Uint8Array(await f.arrayBuffer()));
    if (!cleaned) throw new Error(f.name);
    const ext = /\.[A-Za-z0-9]{1,5}$/.exec(f.name);
    out.push(new File([cleaned], 'attachment-' + (i + 1) + (ext ? ext[0].toLowerCase() : ''), { type: f.type }));
  }
  return out;
}

// POST with upload progress (fetch has none); resolves to {status, body, headers}.
function send(body, pow) {
  return new Promise((resolve) => {
    const x = new XMLHttpRequest();
    x.open('POST', '/api/v1/reports');
    x.setRequestHeader('X-Proof-Of-Work', pow);
    x.upload.onprogress = (e) => e.lengthComputable && ($('upload-progress').value = e.loaded / e.total);
    x.onload = () => {
      let parsed = null;
      try {
        parsed = JSON.parse(x.responseText);
      } catch {
        // not JSON: reported by status alone
      }
      resolve({ status: x.status, body: parsed, headers: { get: (h) => x.getResponseHeader(h) } });
    };
    x.onerror = () => resolve({ status: 0, body: null, headers: { get: () => null } });
    x.send(body);
  });
}

function formError(text) {
  $('form-error').textContent = text;
  $('form-error').hidden = false;
}

async function submit(ev) {
  ev.preventDefault();
  clearErrors(form);
  const report = collect();
  if (!check(report)) {
    formError(t('err.fix'));
    focusFirstError(form);
    return;
  }
  button.disabled = true;
  working.hidden = false;
  $('pow-progress').value = 0;
  $('upload-progress').value = 0;
  try {
    let files;
    try {
      files = await attachments();
    } catch (e) {
      showError(fieldFor(form, 'activity.attachments'), t('err.strip', { name: e.message }));
      focusFirstError(form);
      return;
    }
    const body = new FormData();
    body.append('report', new Blob([JSON.stringify(report)], { type: 'application/json' }));
    for (const f of files) body.append('attachment', f, f.name);
    const pow = await proofOfWork((p) => ($('pow-progress').value = p));
    const r = await send(body, pow);
    if (r.status === 201) return confirmed(r.body);
    const field = r.body && r.body.field && fieldFor(form, pagePath(r.body.field));
    if (r.status === 0) formError(t('err.network'));
    else if (field && (r.status === 400 || r.status === 415)) {
      showError(field, (r.status === 415 ? t('err.media') : t('err.field')) + ' ' + (r.body.message || ''));
      formError(t('err.fix'));
      focusFirstError(form);
    } else if (r.status === 400 || r.status === 415) {
      // A refusal naming no field of this form (or none at all) is still a refusal, not a busy server.
      formError(t('err.invalid') + ((r.body && r.body.message) || ''));
    } else formError(apiMessage(r.status, r.headers));
  } catch {
    formError(t('err.network'));
  } finally {
    button.disabled = false;
    working.hidden = true;
  }
}

// The acknowledgement: the form and everything in it is dropped; only the code is shown.
function confirmed(ack) {
  form.reset();
  form.remove();
  $('intro').hidden = true;
  const code = $('code');
  for (const group of ack.query_code.split(' ')) {
    code.append(Object.assign(document.createElement('span'), { textContent: group }), ' ');
  }
  $('received').textContent = ack.received_at;
  $('done').hidden = false;
  $('done').focus();
  const digits = ack.query_code.replace(/ /g, '');
  $('copy').addEventListener('click', () => copy(digits, ack.query_code));
  $('print').addEventListener('click', () => window.print());
  $('save').addEventListener('click', () => saveImage(ack.query_code));
}

async function copy(digits, shown) {
  let ok = false;
  try {
    await navigator.clipboard.writeText(digits);
    ok = true;
  } catch {
    // No clipboard API (plain HTTP, old browsers): select the shown code and copy the selection.
    const range = document.createRange();
    range.selectNodeContents($('code'));
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    ok = document.execCommand('copy') && getSelection().toString().replace(/\s/g, '') === shown.replace(/ /g, '');
  }
  $('copy-result').textContent = t(ok ? 'done.copied' : 'done.copy_failed');
}

// A PNG of the code and the warning, drawn on a canvas and handed over as a download.
function saveImage(shown) {
  const c = document.createElement('canvas');
  c.width = 900;
  c.height = 420;
  const g = c.getContext('2d');
  g.fillStyle = '#fff';
  g.fillRect(0, 0, c.width, c.height);
  g.fillStyle = '#111';
  g.font = '32px sans-serif';
  g.fillText(t('site.name') + ' — ' + t('done.code'), 40, 70);
  g.font = 'bold 60px monospace';
  g.fillText(shown, 40, 180);
  g.font = '24px sans-serif';
  const words = t('done.warning');
  const per = document.documentElement.lang === 'en' ? 60 : 32;
  for (let i = 0, y = 260; i < words.length; i += per, y += 36) g.fillText(words.slice(i, i + per), 40, y);
  c.toBlob((blob) => {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = 'query-code.png';
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }, 'image/png');
}

async function start() {
  initLang();
  numberErrors(document);
  try {
    doc = await getJSON('/api/v1/form', true);
  } catch {
    $('loading').textContent = t('form.load_failed');
    return;
  }
  for (const el of form.querySelectorAll('[data-limit]')) el.maxLength = doc.limits[el.dataset.limit];
  buildCategories();
  buildRegions();
  buildLists();
  relabelAll();
  onLangChange(relabelAll);
  for (const r of form.querySelectorAll('input[name="mode"]')) {
    r.addEventListener('change', () => ($('realname').hidden = !form.querySelector('input[value="realname"]').checked));
  }
  form.addEventListener('submit', submit);
  $('loading').hidden = true;
  form.hidden = false;
}

start();
