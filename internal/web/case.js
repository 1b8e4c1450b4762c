// One case: its report's four blocks (the reporter's identity only when the API gives it), attachments to
// download, the workflow panel offering exactly the transitions GET .../actions/workflow lists, each with
// its form, the similar and linked cases (confirm, reject, merge), and the timeline. Errors go next to the field the API names; refusals are said plainly.
import { t, label, onLangChange, pageHref } from './i18n.js';
import { get, post, errorText, loadTaxonomy, loadUnits } from './api.js';
import { fieldFor, showError, clearErrors, numberErrors, focusFirstError } from './fields.js';
import { start, el, when, codeLabel, regionName } from './shell.js';

const id = new URLSearchParams(location.search).get('id');
const base = '/api/v1/cases/' + id;
let me, tax, units, kase, wf, events, people = {};
let openForm = null; // the action whose form is shown
let clocks = null; // GET .../actions/clocks, when the operation exists
let pendingExtension = null; // a request this user may decide
let similar = null; // GET .../actions/similar's links, when the operation exists
let mergeAsk = null; // the case this one would be merged into, while its confirmation is shown

const status = document.getElementById('status');

// ---- what is shown ----

function facts(pairs) {
  const dl = el('dl', { class: 'facts' });
  for (const [k, v] of pairs) {
    if (v === undefined || v === null || v === '') continue;
    dl.append(el('dt', { text: t(k) }), el('dd', {}, v instanceof Node ? v : String(v)));
  }
  return dl;
}

const unitName = (uid) => (uid ? (units.get(uid) ? units.get(uid).name : t('unit', { id: uid })) : '');
const personName = (uid) => {
  if (!uid) return t('tl.system');
  if (uid === me.id) return me.display_name || me.username;
  return people[uid] ? people[uid].name : t('user', { id: uid });
};
const yes = (b) => t(b ? 'yes' : 'no');

function timeText(s) {
  return s && s.startsWith('range:') ? t('time.' + s.slice(6)) : s;
}

function pills(codes, map) {
  const box = el('div');
  for (const c of codes || []) box.append(el('span', { class: 'pill', text: codeLabel(map, c) }));
  return box;
}

function renderReport() {
  const r = kase.report;
  const a = r.activity;
  document.getElementById('title').textContent = t('case.title', { id: kase.id });
  document.title = t('case.title', { id: kase.id });
  document.querySelector('#summary div').replaceChildren(facts([
    ['case.stage', codeLabel(tax.stages, kase.stage)],
    ['case.result', codeLabel(tax.results, kase.result)],
    ['case.region', regionName(tax.regions, kase.region)],
    ['case.received', when(kase.received_at)],
    ['case.deadline', kase.deadline ? when(kase.deadline, true) : ''],
    ['case.origin', r.origin + ' #' + r.seq],
  ]));

  const files = el('ul');
  for (const f of a.attachments || []) {
    files.append(el('li', {},
      el('a', { href: base + '/attachments/' + f.index, download: f.filename || 'attachment-' + f.index,
        text: (f.filename || 'attachment-' + f.index) }),
      ' ' + f.content_type + ', ' + f.bytes.toLocaleString() + ' B',
      el('br'), el('small', { class: 'muted', text: 'SHA-256 ' + f.sha256 })));
  }
  document.querySelector('#activity div').replaceChildren(facts([
    ['f.categories', pills(a.categories, tax.crime_categories)],
    ['f.sector', codeLabel(tax.sectors, a.sector)],
    ['f.region', regionName(tax.regions, a.region)],
    ['f.place', a.place],
    ['f.time', timeText(a.time)],
    ['f.narrative', a.narrative],
    ['f.attachments', (a.attachments || []).length ? files : t('none')],
  ]));

  const persons = document.querySelector('#persons div');
  persons.replaceChildren(...(r.persons.length ? r.persons.map((p) => facts([
    ['f.name', p.name], ['f.aliases', (p.aliases || []).join('、')], ['f.description', p.description],
    ['f.phones', (p.phones || []).join('、')], ['f.region', p.region ? regionName(tax.regions, p.region) : ''],
  ])) : [el('p', { class: 'muted', text: t('none') })]));

  const umbrella = document.querySelector('#umbrella div');
  umbrella.replaceChildren(...(r.umbrella.length ? r.umbrella.map((o) => facts([
    ['f.name', o.name], ['f.position', o.position], ['f.unit', o.unit],
    ['f.region', o.region ? regionName(tax.regions, o.region) : ''], ['f.description', o.description],
  ])) : [el('p', { class: 'muted', text: t('none') })]));

  const rep = r.reporter;
  const shown = 'name' in rep;
  document.querySelector('#reporter div').replaceChildren(facts([
    ['f.mode', t(rep.anonymous ? 'f.anonymous' : 'f.realname')],
    ['f.contact_allowed', yes(rep.contact_allowed)],
    ['f.channel', rep.channel],
    ['f.name', rep.name], ['f.id_number', rep.id_number], ['f.phone', rep.phone], ['f.address', rep.address],
  ]), shown ? '' : el('p', { class: 'muted', text: t('f.identity_hidden') }));
}

