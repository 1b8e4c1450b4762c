// The staff API from the pages: JSON in and out, the session cookie sent by the browser, and the CSRF token
// (the readable tip_csrf cookie set at login) sent back as X-CSRF-Token on every POST.
import { t, pageHref } from './i18n.js';

export class ApiError extends Error {
  constructor(status, body, headers) {
    super((body && body.message) || 'HTTP ' + status);
    this.status = status;
    this.error = body && body.error;
    this.field = body && body.field;
    this.headers = headers;
  }
}

function csrfToken() {
  const m = /(?:^|;\s*)tip_csrf=([A-Za-z0-9_-]+)/.exec(document.cookie);
  return m ? m[1] : '';
}

// The login page, returning here afterwards.
export function toLogin() {
  const here = location.pathname + location.search;
  location.assign(pageHref('/login.html', here === '/login.html' ? null : { next: here }));
}

// method, path, and for POST a body object. Resolves to the answer's JSON; rejects with an ApiError (status
// 0 for a network failure). A lost session goes to the login page, a missing pledge to the pledge page, a
// temporary password to the page that sets a new one.
export async function api(method, path, body) {
  const opt = { method, cache: 'no-store', credentials: 'same-origin', headers: {} };
  if (method === 'POST') {
    opt.headers['Content-Type'] = 'application/json';
    opt.headers['X-CSRF-Token'] = csrfToken();
    opt.body = JSON.stringify(body || {});
  }
  let r;
  try {
    r = await fetch(path, opt);
  } catch (e) {
    throw new ApiError(0, { error: 'network' });
  }
  const type = r.headers.get('Content-Type') || '';
  const data = type.startsWith('application/json') ? await r.json().catch(() => null) : null;
  if (!r.ok) {
    const err = new ApiError(r.status, data, r.headers);
    if (path !== '/api/v1/login' && (r.status === 401 || err.error === 'csrf')) toLogin();
    else if (err.error === 'pledge_required') location.assign(pageHref('/pledge.html'));
    else if (err.error === 'password_change_required') location.assign(pageHref('/password.html'));
    throw err;
  }
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body);

// What to say for an error that is not one field's fault.
export function errorText(e) {
  if (!(e instanceof ApiError)) return t('err.unavailable');
  if (e.status === 0) return t('err.network');
  if (e.status === 404) return t('err.not_found');
  if (e.status === 409) return t('err.refused') + e.message;
  if (e.error === 'csrf') return t('err.csrf');
  if (e.status === 403) return t('err.forbidden') + e.message;
  if (e.status === 429) return t('err.rate', { n: (e.headers && e.headers.get('Retry-After')) || 60 });
  if (e.status === 400) return t('err.field') + e.message;
  return t('err.unavailable');
}

// The taxonomy's labels (categories, sectors, stages, results, channels, regions), fetched once per page.
let taxonomy = null;
export async function loadTaxonomy() {
  if (!taxonomy) {
    const doc = await get('/api/v1/taxonomy');
    const lists = {};
    for (const [name, items] of Object.entries(doc.taxonomy.lists)) lists[name] = new Map(items.map((i) => [i.code, i]));
    lists.regions = new Map(doc.taxonomy.regions.map((r) => [r.code, r]));
    taxonomy = lists;
  }
  return taxonomy;
}

// The organisation's units by id (id, parent, kind, region, province, name), fetched once per page.
let units = null;
export async function loadUnits() {
  if (!units) units = new Map((await get('/api/v1/ops/units')).units.map((u) => [u.id, u]));
  return units;
}
