// The public pages in headless Chromium on a phone-sized screen, against a real intaked started here
// (plain HTTP on loopback, proof of work at 8 bits). Screenshots go to $TIP_ARTIFACTS.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const bin = process.env.TIP_BINARY_DIR;
const src = process.env.TIP_SOURCE_DIR;
const artifacts = process.env.TIP_ARTIFACTS;
const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const PUBLIC_URL = 'https://tips.example.org/report';
// A PNG's chunk structure (CRCs left zero: neither the page nor the server decodes the image), with a text chunk.
const chunk = (type, data) => {
  const d = Buffer.from(data, 'latin1');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(d.length);
  return Buffer.concat([len, Buffer.from(type), d, Buffer.alloc(4)]);
};
const PNG = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), chunk('IHDR', '\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0'),
  chunk('tEXt', 'Comment\0taken at home'), chunk('IDAT', 'pixels'), chunk('IEND', '')]);
// A JPEG's skeleton with a place in its Exif segment: enough for the page's metadata removal and the server's sniffing.
const segment = (marker, text) => {
  const payload = Buffer.from(text, 'latin1');
  return Buffer.concat([Buffer.from([0xff, marker, (payload.length + 2) >> 8, (payload.length + 2) & 0xff]), payload]);
};
const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8]), segment(0xe0, 'JFIF\0\x01\x01\0\0\x01\0\x01\0\0'),
  segment(0xe1, 'Exif\0\0GPS 22.5431N 114.0579E'), segment(0xdb, 'quantisation table'),
  Buffer.from([0xff, 0xda, 0, 2]), Buffer.from('entropy-coded data'), Buffer.from([0xff, 0xd9])]);
const photo = { name: 'IMG_20261203_101010.jpg', mimeType: 'image/jpeg', buffer: JPEG };

let dir, daemon, base, browser;
let queryCode; // from the submission test, read back by the status test

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tip-web-'));
  fs.mkdirSync(artifacts, { recursive: true });
  for (const [type, name] of [['sign', 'intake'], ['seal', 'seal'], ['sign', 'status']]) {
    execFileSync(path.join(bin, 'tipkey'), ['generate', '--type', type, '--name', name, '--out', `${dir}/${name}.key`]);
  }
  const conf = `${dir}/intaked.conf`;
  fs.writeFileSync(conf, [
    'origin intake-web', 'listen 127.0.0.1', 'port 0', 'plain_http yes', 'metrics_port 0',
    `signing_key ${dir}/intake.key`, `seal_key ${dir}/seal.key.pub`, `status_key ${dir}/status.key.pub`,
    `outbox ${dir}/outbox`, `status_spool ${dir}/status`, `taxonomy ${src}/proto/taxonomy`,
    'pow_bits 8', 'status_min_latency 0ms', 'status_poll 50ms', `public_url ${PUBLIC_URL}`, '',
  ].join('\n'));
  daemon = spawn(path.join(bin, 'intaked'), ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  base = await new Promise((resolve, reject) => {
    let log = '';
    daemon.stderr.on('data', (d) => {
      log += d;
      const m = /listening on (127\.0\.0\.1:\d+)/.exec(log);
      if (m) resolve('http://' + m[1]);
    });
    daemon.on('exit', () => reject(new Error('intaked exited:\n' + log)));
  });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    // Root (as in CI) cannot use Chromium's sandbox; containers often have a small /dev/shm.
    args: ['--disable-dev-shm-usage', ...(process.getuid() === 0 ? ['--no-sandbox'] : [])],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (daemon) {
    const exited = new Promise((r) => daemon.on('exit', r));
    daemon.kill('SIGTERM');
    assert.equal(await exited, 0);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

// A phone-sized page that records every request, console error and uncaught exception.
async function phone(t, url) {
  const context = await browser.newContext({
    viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN',
  });
  const page = await context.newPage();
  page.requests = [];
  page.problems = [];
  page.on('request', (r) => page.requests.push(r));
  page.on('console', (m) => m.type() === 'error' && page.problems.push(m.text()));
  page.on('pageerror', (e) => page.problems.push(String(e)));
  t.after(() => context.close());
  await page.goto(base + url);
  return page;
}

// Nothing went to another origin, nothing was refused by the Content-Security-Policy, no script failed, the
// page fits 360 px, and the browser holds nothing in its storage.
async function checkPage(page, expectedErrors = 0) {
  for (const r of page.requests) assert.equal(new URL(r.url()).origin, base, r.url());
  assert.equal(page.problems.filter((p) => !/status of 4\d\d/.test(p)).length, 0, page.problems.join('\n'));
  assert.ok(page.problems.length <= expectedErrors, page.problems.join('\n'));
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 360), 'wider than 360 px');
  const stored = await page.evaluate(async () => localStorage.length + sessionStorage.length +
    (await indexedDB.databases()).length + document.cookie.length + (await caches.keys()).length);
  assert.equal(stored, 0);
}