function renderWorkflow() {
  document.getElementById('wf-facts').replaceChildren(facts([
    ['case.stage', codeLabel(tax.stages, wf.stage)],
    ['wf.handling_unit', unitName(wf.handling_unit)],
    ['wf.assigned_unit', unitName(wf.assigned_unit)],
    ['wf.review_unit', unitName(wf.review_unit)],
    ['case.deadline', wf.deadline ? when(wf.deadline, true) : ''],
    ['wf.escalation', wf.escalation_level || ''],
    ['wf.contactable', yes(wf.contactable)],
    ['wf.conflict', wf.conflict ? t('yes') : ''],
    ['wf.reexamine', wf.reexamine ? t('yes') : ''],
    ['wf.merged_into', wf.merged_into ? el('a', { href: pageHref('/case.html', { id: wf.merged_into }), text: String(wf.merged_into) }) : ''],
  ]));

  const buttons = document.getElementById('wf-actions');
  buttons.replaceChildren();
  const actions = [...wf.actions, ...(pendingExtension ? ['extension_decide'] : [])];
  for (const name of actions) {
    buttons.append(el('button', { type: 'button', 'data-action': name, 'aria-expanded': String(openForm === name),
      text: t('act.' + name), onclick: () => toggleForm(name) }));
  }
  if (!actions.length) buttons.append(el('p', { class: 'muted', text: t('wf.no_actions') }));
  if (openForm && !actions.includes(openForm)) openForm = null;
  if (!openForm) document.getElementById('wf-form').replaceChildren();

  const results = document.getElementById('wf-results');
  results.replaceChildren();
  if (wf.results.length) {
    results.append(el('h3', { text: t('wf.results') }));
    for (const r of wf.results) {
      const reviews = el('ul');
      for (const v of r.reviews) {
        reviews.append(el('li', { text: t('wf.level.' + v.level) + ' · ' + t('arg.' + v.decision) + ' · ' +
          personName(v.reviewer) + ' · ' + when(v.at) + (v.reasons ? ' · ' + v.reasons : '') }));
      }
      const files = el('ul');
      for (const f of r.attachments || []) {
        files.append(el('li', {},
          el('a', { href: base + '/results/' + r.id + '/files/' + f.index, download: f.filename, text: f.filename }),
          ' ' + f.content_type + ', ' + f.bytes.toLocaleString() + ' B'));
      }
      results.append(el('div', { class: 'notice' }, facts([
        ['arg.result', codeLabel(tax.results, r.result) + ' · ' + t('wf.result_state.' + r.state)],
        ['wf.assigned_unit', unitName(r.unit) + ' · ' + personName(r.submitted_by) + ' · ' + when(r.submitted_at)],
        ['wf.findings', r.findings], ['wf.measures', r.actions], ['wf.files', (r.attachments || []).length ? files : ''],
        ['wf.reviews', r.reviews.length ? reviews : ''],
      ])));
    }
  }
  const contacts = document.getElementById('wf-contacts');
  contacts.replaceChildren();
  if (wf.contacts.length) {
    const list = el('ul');
    for (const k of wf.contacts) {
      list.append(el('li', { text: when(k.contacted_at) + ' · ' + t('channel.' + k.channel) + ' · ' +
        t('outcome.' + k.outcome) + (k.closing ? ' ' + t('wf.closing') : '') + ' · ' + personName(k.actor) +
        (k.note ? ' · ' + k.note : '') }));
    }
    contacts.append(el('h3', { text: t('wf.contacts') }), list);
  }
}

