// The situation map and regional evaluation: a province choropleth of reports, open and overdue cases
// (Apache ECharts and the China province map, both compiled into casemgrd from npm at build time), counts
// by category and sector, the monthly trend, the evaluation table, and CSV export. The figures come from
// the dashboard operation, which has already withheld every count under 5 (null here: shown as "<5") and
// every rate that would reveal one (shown as "—"). No figure is computed in the page.
import { t, label, lang, onLangChange } from './i18n.js';
import { get, errorText, loadTaxonomy } from './api.js';
import { fieldFor, showError, clearErrors, numberErrors } from './fields.js';
import { start, el, codeLabel } from './shell.js';

const echarts = window.echarts;
const status = document.getElementById('status');
let tax, doc, geo;
const charts = {};
let measure = 'reports';

const num = (n) => (n === null || n === undefined ? '<5' : n.toLocaleString(lang === 'en' ? 'en' : 'zh-CN'));
const pct = (r) => (r === null || r === undefined ? '—' : (r * 100).toFixed(1) + '%');
const provinceName = (code) => codeLabel(tax.regions, code);

function month(v) {
  return /^[0-9]{4}-[0-9]{2}$/.test(v) ? v : '';
}

// The map's own names for the provinces (its features carry the GB/T 2260 codes as ids).
function mapNames(json) {
  const byCode = new Map();
  for (const f of json.features) byCode.set(String(f.id || (f.properties && f.properties.id)), f.properties.name);
  return byCode;
}

function chart(id) {
  if (!charts[id]) charts[id] = echarts.init(document.getElementById(id), null, { renderer: 'canvas' });
  return charts[id];
}

function drawMap() {
  const rows = doc.provinces.filter((p) => geo.has(p.province));
  const values = rows.map((p) => p[measure] || 0);
  chart('map').setOption({
    animation: false,
    // Tooltips drawn on the canvas: no HTML built from data, nothing the Content-Security-Policy refuses.
    tooltip: { trigger: 'item', renderMode: 'richText',
      formatter: (p) => (p.data ? p.data.province + '\n' + t('map.' + measure) + '：' + num(p.data.shown) : p.name) },
    visualMap: { min: 0, max: Math.max(5, ...values), left: 'left', bottom: 10, calculable: true,
      text: [t('map.high'), t('map.low')], inRange: { color: ['#e8eef7', '#7fa3d1', '#123f73'] } },
    series: [{
      type: 'map', map: 'china', roam: false, layoutCenter: ['50%', '55%'], layoutSize: '105%',
      emphasis: { label: { show: false } },
      data: rows.map((p) => ({ name: geo.get(p.province), value: p[measure] || 0, shown: p[measure], province: provinceName(p.province) })),
    }],
  }, true);
}

function bars(id, items, map) {
  const top = items.slice(0, 15).reverse();
  chart(id).setOption({
    animation: false,
    grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
    tooltip: { trigger: 'axis', renderMode: 'richText', axisPointer: { type: 'shadow' } },
    xAxis: { type: 'value' },
    yAxis: { type: 'category', data: top.map((x) => codeLabel(map, x.code)), axisLabel: { width: 140, overflow: 'truncate' } },
    series: [{ type: 'bar', data: top.map((x) => x.n || 0), itemStyle: { color: '#123f73' } }],
  }, true);
}

function trend() {
  chart('trend').setOption({
    animation: false,
    grid: { left: 8, right: 24, top: 32, bottom: 8, containLabel: true },
    tooltip: { trigger: 'axis', renderMode: 'richText' },
    legend: { top: 0 },
    xAxis: { type: 'category', data: doc.months.map((m) => m.month) },
    yAxis: { type: 'value' },
    series: ['received', 'concluded', 'closed'].map((k, i) => ({
      type: 'line', name: t('map.m_' + k), data: doc.months.map((m) => m[k]),
      itemStyle: { color: ['#123f73', '#1d6b2f', '#8a4b00'][i] } })),
  }, true);
}

function table() {
  const live = new Map(doc.provinces.map((p) => [p.province, p]));
  const body = document.querySelector('#evaluation tbody');
  body.replaceChildren();
  for (const e of doc.evaluation) {
    const p = live.get(e.province) || {};
    body.append(el('tr', {},
      el('th', { scope: 'row', text: provinceName(e.province) }),
      ...[num(e.received), num(p.open), num(p.overdue), num(e.concluded), pct(e.on_time_rate), pct(e.contact_30_rate),
        pct(e.feedback_rate), pct(e.callback_satisfaction), pct(e.duplicate_share)].map((v) => el('td', { class: 'num', text: v }))));
  }
}

