// What every staff page but the login page shares: the header with navigation by role, the current user,
// the language switch and logout; the page starts only for a logged-in user who gave the pledge.
import { t, label, lang, initLang, pageHref } from './i18n.js';
import { get, post, toLogin } from './api.js';

// The pages, and which roles see each in the navigation.
const PAGES = [
  { path: '/index.html', key: 'nav.cases', roles: ['national', 'provincial', 'unit_officer', 'reviewer'] },
  { path: '/board.html', key: 'nav.board', roles: ['national', 'provincial', 'unit_officer'] },
  { path: '/map.html', key: 'nav.map', roles: ['national', 'provincial'] },
  { path: '/callbacks.html', key: 'nav.callbacks', roles: ['national', 'provincial'] },
  { path: '/audit.html', key: 'nav.audit', roles: ['auditor', 'national'] },
  { path: '/admin.html', key: 'nav.admin', roles: ['administrator'] },
];

// Where a role starts.
export function homeOf(role) {
  const first = PAGES.find((p) => p.roles.includes(role));
  return first ? first.path : '/index.html';
}

export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') e.textContent = v;
    else if (k === 'class') e.className = v;
    else if (k in e && typeof v !== 'string') e[k] = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

// Local time in China, whatever the browser's zone.
export function when(iso, dateOnly) {
  if (!iso) return '';
  const d = new Date(iso.length === 10 ? iso + 'T00:00:00+08:00' : iso);
  const opt = dateOnly ? { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' }
    : { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' };
  return d.toLocaleString(lang === 'en' ? 'en-GB' : 'zh-CN', opt);
}

// A taxonomy code's label, or the code itself when the taxonomy does not know it.
export function codeLabel(map, code) {
  const item = map && map.get(code);
  return item ? label(item) : code;
}

// A region's full name: province, prefecture, county.
export function regionName(regions, code) {
  const parts = [];
  for (let r = regions.get(code); r; r = r.parent ? regions.get(r.parent) : null) parts.unshift(label(r));
  return parts.length ? parts.join(' ') : code;
}

function nav(me) {
  const box = document.getElementById('nav');
  box.replaceChildren();
  for (const p of PAGES) {
    if (!p.roles.includes(me.role)) continue;
    const a = el('a', { 'data-page': p.path, href: pageHref(p.path), 'data-t': p.key, text: t(p.key) });
    if (location.pathname === p.path || (p.path === '/index.html' && location.pathname === '/case.html')) {
      a.setAttribute('aria-current', 'page');
    }
    box.append(a);
  }
  const who = document.getElementById('who');
  who.textContent = (me.display_name || me.username) + ' · ' + t('role.' + me.role);
}

// Starts a page for the roles given (all when omitted): init(me) runs once the user is known.
export async function start({ roles, init }) {
  initLang();
  let me;
  try {
    me = await get('/api/v1/me');
  } catch (e) {
    if (e.status !== 401) document.getElementById('main').prepend(el('p', { class: 'refusal', text: t('err.unavailable') }));
    return;
  }
  if (me.must_change_password) {
    location.assign(pageHref('/password.html'));
    return;
  }
  if (!me.pledged) {
    location.assign(pageHref('/pledge.html'));
    return;
  }
  nav(me);
  document.getElementById('logout').addEventListener('click', async () => {
    try {
      await post('/api/v1/logout');
    } finally {
      toLogin();
    }
  });
  const main = document.getElementById('main');
  if (roles && !roles.includes(me.role)) {
    main.replaceChildren(el('p', { class: 'refusal', text: t('err.role') }));
    const home = PAGES.find((p) => p.path === homeOf(me.role) && p.roles.includes(me.role));
    if (home) main.append(el('p', {}, el('a', { href: pageHref(home.path), text: t(home.key) })));
    document.body.dataset.ready = '1';
    return;
  }
  await init(me);
  document.body.dataset.ready = '1'; // for the browser tests: the page has drawn what it loaded
}