// The clocks (0006): the contact and handling clocks, extension requests, and the decision on a pending one
// for the office that may take it (extension_decide is not a transition, so workflow does not list it).
function renderClocks() {
  const box = document.querySelector('#extra div');
  const section = document.getElementById('extra');
  if (!clocks) {
    section.hidden = true;
    return;
  }
  section.hidden = false;
  document.getElementById('extra-h').textContent = t('ck.title');
  const list = el('ul');
  for (const c of clocks.clocks) {
    list.append(el('li', { class: c.overdue ? 'overdue' : null, text: t('ck.' + c.clock) + ' · ' + t('ck.state.' + c.state) +
      (c.due ? ' · ' + t('ck.due') + when(c.due, true) : '') + (c.overdue ? ' · ' + t('ck.overdue') : '') }));
  }
  box.replaceChildren(list);
  for (const x of clocks.extensions) {
    box.append(el('div', { class: 'notice' }, facts([
      ['act.extension_request', x.working_days + ' · ' + personName(x.requested_by) + ' · ' + when(x.requested_at)],
      ['arg.reason', x.reason], ['ck.ext_state', t('ck.ext.' + x.state) + (x.new_deadline ? ' · ' + when(x.new_deadline, true) : '')],
      ['d.reason', x.decision_reason]])));
    if (x.state === 'pending' && clocks.may_decide_extensions) pendingExtension = x.id;
  }
}

// The similar and linked cases (0009): score, matching fields, stage and result of each, and for the office
// that may decide (the national office, or the provincial office handling the case) confirm, reject and merge.
// The database decides in the end: a refusal is said above the list.
const fieldNames = (fields) => (fields || []).map((f) => {
  const name = t('sim.field.' + f);
  return name === 'sim.field.' + f ? f : name;
}).join(t('sim.sep'));

function mayDecide() {
  return me.role === 'national' || (me.role === 'provincial' && me.unit === wf.handling_unit);
}

function renderSimilar() {
  const section = document.getElementById('similar');
  if (!similar) {
    section.hidden = true;
    return;
  }
  section.hidden = false;
  const box = document.querySelector('#similar div');
  box.replaceChildren();
  if (!similar.length) box.append(el('p', { class: 'muted', text: t('sim.none') }));
  const decide = mayDecide() && !wf.merged_into;
  for (const l of similar) {
    const item = el('div', { class: 'notice linked', 'data-case': String(l.case) },
      el('h3', {}, el('a', { href: pageHref('/case.html', { id: l.case }), text: t('case.title', { id: l.case }) }),
        ' · ' + t('sim.state.' + l.state)),
      facts([
        ['sim.score', l.score === null || l.score === undefined ? '' : Math.round(l.score * 100) + '%'],
        ['sim.fields', fieldNames(l.fields)],
        ['case.stage', codeLabel(tax.stages, l.stage)],
        ['case.result', l.result ? codeLabel(tax.results, l.result) : ''],
        ['wf.merged_into', l.merged_into ? el('a', { href: pageHref('/case.html', { id: l.merged_into }), text: String(l.merged_into) }) : ''],
      ]));
    if (decide) {
      const buttons = el('div', { class: 'actions' });
      if (l.state === 'proposed') {
        buttons.append(el('button', { type: 'button', 'data-decide': 'confirm', text: t('sim.confirm'),
          onclick: () => decideLink(l.case, 'confirm') }),
        el('button', { type: 'button', 'data-decide': 'reject', text: t('sim.reject'),
          onclick: () => decideLink(l.case, 'reject') }));
      }
      if (!l.merged_into) {
        buttons.append(el('button', { type: 'button', 'data-decide': 'merge', 'aria-expanded': String(mergeAsk === l.case),
          text: t('sim.merge'), onclick: () => askMerge(l.case) }));
      }
      item.append(buttons);
      if (mergeAsk === l.case) {
        item.append(el('div', { class: 'panel-form', 'data-form': 'merge' },
          el('p', { text: t('sim.merge_ask', { case: kase.id, into: l.case }) }),
          el('div', { class: 'actions' },
            el('button', { type: 'button', class: 'primary', 'data-decide': 'merge_yes', text: t('sim.merge_yes'),
              onclick: () => merge(l.case) }),
            el('button', { type: 'button', text: t('wf.cancel'), onclick: () => askMerge(l.case) }))));
      }
    }
    box.append(item);
  }
}