function render() {
  if (!doc) return;
  document.getElementById('totals').textContent = t('map.totals', {
    from: doc.from, to: doc.to, reports: num(doc.totals.reports), open: num(doc.totals.open), overdue: num(doc.totals.overdue) });
  drawMap();
  bars('categories', doc.categories, tax.crime_categories);
  bars('sectors', doc.sectors, tax.sectors);
  trend();
  table();
}

// The figures as CSV (UTF-8 with a byte-order mark, so spreadsheet programs read the Chinese labels),
// one section per table, withheld counts as "<5".
function csv() {
  const q = (v) => '"' + String(v).replace(/"/g, '""') + '"';
  const live = new Map(doc.provinces.map((p) => [p.province, p]));
  const lines = [[t('map.period'), doc.from, doc.to].map(q).join(','), '',
    ['code', t('map.province'), t('map.reports'), t('map.open'), t('map.overdue'), t('map.concluded'), t('map.on_time'),
      t('map.contact_30'), t('map.feedback'), t('map.callback'), t('map.duplicate')].map(q).join(',')];
  for (const e of doc.evaluation) {
    const p = live.get(e.province) || {};
    lines.push([e.province, provinceName(e.province), num(e.received), num(p.open), num(p.overdue), num(e.concluded),
      pct(e.on_time_rate), pct(e.contact_30_rate), pct(e.feedback_rate), pct(e.callback_satisfaction),
      pct(e.duplicate_share)].map(q).join(','));
  }
  for (const [title, items, map] of [[t('map.categories'), doc.categories, tax.crime_categories],
    [t('map.sectors'), doc.sectors, tax.sectors]]) {
    lines.push('', [title, 'code', 'n'].map(q).join(','));
    for (const x of items) lines.push([codeLabel(map, x.code), x.code, num(x.n)].map(q).join(','));
  }
  lines.push('', [t('map.trend'), t('map.m_received'), t('map.m_concluded'), t('map.m_closed')].map(q).join(','));
  for (const m of doc.months) lines.push([m.month, num(m.received), num(m.concluded), num(m.closed)].map(q).join(','));
  const url = URL.createObjectURL(new Blob(['\ufeff' + lines.join('\r\n') + '\r\n'], { type: 'text/csv;charset=utf-8' }));
  const a = el('a', { href: url, download: 'situation-' + doc.from.slice(0, 7) + '-' + doc.to.slice(0, 7) + '.csv' });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

async function load() {
  const form = document.getElementById('period');
  clearErrors(form);
  const q = new URLSearchParams();
  const from = month(document.getElementById('from').value);
  const to = month(document.getElementById('to').value);
  if (from) q.set('from', from + '-01');
  if (to) q.set('to', to + '-01');
  status.hidden = false;
  status.textContent = t('loading');
  try {
    doc = await get('/api/v1/ops/dashboard' + (q.toString() ? '?' + q : ''));
    document.getElementById('from').value = doc.from.slice(0, 7);
    document.getElementById('to').value = doc.to.slice(0, 7);
    status.hidden = true;
    document.getElementById('content').hidden = false;
    render();
  } catch (e) {
    if (e.status === 400 && e.field && fieldFor(form, e.field)) showError(fieldFor(form, e.field), t('err.field') + e.message);
    status.textContent = errorText(e);
  }
}

numberErrors(document);
start({
  roles: ['national', 'provincial'],
  init: async () => {
    if (!echarts) {
      status.textContent = t('map.no_library');
      return;
    }
    const [taxonomy, china] = await Promise.all([loadTaxonomy(), get('/vendor/china.json')]);
    tax = taxonomy;
    echarts.registerMap('china', china);
    geo = mapNames(china);
    document.getElementById('period').addEventListener('submit', (ev) => {
      ev.preventDefault();
      load();
    });
    document.getElementById('csv').addEventListener('click', () => doc && csv());
    for (const r of document.querySelectorAll('input[name="measure"]')) {
      r.addEventListener('change', () => {
        measure = r.value;
        drawMap();
      });
    }
    window.addEventListener('resize', () => Object.values(charts).forEach((c) => c.resize()));
    onLangChange(render);
    await load();
  },
});
