// Administration: accounts and units (the operations of 0015) and the holiday calendar that deadlines in working
// days follow (holidays, holiday_set and holiday_delete of 0006). A new account's temporary password and TOTP
// secret (text, otpauth URI and QR code), made by the server, are shown here once and gone when closed.
import { t, onLangChange } from './i18n.js';
import { get, post, errorText, ApiError } from './api.js';
import { fieldFor, showError, clearErrors, numberErrors, focusFirstError } from './fields.js';
import { start, el, when } from './shell.js';

const status = document.getElementById('status');
const yearForm = document.getElementById('year-form');
const setForm = document.getElementById('set');
let doc;
let users = [], units = [], editing = null;

const ROLES = ['national', 'provincial', 'unit_officer', 'reviewer', 'auditor', 'administrator'];
const KINDS = ['provincial', 'prefecture', 'county', 'verification', 'review'];

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
  if (!(await submit(setForm, 'holiday_set', body, p))) return;
  document.getElementById('year').value = body.day.slice(0, 4);
  await load();
  say(p, 'done', t('adm.saved', { day: body.day }));
});

// ---- accounts and units ----

function unitName(id) {
  const u = units.find((x) => x.id === id);
  return u ? u.name : t('unit', { id });
}

function userState(u) {
  const parts = [t(u.disabled ? 'adm.disabled' : 'adm.enabled')];
  if (u.locked) parts.push(t('adm.locked'));
  if (u.must_change_password) parts.push(t('adm.must_change'));
  parts.push(t('adm.totp.' + u.totp));
  return parts.join(' · ');
}

function options(select, items, value) {
  select.replaceChildren(...items.map(([v, text]) => el('option', { value: String(v), text })));
  if (value !== undefined) select.value = String(value);
}

function fillSelects() {
  for (const s of document.querySelectorAll('select.roles')) options(s, ROLES.map((r) => [r, t('role.' + r)]), s.value || undefined);
  const enabled = units.filter((u) => !u.disabled).map((u) => [u.id, u.name + ' (' + u.id + ')']);
  for (const s of document.querySelectorAll('select.units')) options(s, enabled, s.value || undefined);
  const kind = document.getElementById('unit-kind');
  options(kind, KINDS.map((k) => [k, t('adm.kind_' + k)]), kind.value || undefined);
}

function renderUsers() {
  const body = document.querySelector('#users tbody');
  body.replaceChildren();
  for (const u of users) {
    const who = u.username;
    const buttons = [
      ['adm.edit', () => openEdit(u)],
      ['adm.reset', () => userOp('user_password_reset', u)],
      ['adm.enrol', () => userOp('user_totp_enrol', u)],
      [u.disabled ? 'adm.enable' : 'adm.disable', () => userOp(u.disabled ? 'user_enable' : 'user_disable', u)],
    ].map(([key, onclick]) => el('button', { type: 'button', text: t(key), 'aria-label': t(key) + ' ' + who, onclick }));
    body.append(el('tr', { 'data-user': who }, el('td', { text: who }), el('td', { text: u.display_name }),
      el('td', { text: t('role.' + u.role) }), el('td', { text: unitName(u.unit) }), el('td', { text: userState(u) }),
      el('td', { text: u.last_login_at ? when(u.last_login_at) : t('adm.never') }), el('td', {}, ...buttons)));
  }
}

function renderUnits() {
  const body = document.querySelector('#units tbody');
  body.replaceChildren();
  for (const u of units) {
    const buttons = u.kind === 'national' ? [] : [
      el('button', { type: 'button', text: t('adm.rename'), 'aria-label': t('adm.rename') + ' ' + u.name, onclick: () => renameUnit(u) }),
      el('button', { type: 'button', text: t(u.disabled ? 'adm.enable' : 'adm.disable'), 'aria-label': t(u.disabled ? 'adm.enable' : 'adm.disable') + ' ' + u.name,
        onclick: () => unitOp(u.disabled ? 'unit_enable' : 'unit_disable', u) }),
    ];
    body.append(el('tr', {}, el('td', { class: 'num', text: String(u.id) }), el('td', { text: u.name }),
      el('td', { text: t('adm.kind_' + u.kind) }), el('td', { text: u.region || '' }),
      el('td', { text: u.parent ? unitName(u.parent) : '' }), el('td', { text: t(u.disabled ? 'adm.disabled' : 'adm.enabled') }),
      el('td', {}, ...buttons)));
  }
}

async function loadAccounts() {
  const st = document.getElementById('admin-status');
  try {
    [users, units] = [(await get('/api/v1/ops/users')).users, (await get('/api/v1/ops/units')).units];
    st.hidden = true;
    fillSelects();
    renderUsers();
    renderUnits();
  } catch (e) {
    st.hidden = false;
    st.textContent = errorText(e);
  }
}

// What the server made for an account, shown once: the temporary password, the TOTP secret, its URI and QR code.
function showCredentials(answer) {
  const box = document.getElementById('cred');
  const facts = document.getElementById('cred-facts');
  const qr = document.getElementById('cred-qr');
  const pairs = [['adm.username', answer.user.username]];
  if (answer.password) pairs.push(['adm.temp_password', answer.password]);
  if (answer.totp) pairs.push(['adm.totp_secret', answer.totp.secret], ['adm.totp_uri', answer.totp.uri]);
  facts.replaceChildren(...pairs.flatMap(([k, v]) => [el('dt', { text: t(k) }), el('dd', { 'data-cred': k.slice(4), text: v })]));
  qr.hidden = !answer.totp;
  if (answer.totp) {
    qr.src = 'data:image/svg+xml;base64,' + btoa(answer.totp.qr_svg);
    qr.alt = t('adm.qr_alt', { user: answer.user.username });
  }
  box.hidden = false;
  document.getElementById('cred-h').focus();
}