function askMerge(other) {
  mergeAsk = mergeAsk === other ? null : other;
  renderSimilar();
  const focus = document.querySelector(mergeAsk ? '#similar [data-decide="merge_yes"]'
    : '#similar [data-case="' + other + '"] [data-decide="merge"]');
  if (focus) focus.focus();
}

// The outcome (or the refusal) of a decision, said above the list and focused.
function simOutcome(ok, text) {
  const p = document.getElementById('sim-outcome');
  p.className = ok ? 'done' : 'refusal';
  p.setAttribute('role', ok ? 'status' : 'alert');
  p.textContent = text;
  p.hidden = false;
  p.focus();
}

async function simCall(op, body, done) {
  for (const b of document.querySelectorAll('#similar button')) b.disabled = true;
  try {
    await post(base + '/actions/' + op, body);
    mergeAsk = null;
    await reload();
    simOutcome(true, done);
  } catch (e) {
    simOutcome(false, errorText(e));
    for (const b of document.querySelectorAll('#similar button')) b.disabled = false;
  }
}

const decideLink = (other, decision) => simCall('link', { other, decision },
  t(decision === 'confirm' ? 'sim.confirmed' : 'sim.rejected', { case: other }));
const merge = (into) => simCall('merge', { into }, t('sim.merged', { case: into }));

// A timeline event's details in words: units by name, codes by label, times in China; bookkeeping left out.
const SKIP = ['id', 'actor', 'recorded_at', 'result_id', 'case_id'];
function detailText(action, d) {
  const parts = [];
  for (const [k, v] of Object.entries(d || {})) {
    if (v === null || v === '' || v === false || SKIP.includes(k)) continue;
    let s;
    if (['unit', 'review_unit', 'from', 'to', 'handling_unit'].includes(k) && typeof v === 'number') s = unitName(v);
    else if (k === 'result') s = codeLabel(tax.results, v);
    else if (k === 'level') s = t('wf.level.' + v);
    else if (k === 'decision') s = t('arg.' + v);
    else if (k === 'state' && action === 'link') s = t('sim.state.' + v);
    else if (k === 'channel') s = t('channel.' + v);
    else if (k === 'outcome') s = t('outcome.' + v);
    else if (k === 'deadline') s = when(v, true);
    else if (k === 'contacted_at') s = when(v);
    else if (v === true) s = t('yes');
    else if (typeof v === 'object') s = JSON.stringify(v);
    else s = String(v);
    const name = t('d.' + k);
    parts.push((name === 'd.' + k ? k : name) + '：' + s);
  }
  return parts.join(' · ');
}

function renderTimeline() {
  const list = document.querySelector('#timeline ol');
  list.replaceChildren();
  for (const e of events) {
    const stages = e.from && e.from !== e.to ? codeLabel(tax.stages, e.from) + ' → ' + codeLabel(tax.stages, e.to)
      : codeLabel(tax.stages, e.to);
    list.append(el('li', {},
      el('span', { class: 'date', text: when(e.at) + ' · ' + personName(e.actor) }),
      el('strong', { text: t('act.' + e.action) }), ' ' + stages,
      detailText(e.action, e.detail) ? el('div', { class: 'muted', text: detailText(e.action, e.detail) }) : null));
  }
  if (!events.length) list.append(el('li', { class: 'muted', text: t('tl.none') }));
}

