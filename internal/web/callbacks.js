// The monthly callback sample (the callbacks operation of 0007): the draw with its seed and digest, so that an
// auditor can re-run it (casemgrd sample), each province's eligible, drawn, sent and answered counts, and each
// callback's state. A reply not understood is shown as the reporter wrote it, as text only.
import { t, onLangChange, pageHref } from './i18n.js';
import { get, errorText, loadTaxonomy } from './api.js';
import { fieldFor, showError, clearErrors, numberErrors } from './fields.js';
import { start, el, when, codeLabel } from './shell.js';

const status = document.getElementById('status');
const form = document.getElementById('pick');
let tax, doc;

function facts(pairs) {
  const dl = el('dl', { class: 'facts' });
  for (const [k, v] of pairs) if (v !== null && v !== undefined && v !== '') dl.append(el('dt', { text: t(k) }), el('dd', { text: String(v) }));
  return dl;
}

function render() {
  const box = document.getElementById('draw');
  if (!doc.draw) {
    box.replaceChildren(el('p', { class: 'muted', text: t('cb.none') }));
  } else {
    const d = doc.draw;
    box.replaceChildren(facts([['cb.month_is', d.month], ['cb.rule', d.share !== null ? (d.share * 100) + '%' : d.count],
      ['cb.seed', d.seed], ['cb.digest', d.digest], ['cb.drawn_at', when(d.drawn_at)],
      ['cb.automatic', t(d.automatic ? 'yes' : 'no')]]));
  }
  const pb = document.querySelector('#provinces tbody');
  pb.replaceChildren();
  for (const p of doc.provinces) {
    pb.append(el('tr', {}, el('th', { scope: 'row', text: codeLabel(tax.regions, p.province) }),
      ...['eligible', 'drawn', 'sent', 'failed', 'satisfied', 'basically_satisfied', 'unsatisfied', 'unparsed']
        .map((k) => el('td', { class: 'num', text: String(p[k] ?? '') }))));
  }
  const cb = document.querySelector('#callbacks tbody');
  cb.replaceChildren();
  for (const c of doc.callbacks) {
    cb.append(el('tr', {}, el('td', {}, el('a', { href: pageHref('/case.html', { id: c.case_id }), text: String(c.case_id) })),
      el('td', { text: codeLabel(tax.regions, c.province) }), el('td', { class: 'num', text: String(c.rank) }),
      el('td', { text: when(c.sent_at) }), el('td', { text: c.send_status || '' }), el('td', { text: when(c.answered_at) }),
      el('td', { text: c.satisfaction ? t('cb.sat.' + c.satisfaction) : '' }), el('td', { text: c.answer || '' })));
  }
}

async function load() {
  clearErrors(form);
  const m = document.getElementById('month').value;
  try {
    doc = await get('/api/v1/ops/callbacks' + (/^[0-9]{4}-[0-9]{2}$/.test(m) ? '?month=' + m : ''));
    status.hidden = true;
    document.getElementById('content').hidden = false;
    render();
  } catch (e) {
    if (e.status === 400 && e.field && fieldFor(form, e.field)) showError(fieldFor(form, e.field), t('err.field') + e.message);
    status.hidden = false;
    status.textContent = errorText(e);
  }
}

numberErrors(document);
start({
  roles: ['national', 'provincial'],
  init: async () => {
    tax = await loadTaxonomy();
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      load();
    });
    onLangChange(() => doc && render());
    await load();
  },
});