function closeCredentials() {
  document.getElementById('cred-facts').replaceChildren();
  const qr = document.getElementById('cred-qr');
  qr.removeAttribute('src');
  qr.hidden = true;
  document.getElementById('cred').hidden = true;
}

async function userOp(op, u) {
  const p = document.getElementById('users-outcome');
  try {
    const answer = await post('/api/v1/ops/' + op, { user: u.id });
    await loadAccounts();
    say(p, 'done', t('adm.done.' + op, { user: u.username }));
    if (answer.password || answer.totp) showCredentials(answer);
  } catch (e) {
    say(p, 'refusal', errorText(e));
  }
}

function openEdit(u) {
  const form = document.getElementById('edit-form');
  editing = u;
  clearErrors(form);
  document.getElementById('edit-h').textContent = t('adm.edit_h', { user: u.username });
  document.getElementById('edit-display').value = u.display_name;
  document.getElementById('edit-role').value = u.role;
  document.getElementById('edit-unit').value = String(u.unit);
  form.hidden = false;
  document.getElementById('edit-display').focus();
}

// Submits form's body to op; a field's error next to it, anything else in outcome. The answer, or null.
async function submit(form, op, body, outcome) {
  clearErrors(form);
  try {
    return await post('/api/v1/ops/' + op, body);
  } catch (e) {
    if (e instanceof ApiError && e.status === 400 && e.field && fieldFor(form, e.field)) {
      showError(fieldFor(form, e.field), t('err.field') + e.message);
      focusFirstError(form);
    } else if (e instanceof ApiError && e.status === 409 && e.field && fieldFor(form, e.field)) {
      showError(fieldFor(form, e.field), errorText(e));
      focusFirstError(form);
    } else {
      say(outcome, 'refusal', errorText(e));
    }
    return null;
  }
}

async function renameUnit(u) {
  const name = window.prompt(t('adm.rename_ask', { unit: u.name }), u.name);
  if (!name || name.trim() === u.name) return;
  const p = document.getElementById('units-outcome');
  try {
    await post('/api/v1/ops/unit_rename', { unit: u.id, name: name.trim() });
    await loadAccounts();
    say(p, 'done', t('adm.done.unit_rename', { unit: name.trim() }));
  } catch (e) {
    say(p, 'refusal', errorText(e));
  }
}

async function unitOp(op, u) {
  const p = document.getElementById('units-outcome');
  try {
    await post('/api/v1/ops/' + op, { unit: u.id });
    await loadAccounts();
    say(p, 'done', t('adm.done.' + op, { unit: u.name }));
  } catch (e) {
    say(p, 'refusal', errorText(e));
  }
}

function initAccounts() {
  const userForm = document.getElementById('user-form');
  userForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { username: document.getElementById('new-username').value.trim(), role: document.getElementById('new-role').value,
      unit: Number(document.getElementById('new-unit').value) };
    const display = document.getElementById('new-display').value.trim();
    if (display) body.display_name = display;
    clearErrors(userForm);
    if (!body.username) {
      showError(fieldFor(userForm, 'username'), t('err.required'));
      return focusFirstError(userForm);
    }
    const answer = await submit(userForm, 'user_create', body, document.getElementById('users-outcome'));
    if (!answer) return;
    userForm.reset();
    await loadAccounts();
    say(document.getElementById('users-outcome'), 'done', t('adm.done.user_create', { user: answer.user.username }));
    showCredentials(answer);
  });
  const editForm = document.getElementById('edit-form');
  editForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { user: editing.id, display_name: document.getElementById('edit-display').value.trim() || null,
      role: document.getElementById('edit-role').value, unit: Number(document.getElementById('edit-unit').value) };
    if (!(await submit(editForm, 'user_update', body, document.getElementById('users-outcome')))) return;
    editForm.hidden = true;
    await loadAccounts();
    say(document.getElementById('users-outcome'), 'done', t('adm.done.user_update', { user: editing.username }));
  });
  document.getElementById('edit-cancel').addEventListener('click', () => {
    editForm.hidden = true;
  });
  document.getElementById('cred-close').addEventListener('click', closeCredentials);
  const unitForm = document.getElementById('unit-form');
  unitForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { parent: Number(document.getElementById('unit-parent').value), kind: document.getElementById('unit-kind').value,
      region: document.getElementById('unit-region').value.trim(), name: document.getElementById('unit-name').value.trim() };
    clearErrors(unitForm);
    for (const k of ['region', 'name']) if (!body[k]) showError(fieldFor(unitForm, k), t('err.required'));
    if (unitForm.querySelector('[aria-invalid="true"]')) return focusFirstError(unitForm);
    const answer = await submit(unitForm, 'unit_create', body, document.getElementById('units-outcome'));
    if (!answer) return;
    unitForm.reset();
    await loadAccounts();
    say(document.getElementById('units-outcome'), 'done', t('adm.done.unit_create', { unit: answer.unit.name }));
  });
}

numberErrors(document);
start({
  roles: ['administrator'],
  init: async () => {
    yearForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      load();
    });
    onLangChange(() => {
      if (doc) render();
      fillSelects();
      renderUsers();
      renderUnits();
    });
    initAccounts();
    await loadAccounts();
    await load();
  },
});