function render() {
  renderReport();
  renderClocks();
  renderWorkflow();
  renderSimilar();
  renderTimeline();
  if (openForm) showForm(openForm);
}

// ---- the forms of the transitions ----

const note = { key: 'note', type: 'textarea', text: 'arg.note' };
const RESULTS = ['substantiated', 'partially_substantiated', 'not_substantiated', 'referred', 'insufficient_information'];

// Units a case may go to, of the given kinds and not disabled: of its province unless the national office handles it (the
// database decides in the end; this only keeps the list short).
function unitChoices(kinds, anyProvince) {
  const national = [...units.values()].find((u) => u.kind === 'national');
  const wide = anyProvince || (national && wf.handling_unit === national.id);
  return [...units.values()]
    .filter((u) => kinds.includes(u.kind) && !u.disabled && (wide || u.province === kase.province))
    .map((u) => [String(u.id), u.name]);
}

function spec(name) {
  const codes = (list, map) => list.map((c) => [c, codeLabel(map, c)]);
  switch (name) {
    case 'accept': case 'distribute': case 'close': return [note];
    case 'decline': return [{ key: 'result', type: 'select', text: 'arg.result', required: true,
      options: codes(['insufficient_information', 'referred'], tax.results) },
    { key: 'reason', type: 'textarea', text: 'arg.reason', required: true }];
    case 'redistribute': return [{ key: 'unit', type: 'select', text: 'arg.unit_office', required: true, int: true,
      options: unitChoices(['national', 'provincial'], true).filter(([u]) => Number(u) !== wf.handling_unit) },
    { key: 'reason', type: 'textarea', text: 'arg.reason', required: true }];
    case 'assign': return [
      { key: 'unit', type: 'select', text: 'arg.unit_verification', required: true, int: true, options: unitChoices(['verification']) },
      { key: 'review_unit', type: 'select', text: 'arg.review_unit', required: true, int: true, options: unitChoices(['review']) },
      { key: 'working_days', type: 'number', text: 'arg.working_days', min: 1, max: 250, value: '30' }, note];
    case 'reassign': return [
      { key: 'unit', type: 'select', text: 'arg.unit_verification', required: true, int: true,
        options: unitChoices(['verification']).filter(([u]) => Number(u) !== wf.assigned_unit) },
      { key: 'reason', type: 'textarea', text: 'arg.reason', required: true },
      { key: 'working_days', type: 'number', text: 'arg.working_days', min: 1, max: 250 }];
    case 'start': return [];
    case 'submit_result': return [
      { key: 'result', type: 'select', text: 'arg.result', required: true, options: codes(RESULTS, tax.results) },
      { key: 'findings', type: 'textarea', text: 'arg.findings', required: true, rows: 6 },
      { key: 'actions', type: 'textarea', text: 'arg.actions' },
      { key: 'attachments', type: 'files', text: 'arg.attachments' }];
    case 'review': return [
      { key: 'decision', type: 'radio', text: 'arg.decision', required: true,
        options: [['approve', t('arg.approve')], ['reject', t('arg.reject')]] },
      { key: 'reasons', type: 'textarea', text: 'arg.reasons' }];
    case 'record_contact': return [
      { key: 'channel', type: 'select', text: 'arg.channel', required: true,
        options: ['phone', 'sms', 'in_person'].map((c) => [c, t('channel.' + c)]) },
      { key: 'outcome', type: 'select', text: 'arg.outcome', required: true,
        options: ['reached', 'not_reached', 'declined'].map((c) => [c, t('outcome.' + c)]) },
      { key: 'contacted_at', type: 'datetime', text: 'arg.contacted_at', required: true },
      { key: 'closing', type: 'checkbox', text: 'arg.closing' }, note];
    case 'reopen': return [
      { key: 'reason', type: 'textarea', text: 'arg.reason', required: true },
      { key: 'working_days', type: 'number', text: 'arg.working_days', required: true, min: 1, max: 250, value: '30' }];
    case 'supervise': return [{ key: 'instruction', type: 'textarea', text: 'arg.instruction', required: true }];
    case 'extension_request': return [
      { key: 'working_days', type: 'number', text: 'arg.days', required: true, min: 1, max: 60 },
      { key: 'reason', type: 'textarea', text: 'arg.reason', required: true }];
    case 'extension_decide': return [
      { key: 'decision', type: 'radio', text: 'arg.decision', required: true,
        options: [['approve', t('arg.approve')], ['refuse', t('arg.refuse')]] },
      { key: 'reason', type: 'textarea', text: 'arg.reasons' }];
    default: return null; // a transition this page does not know yet: offered, but without a form
  }
}

