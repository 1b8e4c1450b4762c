// The supervision board: cases past a deadline (the overdue operation of 0006: handling and 30-day contact
// clocks, longest overdue first), counted by verification unit and escalation level, and the notices the
// clocks fired (reminders before a deadline, supervision and escalation after). The lists hold only the user's
// scope; the API decides it.
import { t, onLangChange, pageHref } from './i18n.js';
import { get, errorText, loadTaxonomy, loadUnits } from './api.js';
import { start, el, when, codeLabel, regionName } from './shell.js';

const status = document.getElementById('status');
let tax, units, overdue, notices;

const unitName = (id) => (id ? (units.get(id) ? units.get(id).name : t('unit', { id })) : t('board.no_unit'));
const caseLink = (id) => el('a', { href: pageHref('/case.html', { id }), text: String(id) });
const levelText = (l) => t('board.level_' + (l || 0));

function render() {
  const counts = new Map();
  for (const o of overdue.overdue) {
    const c = counts.get(o.assigned_unit) || [0, 0, 0];
    c[Math.min(o.level || 0, 2)]++;
    counts.set(o.assigned_unit, c);
  }
  const byUnit = document.querySelector('#by-unit tbody');
  byUnit.replaceChildren();
  for (const [unit, c] of [...counts].sort((a, b) => b[1][0] + b[1][1] + b[1][2] - (a[1][0] + a[1][1] + a[1][2]))) {
    byUnit.append(el('tr', {}, el('th', { scope: 'row', text: unitName(unit) }),
      el('td', { class: 'num', text: String(c[1]) }), el('td', { class: 'num', text: String(c[2]) }),
      el('td', { class: 'num', text: String(c[0] + c[1] + c[2]) })));
  }
  const list = document.querySelector('#overdue tbody');
  list.replaceChildren();
  for (const o of overdue.overdue) {
    list.append(el('tr', {}, el('td', {}, caseLink(o.case)), el('td', { text: t('ck.' + o.clock) }),
      el('td', { text: when(o.due, true) }), el('td', { class: 'num overdue', text: String(o.days_overdue) }),
      el('td', { text: levelText(o.level) }), el('td', { text: codeLabel(tax.stages, o.stage) }),
      el('td', { text: regionName(tax.regions, o.province) }), el('td', { text: o.assigned_unit ? unitName(o.assigned_unit) : '' })));
  }
  if (!overdue.overdue.length) list.append(el('tr', {}, el('td', { colspan: '8', text: t('board.none') })));
  document.getElementById('truncated').hidden = !overdue.truncated;
  const nl = document.querySelector('#notices tbody');
  nl.replaceChildren();
  for (const n of notices.notices) {
    nl.append(el('tr', {}, el('td', { text: when(n.fired_at) }), el('td', { text: t('board.kind_' + n.kind) }),
      el('td', {}, caseLink(n.case)), el('td', { text: t('ck.' + n.clock) }), el('td', { text: levelText(n.level) }),
      el('td', { text: when(n.due, true) })));
  }
  if (!notices.notices.length) nl.append(el('tr', {}, el('td', { colspan: '6', text: t('board.none') })));
}

async function load() {
  const clock = document.querySelector('input[name="clock"]:checked').value;
  try {
    [overdue, notices] = await Promise.all([get('/api/v1/ops/overdue?limit=1000' + (clock ? '&clock=' + clock : '')),
      get('/api/v1/ops/notices?limit=100')]);
    if (clock) notices = { ...notices, notices: notices.notices.filter((n) => n.clock === clock) };
    status.hidden = true;
    document.getElementById('content').hidden = false;
    render();
  } catch (e) {
    status.hidden = false;
    status.textContent = errorText(e);
  }
}

start({
  roles: ['national', 'provincial', 'unit_officer'],
  init: async () => {
    [tax, units] = await Promise.all([loadTaxonomy(), loadUnits()]);
    for (const r of document.querySelectorAll('input[name="clock"]')) r.addEventListener('change', load);
    onLangChange(() => overdue && render());
    await load();
  },
});