async function axe(page, name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${name}: ${v.id}: ${v.nodes.map((n) => n.target).join(' ')}`), []);
}

// Records what the page hands to XMLHttpRequest, since the browser does not expose multipart bodies with files.
async function captureUploads(page) {
  await page.evaluate(() => {
    const send = XMLHttpRequest.prototype.send;
    XMLHttpRequest.prototype.send = function (body) {
      window.sentForm = body;
      return send.call(this, body);
    };
  });
}
const sentFiles = (page) => page.evaluate(() => Promise.all(window.sentForm.getAll('attachment').map(
  async (f) => ({ name: f.name, bytes: new TextDecoder('latin1').decode(await f.arrayBuffer()) }))));

// Waits for the confirmation, or fails with what the page said instead.
async function confirmation(page) {
  await page.locator('#done:not([hidden]), #report .error:not([hidden])').first().waitFor();
  const said = await page.$$eval('#report .error:not([hidden])', (els) => els.map((e) => e.textContent));
  assert.deepEqual(said, []);
}

const shot = (page, name) => page.screenshot({ path: path.join(artifacts, name + '.png'), fullPage: true });

async function fillActivity(page) {
  await page.locator('#report').waitFor();
  await page.check('#categories input[value="mafia_organisation"]');
  await page.check('#categories input[value="illegal_lending_debt_collection"]');
  await page.selectOption('#sector', { index: 2 });
  await page.selectOption('#province', '440000');
  await page.selectOption('#prefecture', '440100');
  await page.selectOption('#county', '440104');
  await page.selectOption('#time', 'within_month');
  await page.fill('#place', '某某街道农贸市场');
  await page.fill('#narrative', '一伙人长期在市场强收“保护费”，不交就砸摊位。');
}

test('a report is filled in and sent from a phone, and its query code shown once', async (t) => {
  const page = await phone(t, '/');
  await fillActivity(page);
  // The form document is preloaded by the page's head and fetched once, compressed.
  const forms = page.requests.filter((r) => r.url() === base + '/api/v1/form');
  assert.equal(forms.length, 1, 'one request for the form document');
  assert.equal((await forms[0].response()).headers()['content-encoding'], 'gzip');
  for (const m of ['/form.js', '/i18n.js', '/common.js', '/strip.js']) {
    assert.equal(page.requests.filter((r) => r.url() === base + m).length, 1, m);
  }
  await page.fill('#person-name', '王某');
  await page.fill('#person-phone', '138 0000 0000');
  await page.fill('#official-position', '派出所副所长');
  await page.setInputFiles('#files', [{ name: 'photo.png', mimeType: 'image/png', buffer: PNG }, photo]);
  await shot(page, 'form-filled');
  await captureUploads(page);
  await page.click('#submit');
  await confirmation(page);
  queryCode = (await page.textContent('#code')).trim();
  assert.match(queryCode, /^\d{4} \d{4} \d{4} \d{4} \d{4}$/);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'done');
  assert.equal(await page.locator('#report').count(), 0, 'the form is gone once acknowledged');
  assert.match(await page.textContent('#done'), /无法找回/);
  const sent = page.requests.find((r) => r.url().endsWith('/api/v1/reports'));
  assert.match(sent.headers()['x-proof-of-work'], /^[A-Za-z0-9_-]{56}:\d+$/);
  assert.match(sent.headers()['content-type'], /^multipart\/form-data/);
  const [png, jpeg] = await sentFiles(page);
  assert.equal(png.name, 'attachment-1.png');
  assert.ok(png.bytes.includes('pixels') && !png.bytes.includes('taken at home'));
  assert.equal(jpeg.name, 'attachment-2.jpg');
  assert.ok(jpeg.bytes.includes('entropy-coded data') && jpeg.bytes.includes('quantisation table'), 'the photo is sent');
  assert.ok(!jpeg.bytes.includes('GPS 22.5431N'), 'but not where it was taken');
  const digits = queryCode.replace(/ /g, '');
  for (const r of page.requests) assert.ok(!r.url().includes(digits));

  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  await page.click('#copy');
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), digits);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#save')]);
  assert.equal(download.suggestedFilename(), 'query-code.png');
  await download.saveAs(path.join(artifacts, 'query-code.png'));
  assert.deepEqual([...fs.readFileSync(path.join(artifacts, 'query-code.png')).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  await shot(page, 'confirmation');
  // On paper: the code and the warning, without buttons or navigation.
  await page.emulateMedia({ media: 'print' });
  assert.ok((await page.isVisible('#code')) && (await page.isVisible('.warning')));
  assert.ok(!(await page.isVisible('#copy')) && !(await page.isVisible('header')));
  await page.emulateMedia({ media: 'screen' });
  await checkPage(page);
  await axe(page, 'confirmation');
});

test('fields are checked in the page, and an API error is shown next to the field it names', async (t) => {
  const page = await phone(t, '/');
  await page.locator('#report').waitFor();
  await page.click('#submit');
  const categories = page.locator('[data-field="activity.categories"] .error');
  await categories.waitFor();
  assert.match(await categories.textContent(), /至少选择一个类别/);
  assert.ok(!page.requests.some((r) => r.url().includes('/api/v1/reports')), 'nothing sent while incomplete');

  await fillActivity(page);
  await page.check('input[value="realname"]');
  await page.fill('#name', '李四');
  await page.fill('#phone', '13900000000');
  await page.fill('#id-number', '110101199003070000'); // wrong GB 11643 check character: only the server knows
  await page.setInputFiles('#files', photo);
  await page.check('#keep-meta');
  await captureUploads(page);
  await page.click('#submit');
  const idError = page.locator('[data-field="reporter.id_number"] .error');
  await idError.waitFor();
  assert.equal(await page.getAttribute('#id-number', 'aria-invalid'), 'true');
  assert.equal(await page.getAttribute('#id-number', 'aria-describedby'), await idError.getAttribute('id'));
  assert.equal(await page.evaluate(() => document.activeElement.id), 'id-number');
  assert.ok(await categories.isHidden(), 'an old error is cleared');
  const [kept] = await sentFiles(page);
  assert.equal(kept.name, photo.name, 'kept as it was when the reporter chose to');
  assert.ok(kept.bytes.includes('GPS 22.5431N'));
  await shot(page, 'field-error');
  await checkPage(page, 1); // the 400 answer is logged by the browser
  await axe(page, 'form with an error');
});

test('people and officials are added and removed by keyboard up to the limit; errors land on the entry typed', async (t) => {
  const page = await phone(t, '/');
  await fillActivity(page);
  const focused = () => page.evaluate(() => document.activeElement.id);
  const legends = (box) => page.$$eval(`#${box} > fieldset > legend`, (ls) => ls.map((l) => l.textContent));
  const status = () => page.textContent('#entries-status');

  // Enter on the button: a new group, focus on its first field, and a polite announcement.
  await page.focus('#add-person');
  await page.keyboard.press('Enter');
  assert.equal(await focused(), 'person-name-2');
  assert.deepEqual(await legends('persons'), ['被举报人 1', '被举报人 2']);
  assert.equal(await status(), '已添加被举报人 2。');
  assert.equal(await page.getAttribute('#entries-status', 'role'), 'status');
  assert.equal(await page.getByRole('textbox', { name: '被举报人 2 姓名或绰号', exact: true }).count(), 1);
  assert.equal(await page.getByRole('group', { name: '被举报人 2', exact: true }).count(), 1);

  // Up to the API's limit, then the button goes.
  const max = await page.evaluate(async () => (await (await fetch('/api/v1/form')).json()).limits.max_persons);
  assert.ok(max >= 3);
  for (let n = 3; n <= max; n++) await page.click('#add-person');
  assert.equal(await page.locator('#persons > fieldset').count(), max);
  assert.ok(await page.isHidden('#add-person'));
  assert.equal(await status(), `已添加被举报人 ${max}。 最多可填写 ${max} 项。`);
  const unique = await page.evaluate(() => {
    const ids = [...document.querySelectorAll('[id]')].map((e) => e.id);
    const orphans = [...document.querySelectorAll('label[for]')].filter((l) => !document.getElementById(l.htmlFor));
    return { dup: ids.filter((id, i) => ids.indexOf(id) !== i), orphans: orphans.length };
  });
  assert.deepEqual(unique, { dup: [], orphans: 0 });

  // Removing the second: the third takes its place, number and paths; focus goes to the button, back again.
  await page.fill('#person-name-3', '张三');
  await page.click('#persons > fieldset:nth-child(2) .remove');
  assert.equal(await status(), '已删除被举报人 2。');
  assert.equal(await focused(), 'add-person');
  assert.ok(await page.isVisible('#add-person'));
  assert.equal(await page.inputValue('#person-name-2'), '张三');
  assert.equal(await page.getAttribute('#persons > fieldset:nth-child(2) .field', 'data-field'), 'persons[1].name');
  while ((await page.locator('#persons > fieldset').count()) > 3) {
    await page.click('#persons > fieldset:last-child .remove');
  }
  assert.deepEqual(await legends('persons'), ['被举报人 1', '被举报人 2', '被举报人 3']);
  assert.deepEqual(await page.$$eval('#persons [data-field]', (els) => els.map((e) => e.dataset.field)), [
    'persons[0].name', 'persons[0].description', 'persons[0].phones', 'persons[1].name', 'persons[1].description',
    'persons[1].phones', 'persons[2].name', 'persons[2].description', 'persons[2].phones']);
  assert.equal(await page.locator('#persons > fieldset:first-child .remove').count(), 0, 'the first stays');

  // Entries made in English are labelled in English, and every one is labelled again on a switch.
  await page.click('#lang');
  assert.deepEqual(await legends('persons'), ['Person 1', 'Person 2', 'Person 3']);
  assert.equal(await page.textContent('#persons > fieldset:nth-child(3) .remove'), 'Remove person 3');
  await page.click('#add-official');
  assert.equal(await focused(), 'official-name-2');
  assert.equal(await status(), 'Official 2 added.');
  assert.deepEqual(await legends('officials'), ['Official 1', 'Official 2']);
  assert.equal(await page.textContent('#add-official'), 'Add another official');
  await shot(page, 'form-entries-en');
  await axe(page, 'form with entries (en)');
  await page.click('#lang');
  assert.deepEqual(await legends('officials'), ['公职人员 1', '公职人员 2']);
  assert.equal(await page.textContent('#officials .remove'), '删除公职人员 2');

  // Person 1 named, person 2 emptied, person 3 with a phone alone: the page asks for a name, sends nothing.
  await page.fill('#person-name', '王某');
  await page.fill('#person-name-2', '');
  await page.fill('#person-phone-3', 'abc 1234 5678');
  await page.fill('#official-position-2', '某局局长');
  await captureUploads(page);
  await page.click('#submit');
  await page.locator('[data-field="persons[2].name"] .error').waitFor();
  assert.match(await page.textContent('[data-field="persons[2].name"] .error'), /请填写姓名/);
  assert.equal(await focused(), 'person-name-3');
  assert.ok(!page.requests.some((r) => r.url().includes('/api/v1/reports')), 'nothing sent');

  // With a name the server sees the phone's letters as persons[1] (the empty entry is left out); the page
  // shows the error on the third entry, the one typed.
  await page.fill('#person-name-3', '赵某');
  await page.click('#submit');
  const phoneError = page.locator('[data-field="persons[2].phones"] .error');
  await phoneError.waitFor();
  assert.equal(await page.getAttribute('#person-phone-3', 'aria-invalid'), 'true');
  assert.equal(await page.getAttribute('#person-phone-3', 'aria-describedby'), await phoneError.getAttribute('id'));
  assert.equal(await focused(), 'person-phone-3');
  const sentReport = () => page.evaluate(async () => JSON.parse(await window.sentForm.get('report').text()));
  const first = await sentReport();
  assert.deepEqual(first.persons, [{ name: '王某', description: '', phones: [] },
    { name: '赵某', description: '', phones: ['abc 1234 5678'] }]);
  assert.deepEqual(first.umbrella, { officials: [{ name: '', position: '某局局长', unit: '' }] });
  await shot(page, 'form-entries-error');

  await page.fill('#person-phone-3', '139 0000 0000');
  await page.click('#submit');
  await confirmation(page);
  assert.deepEqual((await sentReport()).persons[1].phones, ['139 0000 0000']);
  await checkPage(page, 1); // the 400 answer is logged by the browser
});