// Now in China as a datetime-local value.
function nowLocal() {
  return new Date().toLocaleString('sv-SE', { timeZone: 'Asia/Shanghai' }).replace(' ', 'T').slice(0, 16);
}

function control(f) {
  const cid = 'arg-' + f.key;
  const box = el('div', { class: 'field', 'data-field': f.key });
  const text = t(f.text) + (f.required ? ' *' : '');
  if (f.type === 'checkbox') {
    box.append(el('label', { class: 'inline' }, el('input', { id: cid, name: f.key, type: 'checkbox' }), text));
  } else if (f.type === 'radio') {
    const set = el('fieldset', {}, el('legend', { text }));
    for (const [v, l] of f.options) {
      set.append(el('label', { class: 'inline' }, el('input', { type: 'radio', name: f.key, value: v }), l));
    }
    box.append(set);
  } else {
    box.append(el('label', { for: cid, text }));
    let c;
    if (f.type === 'select') {
      c = el('select', { id: cid, name: f.key }, el('option', { value: '', text: '—' }));
      for (const [v, l] of f.options) c.append(el('option', { value: v, text: l }));
    } else if (f.type === 'textarea') {
      c = el('textarea', { id: cid, name: f.key, rows: String(f.rows || 3), maxlength: '20000' });
    } else if (f.type === 'number') {
      c = el('input', { id: cid, name: f.key, type: 'number', min: String(f.min), max: String(f.max), value: f.value });
    } else if (f.type === 'datetime') {
      c = el('input', { id: cid, name: f.key, type: 'datetime-local', value: nowLocal(), max: nowLocal() });
    } else if (f.type === 'files') {
      c = el('input', { id: cid, name: f.key, type: 'file', multiple: true,
        accept: 'application/pdf,image/jpeg,image/png,text/plain' });
    }
    box.append(c);
  }
  box.append(el('p', { class: 'error', hidden: true }));
  return box;
}

function toggleForm(name) {
  if (openForm === name) {
    openForm = null;
    document.getElementById('wf-form').replaceChildren();
    renderWorkflow();
    return;
  }
  openForm = name;
  document.getElementById('wf-outcome').hidden = true;
  renderWorkflow();
  showForm(name);
  const first = document.querySelector('#wf-form input, #wf-form select, #wf-form textarea, #wf-form button[type="submit"]');
  if (first) first.focus();
}

function showForm(name) {
  const fields = spec(name) || [];
  const form = el('form', { class: 'panel-form', novalidate: true, autocomplete: 'off', 'data-form': name },
    el('h3', { text: t('act.' + name) }));
  if (!fields.length) form.append(el('p', { text: t('arg.confirm') }));
  for (const f of fields) form.append(control(f));
  form.append(el('p', { class: 'refusal', role: 'alert', hidden: true, 'data-role': 'form-error' }),
    el('div', { class: 'actions' },
      el('button', { type: 'submit', class: 'primary', text: t('wf.submit') }),
      el('button', { type: 'button', text: t('wf.cancel'), onclick: () => toggleForm(name) })));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submit(name, fields, form);
  });
  document.getElementById('wf-form').replaceChildren(form);
  numberErrors(form);
}

