// The language of the pages, shared by the public and the staff pages: Simplified Chinese by default (the
// text in the HTML itself), English by the switch in the header. The choice travels as ?lang=en in the
// address, never in storage. Elements carry data-t="key" (text, with data-t-n="number" for a text that counts,
// such as "Person {n}") or data-t-aria="key" (aria-label); dynamic texts come through t(). Each set of pages registers its texts with addTexts({key: [zh, en]}).

const TEXT = {};
export function addTexts(table) {
  Object.assign(TEXT, table);
}

const params = new URLSearchParams(location.search);
export let lang = params.get('lang') === 'en' ? 'en' : 'zh';

export function t(key, vars) {
  const pair = TEXT[key];
  let s = pair ? pair[lang === 'en' ? 1 : 0] : key;
  for (const [k, v] of Object.entries(vars || {})) s = s.replace('{' + k + '}', String(v));
  return s;
}

// A taxonomy item's label in the current language.
export const label = (item) => (lang === 'en' && item.en ? item.en : item.zh);

// The address of a page of the site with query parameters, keeping the language.
export function pageHref(path, query) {
  const q = new URLSearchParams(query || {});
  if (lang === 'en') q.set('lang', 'en');
  const s = q.toString();
  return path + (s ? '?' + s : '');
}

const listeners = [];
export function onLangChange(fn) {
  listeners.push(fn);
}

// Labels root and everything in it in the current language (pages call it for nodes they build).
export function translate(root) {
  const all = (sel) => [...(root.matches && root.matches(sel) ? [root] : []), ...root.querySelectorAll(sel)];
  for (const el of all('[data-t]')) el.textContent = t(el.dataset.t, el.dataset.tN && { n: el.dataset.tN });
  for (const el of all('[data-t-aria]')) el.setAttribute('aria-label', t(el.dataset.tAria));
}

function apply() {
  document.documentElement.lang = lang === 'en' ? 'en' : 'zh-CN';
  translate(document);
  // Links to the other pages keep the language (and their data-query); nothing else goes into an address.
  for (const a of document.querySelectorAll('a[data-page]')) {
    a.href = pageHref(a.dataset.page, a.dataset.query ? new URLSearchParams(a.dataset.query) : null);
  }
  const sw = document.getElementById('lang');
  sw.lang = lang === 'en' ? 'zh-CN' : 'en';
  for (const fn of listeners) fn();
}

export function initLang() {
  document.getElementById('lang').addEventListener('click', () => {
    lang = lang === 'en' ? 'zh' : 'en';
    const q = new URLSearchParams(location.search);
    if (lang === 'en') q.set('lang', 'en');
    else q.delete('lang');
    const s = q.toString();
    history.replaceState(null, '', location.pathname + (s ? '?' + s : ''));
    apply();
  });
  apply();
}

// Re-labels the elements added since (data-t, data-t-aria, data-page) in the current language.
export const relabel = () => apply();