test('a refusal that names no field of the form is said at its foot, not taken for a busy server', async (t) => {
  const page = await phone(t, '/');
  await fillActivity(page);
  await page.route('**/api/v1/reports', (route) => route.fulfill({ status: 400, contentType: 'application/json',
    body: JSON.stringify({ error: 'invalid', field: 'persons', message: 'too many items (at most 20)' }) }));
  await page.click('#submit');
  await page.locator('#form-error:not([hidden])').waitFor();
  assert.equal(await page.textContent('#form-error'), '举报未被接受，尚未保存。服务器提示：too many items (at most 20)');
  assert.equal(await page.locator('#report .field .error:not([hidden])').count(), 0);
  await checkPage(page, 1);
});

test('the status page checks the code before asking, then shows progress in plain words', async (t) => {
  assert.ok(queryCode, 'needs the code from the submission test');
  const page = await phone(t, '/status.html');
  const digits = queryCode.replace(/ /g, '');
  const typo = digits.slice(0, 19) + String((Number(digits[19]) + 1) % 10);
  await page.fill('#query-code', typo);
  await page.press('#query-code', 'Enter');
  await page.locator('[data-field="query_code"] .error').waitFor();
  assert.match(await page.textContent('[data-field="query_code"] .error'), /输错/);
  assert.ok(!page.requests.some((r) => r.url().includes('/api/v1/')), 'no request for a mistyped code');

  // Keyboard only: from the top of the page to the field, then Enter.
  await page.fill('#query-code', '');
  await page.focus('body');
  for (let i = 0; i < 10 && (await page.evaluate(() => document.activeElement.id)) !== 'query-code'; i++) {
    await page.keyboard.press('Tab');
  }
  await page.keyboard.type(queryCode);
  await page.keyboard.press('Enter');
  await page.locator('#unknown').waitFor();
  assert.match(await page.textContent('#unknown'), /暂未查到/);

  execFileSync(path.join(bin, 'tests', 'status-bulletin'), [`${dir}/status`, `${dir}/status.key`,
    `${src}/proto/taxonomy`, digits, 'accepted/pending/2026-12-01', 'verifying/pending/2026-12-03']);
  await page.waitForTimeout(300); // a few status_poll periods
  await page.click('#submit');
  await page.locator('#found').waitFor();
  assert.equal(await page.textContent('#stage'), '核查中');
  assert.equal(await page.textContent('#result'), '待定');
  assert.equal(await page.locator('#timeline li').count(), 2);
  await shot(page, 'status-zh');
  await axe(page, 'status');
  await page.click('#lang');
  assert.equal(await page.textContent('#stage'), 'Under verification');
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.ok(page.url().endsWith('/status.html?lang=en'));
  await shot(page, 'status-en');
  for (const r of page.requests) {
    assert.ok(!r.url().includes(digits));
    if (r.url().endsWith('/api/v1/status')) assert.equal(r.method(), 'POST');
  }
  await checkPage(page, 1); // the browser logs the 404 for the code not known yet
});

test('English by the switch, and every page passes the accessibility scan', async (t) => {
  const page = await phone(t, '/?lang=en');
  await page.locator('#report').waitFor();
  assert.equal(await page.textContent('h1'), 'Report organised crime');
  assert.equal(await page.textContent('#province option:first-child'), 'Choose');
  await page.selectOption('#province', '440000');
  await shot(page, 'form-en');
  await axe(page, 'form (en)');
  await page.click('#lang');
  assert.equal(await page.textContent('h1'), '扫黑除恶线索举报');
  assert.equal(await page.inputValue('#province'), '440000', 'choices survive the switch');
  await axe(page, 'form (zh)');
  await checkPage(page);
});

test('the poster shows the QR code of the configured address', async (t) => {
  const page = await phone(t, '/poster.html');
  await page.waitForFunction(() => document.getElementById('address').textContent !== '');
  assert.equal(await page.textContent('#address'), PUBLIC_URL);
  assert.ok(await page.evaluate(() => document.getElementById('qr').naturalWidth > 0));
  await shot(page, 'poster');
  await axe(page, 'poster');
  await checkPage(page);
});