const TYPES = ['application/pdf', 'image/jpeg', 'image/png', 'text/plain'];

function base64(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).replace(/^data:[^,]*,/, ''));
    r.onerror = () => reject(r.error);
    r.readAsDataURL(file);
  });
}

// The form's values as the operation's arguments; errors next to fields. null when something is missing.
async function args(fields, form) {
  const out = {};
  for (const f of fields) {
    const field = fieldFor(form, f.key);
    if (f.type === 'checkbox') {
      if (form.elements[f.key].checked) out[f.key] = true;
      continue;
    }
    if (f.type === 'files') {
      const files = [...form.elements[f.key].files];
      if (files.length > 10 || files.some((x) => !TYPES.includes(x.type) || x.size > 8 << 20)) {
        showError(field, t('err.files'));
        continue;
      }
      if (files.length) {
        out[f.key] = await Promise.all(files.map(async (x) => ({ filename: x.name, content_type: x.type, data: await base64(x) })));
      }
      continue;
    }
    const v = f.type === 'radio' ? (form.querySelector('input[name="' + f.key + '"]:checked') || {}).value
      : form.elements[f.key].value.trim();
    if (!v) {
      if (f.required) showError(field, t('err.required'));
      continue;
    }
    if (f.type === 'datetime') out[f.key] = (v.length === 16 ? v + ':00' : v) + '+08:00';
    else if (f.int || f.type === 'number') out[f.key] = Number(v);
    else out[f.key] = v;
  }
  return form.querySelector('[aria-invalid="true"]') ? null : out;
}

async function submit(name, fields, form) {
  clearErrors(form);
  const formError = form.querySelector('[data-role="form-error"]');
  formError.hidden = true;
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  try {
    const body = await args(fields, form);
    if (!body) return focusFirstError(form);
    if (name === 'extension_decide') body.extension = pendingExtension;
    await post(base + '/actions/' + name, body);
    openForm = null;
    await reload();
    const done = document.getElementById('wf-outcome');
    done.className = 'done';
    done.textContent = t('wf.done', { action: t('act.' + name) });
    done.hidden = false;
    done.focus();
  } catch (e) {
    // A body over the server's limit can only be the files' fault.
    const tooLarge = e.status === 413 && fieldFor(form, 'attachments');
    const field = tooLarge || (e.status === 400 && e.field ? fieldFor(form, e.field) : null);
    if (field) {
      showError(field, tooLarge ? t('err.too_large') : t('err.field') + e.message);
      focusFirstError(form);
    } else {
      formError.textContent = errorText(e);
      formError.hidden = false;
      formError.setAttribute('tabindex', '-1');
      formError.focus();
    }
  } finally {
    button.disabled = false;
  }
}

// ---- loading ----

async function reload() {
  [kase, wf, events, people, clocks, similar] = await Promise.all([get(base), get(base + '/actions/workflow'),
    get(base + '/actions/timeline').then((d) => d.events),
    get(base + '/actions/people').then((d) => d.people).catch(() => ({})),
    get(base + '/actions/clocks').catch(() => null),
    get(base + '/actions/similar').then((d) => d.links).catch(() => null)]);
  pendingExtension = null;
  document.getElementById('wf-outcome').hidden = true;
  document.getElementById('sim-outcome').hidden = true;
  render();
}

start({
  roles: ['national', 'provincial', 'unit_officer', 'reviewer'],
  init: async (user) => {
    me = user;
    if (!/^[1-9][0-9]{0,17}$/.test(id || '')) {
      status.textContent = t('err.not_found');
      return;
    }
    try {
      [tax, units] = await Promise.all([loadTaxonomy(), loadUnits()]);
      await reload();
      status.textContent = '';
      status.hidden = true;
      document.getElementById('content').hidden = false;
      onLangChange(render);
    } catch (e) {
      status.textContent = errorText(e);
    }
  },
});
