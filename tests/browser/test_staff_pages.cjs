// The staff pages in headless Chromium against a real PostgreSQL and casemgrd (tests/tools/staff_fixture.c:
// units, accounts and eleven ingested cases: three in Beijing, two in Shanghai, six in Guangdong). Every role logs in (the
// national account with its TOTP code), one case goes from received to closed through the pages alone, similar
// cases are shown and a link confirmed, a provincial user sees no other province's case anywhere, and an account
// created on the administration page logs in with its enrolled TOTP and sets its own password. Screenshots go to $TIP_ARTIFACTS.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const staff = require('./staff.cjs');

const artifacts = process.env.TIP_ARTIFACTS;
const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const { PASSWORD, totp, ready } = staff;

let base, browser, stop;

before(async () => {
  fs.mkdirSync(artifacts, { recursive: true });
  ({ base, browser, stop } = await staff.start());
});

after(async () => {
  if (stop) await stop();
});

const desk = (t) => staff.desk(browser, t);
const checkPage = (page) => staff.checkPage(page, base);
const login = (page, user) => staff.login(page, base, user);

// RFC 4648 base32 without padding, as the administration page shows a TOTP secret.
function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of text) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

async function axe(page, name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${name}: ${v.id}: ${v.nodes.map((n) => n.target).join(' ')}`), []);
}

const shot = (page, name) => page.screenshot({ path: path.join(artifacts, 'staff-' + name + '.png'), fullPage: true });
const navItems = (page) => page.$$eval('#nav a', (as) => as.map((a) => a.getAttribute('href').split('?')[0]));
const caseIds = (page) => page.$$eval('#cases tbody tr td:first-child', (tds) => tds.map((td) => Number(td.textContent)));

async function openCase(page, id) {
  await page.goto(base + '/case.html?id=' + id);
  await ready(page);
}

const stage = (page) => page.locator('#wf-facts dd').first().textContent();
const offered = (page) => page.$$eval('#wf-actions button', (bs) => bs.map((b) => b.dataset.action));

// Opens an action's form, lets fill() complete it, submits, and waits for the outcome.
async function act(page, action, fill) {
  await page.click(`#wf-actions button[data-action="${action}"]`);
  const form = page.locator(`form[data-form="${action}"]`);
  await form.waitFor();
  if (fill) await fill(form);
  await form.locator('button[type="submit"]').click();
  await page.locator('#wf-outcome:not([hidden]), form [data-role="form-error"]:not([hidden]), form .error:not([hidden])')
    .first().waitFor();
  const said = await page.$$eval('form [data-role="form-error"]:not([hidden]), form .error:not([hidden])',
    (els) => els.map((e) => e.textContent));
  assert.deepEqual(said, [], `${action}: ${said.join(' / ')}`);
}

test('the login page refuses a wrong password and a missing TOTP code in words, and passes the scan', async (t) => {
  const page = await desk(t);
  await page.goto(base + '/');
  await page.waitForURL(/\/login\.html/);
  await ready(page);
  await page.click('#login button[type="submit"]');
  assert.equal(await page.locator('[data-field="username"] .error').textContent(), '此项为必填项。');
  assert.equal(await page.locator('#username').getAttribute('aria-invalid'), 'true');
  await page.fill('#username', 'bj');
  await page.fill('#password', 'wrong password');
  await page.click('#login button[type="submit"]');
  await page.locator('#form-error:not([hidden])').waitFor();
  assert.equal(await page.locator('#form-error').textContent(), '用户名、密码或验证码错误。');
  // The national account has a second factor: its password alone is not enough.
  await page.fill('#username', 'nat');
  await page.fill('#password', PASSWORD);
  await page.click('#login button[type="submit"]');
  await page.locator('#form-error:not([hidden])').waitFor();
  assert.equal(new URL(page.url()).pathname, '/login.html');
  await shot(page, 'login-refused');
  await axe(page, 'login');
  await page.click('#lang');
  assert.equal(await page.locator('h1').textContent(), 'Staff login');
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
  checkPage(page);
});

test('every role logs in (national with TOTP), gives the pledge once, and is offered its own pages', async (t) => {
  const expect = {
    nat: ['/index.html', '/board.html', '/map.html', '/callbacks.html', '/audit.html'],
    bj: ['/index.html', '/board.html', '/map.html', '/callbacks.html'],
    sh: ['/index.html', '/board.html', '/map.html', '/callbacks.html'], cy: ['/index.html', '/board.html'],
    rev: ['/index.html'], aud: ['/audit.html'], adm: ['/admin.html'],
  };
  for (const [user, pages] of Object.entries(expect)) {
    const page = await desk(t);
    await login(page, user);
    assert.deepEqual(await navItems(page), pages, user);
    if (!pages.includes('/index.html')) {
      // Auditors and administrators reach no case: the inbox says so instead of listing anything.
      await page.goto(base + '/index.html');
      await page.locator('.refusal').waitFor();
      assert.equal(await page.locator('#cases tbody tr').count(), 0);
    }
    await shot(page, 'home-' + user);
    checkPage(page);
  }
});

test('one case goes from received to closed through the pages alone', async (t) => {
  const bj = await desk(t);
  const cy = await desk(t);
  const rev = await desk(t);
  await login(bj, 'bj');
  await login(cy, 'cy');
  await login(rev, 'rev');

  // The Beijing office's inbox holds its three cases; the unit's and the reviewer's are empty for now.
  assert.deepEqual(await caseIds(bj), [3, 2, 1]);
  assert.equal(await cy.locator('#cases tbody tr').count(), 0);
  await shot(bj, 'inbox');
  await axe(bj, 'inbox');

  await openCase(bj, 1);
  assert.equal(await stage(bj), '已接收');
  assert.deepEqual(await offered(bj), ['accept', 'decline', 'record_contact', 'redistribute', 'supervise']);
  // The four blocks, the reporter's identity (a provincial office contacts reporters) and the attachment.
  assert.match(await bj.locator('#reporter').textContent(), /张三/);
  assert.match(await bj.locator('#persons').textContent(), /李四/);
  assert.match(await bj.locator('#umbrella').textContent(), /王五/);
  const download = bj.waitForEvent('download');
  await bj.click('#activity a[download]');
  assert.equal((await download).suggestedFilename(), 'photo.jpg');
  await shot(bj, 'case-received');
  await axe(bj, 'case');

  // A refusal is said plainly: a second page still offers accept after the first took it.
  const stale = await desk(t);
  await login(stale, 'bj');
  await openCase(stale, 1);
  await act(bj, 'accept', (f) => f.locator('textarea').fill('线索具体，予以受理。'));
  assert.equal(await stage(bj), '已受理');
  await stale.click('#wf-actions button[data-action="accept"]');
  await stale.locator('form[data-form="accept"] button[type="submit"]').click();
  const refusal = stale.locator('form [data-role="form-error"]:not([hidden])');
  await refusal.waitFor();
  assert.match(await refusal.textContent(), /^无法办理：the case is accepted; accept needs one of: received/);

  await act(bj, 'distribute');
  assert.equal(await stage(bj), '已分办');
  // Assignment: the form refuses a missing unit before asking, then names the units by name.
  await bj.click('#wf-actions button[data-action="assign"]');
  const assign = bj.locator('form[data-form="assign"]');
  await assign.locator('button[type="submit"]').click();
  assert.equal(await assign.locator('[data-field="unit"] .error').textContent(), '此项为必填项。');
  await bj.click('#wf-actions button[data-action="assign"]'); // closes the form
  await act(bj, 'assign', async (f) => {
    await f.locator('#arg-unit').selectOption({ label: '朝阳分局核查组' });
    await f.locator('#arg-review_unit').selectOption({ label: '北京市公安局审核处' });
    await f.locator('#arg-working_days').fill('20');
  });
  assert.equal(await stage(bj), '已交办');
  assert.match(await bj.locator('#wf-facts').textContent(), /朝阳分局核查组.*北京市公安局审核处/s);

  // The unit now has the case, and starts and submits a result with a file.
  await cy.reload();
  await ready(cy);
  assert.deepEqual(await caseIds(cy), [1]);
  await openCase(cy, 1);
  assert.deepEqual(await offered(cy), ['extension_request', 'record_contact', 'start']);
  assert.match(await cy.locator('#extra').textContent(), /核查办理期限/);
  await act(cy, 'start');
  assert.equal(await stage(cy), '核查中');
  // An extension, requested by the unit and approved by the office.
  await act(cy, 'extension_request', async (f) => {
    await f.locator('#arg-working_days').fill('5');
    await f.locator('#arg-reason').fill('需调取银行流水，申请延期。');
  });
  assert.match(await cy.locator('#extra').textContent(), /待审批/);
  await openCase(bj, 1);
  await act(bj, 'extension_decide', (f) => f.locator('input[value="approve"]').check());
  assert.match(await bj.locator('#extra').textContent(), /已同意/);
  await act(cy, 'submit_result', async (f) => {
    await f.locator('#arg-result').selectOption('substantiated');
    await f.locator('#arg-findings').fill('经核查，夜间非法采砂属实，已固定证据。');
    await f.locator('#arg-actions').fill('移送公安机关立案侦查。');
    await f.locator('#arg-attachments').setInputFiles({ name: '核查报告.pdf', mimeType: 'application/pdf',
      buffer: Buffer.from('%PDF-1.4\n% verification report\n%%EOF\n') });
  });
  assert.equal(await stage(cy), '审核中');
  assert.match(await cy.locator('#wf-results').textContent(), /核查报告\.pdf/);
  await shot(cy, 'case-submitted');

  // Double review. The reviewer sees no identity; a rejection without reasons is refused next to the field.
  await openCase(rev, 1);
  assert.match(await rev.locator('#reporter').textContent(), /举报人身份信息不向您的角色显示/);
  assert.doesNotMatch(await rev.locator('#reporter').textContent(), /张三/);
  await rev.click('#wf-actions button[data-action="review"]');
  const review = rev.locator('form[data-form="review"]');
  await review.locator('input[value="reject"]').check();
  await review.locator('button[type="submit"]').click();
  await review.locator('[data-field="reasons"] .error:not([hidden])').waitFor();
  assert.match(await review.locator('[data-field="reasons"] .error').textContent(), /^请检查此项：required/);
  assert.equal(await review.locator('#arg-reasons').getAttribute('aria-invalid'), 'true');
  await shot(rev, 'case-field-error');
  await axe(rev, 'case with a field error');
  await review.locator('input[value="approve"]').check();
  await review.locator('button[type="submit"]').click();
  await rev.locator('#wf-outcome:not([hidden])').waitFor();
  assert.equal(await stage(rev), '审核中');

  await openCase(bj, 1);
  await act(bj, 'review', (f) => f.locator('input[value="approve"]').check());
  assert.equal(await stage(bj), '已办结');

  // The closing contact, then the close.
  await act(bj, 'record_contact', async (f) => {
    await f.locator('#arg-channel').selectOption('phone');
    await f.locator('#arg-outcome').selectOption('reached');
    await f.locator('#arg-closing').check();
    await f.locator('#arg-note').fill('电话告知举报人核查结果，举报人表示满意。');
  });
  assert.equal(await stage(bj), '已反馈');
  await act(bj, 'close', (f) => f.locator('textarea').fill('办结归档。'));
  assert.equal(await stage(bj), '已结案');
  assert.deepEqual(await offered(bj), ['reopen']);

  // Every step is on the timeline, by name.
  const events = await bj.$$eval('#timeline li strong', (s) => s.map((x) => x.textContent));
  assert.deepEqual(events, ['自动分流', '受理', '分办', '交办', '开始核查', '申请延期', '审批延期', '报送核查结果', '审核', '审核',
    '记录联系举报人', '结案']);
  assert.match(await bj.locator('#timeline').textContent(), /rev/);
  await shot(bj, 'case-closed');
  await bj.click('#lang');
  assert.equal(await stage(bj), 'Closed');
  await shot(bj, 'case-closed-en');
  await axe(bj, 'case (en)');
  for (const p of [bj, cy, rev]) checkPage(p);
});

// The fixture's reports are alike, so every two cases of a province are proposed as linked (after the case
// above, whose timeline is checked in full).
const linked = (page) => page.$$eval('#similar .linked', (ds) => ds.map((d) => Number(d.dataset.case)).sort());
const linkItem = (page, id) => page.locator(`#similar .linked[data-case="${id}"]`);

test('similar cases of one province show with their score; the office confirms a link and merges; another province sees neither', async (t) => {
  const bj = await desk(t);
  await login(bj, 'bj');
  await openCase(bj, 2);
  assert.deepEqual(await linked(bj), [1, 3]);
  const three = linkItem(bj, 3);
  assert.match(await three.textContent(), /疑似相同（待确认）/);
  assert.match(await three.textContent(), /相似度99%/);
  assert.match(await three.textContent(), /身份证号、电话、公职人员、姓名、地点/);
  assert.match(await three.textContent(), /已接收/);
  assert.equal(await three.locator('a').first().getAttribute('href'), '/case.html?id=3');
  await three.locator('[data-decide="confirm"]').click();
  await bj.locator('#sim-outcome.done:not([hidden])').waitFor();
  assert.equal(await bj.locator('#sim-outcome').textContent(), '已确认与案件 3 关联。');
  assert.match(await linkItem(bj, 3).textContent(), /已确认关联/);
  assert.equal(await linkItem(bj, 3).locator('[data-decide="confirm"]').count(), 0);
  assert.match(await bj.locator('#timeline').textContent(), /关联/);
  await shot(bj, 'case-similar');
  await axe(bj, 'case with similar cases');
  await bj.click('#lang');
  assert.equal(await bj.locator('#similar-h').textContent(), 'Similar and linked cases');
  assert.match(await linkItem(bj, 1).textContent(), /ID number, phone/);
  await bj.click('#lang');

  // A merge asks first, then takes this case into the other; a second page merging it again is refused, in words.
  const stale = await desk(t);
  await login(stale, 'bj');
  await openCase(stale, 2);
  await linkItem(bj, 3).locator('[data-decide="merge"]').click();
  await linkItem(bj, 3).locator('[data-decide="merge_yes"]').click();
  await bj.locator('#sim-outcome:not([hidden])').filter({ hasText: '本案已并入案件 3。' }).waitFor();
  assert.match(await bj.locator('#wf-facts').textContent(), /已并入案件3/);
  assert.equal(await bj.locator('#similar button').count(), 0);
  await linkItem(stale, 3).locator('[data-decide="merge"]').click();
  await linkItem(stale, 3).locator('[data-decide="merge_yes"]').click();
  await stale.locator('#sim-outcome.refusal:not([hidden])').waitFor();
  assert.equal(await stale.locator('#sim-outcome').textContent(), '无法办理：case 2 is already merged into case 3');
  for (const p of [bj, stale]) checkPage(p);

  // Shanghai's office sees its own pair only, and nothing of Beijing's, not even through the API.
  const sh = await desk(t);
  await login(sh, 'sh');
  await openCase(sh, 4);
  assert.deepEqual(await linked(sh), [5]);
  const answers = await sh.evaluate(async () => Promise.all([2, 3].map((id) =>
    fetch('/api/v1/cases/' + id + '/actions/similar').then((r) => r.status))));
  assert.deepEqual(answers, [404, 404]);
  checkPage(sh);
});

test('a provincial user sees no other province\'s case anywhere', async (t) => {
  const sh = await desk(t);
  await login(sh, 'sh');
  assert.deepEqual(await caseIds(sh), [5, 4]);
  // Filtering for Beijing finds nothing; Beijing's cases are "not found", not forbidden.
  await sh.goto(base + '/index.html?province=110000');
  await ready(sh);
  assert.equal(await sh.locator('#cases tbody tr').count(), 0);
  assert.equal(await sh.locator('#status').textContent(), '没有符合条件的案件。');
  for (const id of [1, 2, 3]) {
    await sh.goto(base + '/case.html?id=' + id);
    await sh.locator('#status').filter({ hasText: '未找到' }).waitFor();
    assert.equal(await sh.locator('#content').isHidden(), true);
  }
  // Nor through the API the pages use, nor through a case of its own.
  const answers = await sh.evaluate(async () => Promise.all(['/api/v1/cases/1', '/api/v1/cases/1/actions/workflow',
    '/api/v1/cases/1/actions/timeline', '/api/v1/cases/1/actions/people', '/api/v1/cases/1/attachments/0']
    .map((u) => fetch(u).then((r) => r.status))));
  assert.deepEqual(answers, [404, 404, 404, 404, 404]);
  const listed = await sh.evaluate(async () => (await (await fetch('/api/v1/cases?limit=200')).json()).cases.map((c) => c.province));
  assert.deepEqual([...new Set(listed)], ['310000']);
  await openCase(sh, 4);
  assert.match(await sh.locator('#wf-facts').textContent(), /上海市扫黑办/);
  // Nor on the supervision board: the 30-day contact clocks of 2023 are long past, Shanghai's only.
  await sh.goto(base + '/board.html');
  await ready(sh);
  const boardIds = await sh.$$eval('#overdue tbody td:first-child a', (as) => as.map((a) => Number(a.textContent)));
  assert.ok(boardIds.length > 0);
  assert.deepEqual(boardIds.filter((id) => id !== 4 && id !== 5), []);
  await shot(sh, 'board');
  await axe(sh, 'board');
  await shot(sh, 'province-scope');
  checkPage(sh);
});

// The fixture's reports were signed in November 2023: the period from then to this month.
async function period(page) {
  const before = await page.locator('#totals').textContent();
  await page.fill('#from', '2023-11');
  await page.click('#period button[type="submit"]');
  await page.waitForFunction((b) => document.getElementById('totals').textContent !== b, before);
}

test('the situation map renders the provinces, charts and evaluation with small counts withheld, and exports CSV', async (t) => {
  const page = await desk(t);
  await page.setViewportSize({ width: 1400, height: 1000 });
  await login(page, 'bj');
  await page.goto(base + '/map.html');
  await ready(page);
  await period(page);
  // A provincial office sees its own province only: Beijing's three reports, withheld as under 5.
  let rows = await page.$$eval('#evaluation tbody tr', (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)));
  assert.deepEqual(rows.map((r) => r[0]), ['北京市']);
  assert.equal(rows[0][1], '<5');
  assert.match(await page.locator('#totals').textContent(), /举报 <5 件/);
  checkPage(page);

  const nat = await desk(t);
  await nat.setViewportSize({ width: 1400, height: 1000 });
  await nat.goto(base + '/login.html');
  await ready(nat);
  await nat.fill('#username', 'nat');
  await nat.fill('#password', PASSWORD);
  await nat.fill('#totp', totp());
  await nat.click('#login button[type="submit"]');
  await nat.waitForURL((u) => !u.pathname.startsWith('/login'));
  await nat.goto(base + '/map.html');
  await ready(nat);
  await period(nat);
  rows = await nat.$$eval('#evaluation tbody tr', (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)));
  assert.deepEqual(rows.map((r) => r[0]), ['北京市', '上海市', '广东省']);
  // Guangdong's six reports and six open cases are shown; Beijing's and Shanghai's counts are withheld.
  assert.deepEqual(rows[2].slice(0, 3), ['广东省', '6', '6']);
  assert.deepEqual(rows.slice(0, 2).map((r) => r[1]), ['<5', '<5']);
  // ECharts drew the map, the two bar charts and the trend on canvases.
  for (const id of ['map', 'categories', 'sectors', 'trend']) {
    assert.equal(await nat.locator(`#${id} canvas`).count(), 1, id);
  }
  // The chart library (a megabyte) travels compressed.
  const lib = nat.requests.find((r) => r.url().endsWith('/vendor/echarts.min.js'));
  assert.equal((await lib.response()).headers()['content-encoding'], 'gzip');
  await nat.locator('#map canvas').hover({ position: { x: 700, y: 300 } });
  await shot(nat, 'map');
  await axe(nat, 'map');
  await nat.check('input[name="measure"][value="overdue"]');
  const download = nat.waitForEvent('download');
  await nat.click('#csv');
  const file = await (await download).path();
  const text = fs.readFileSync(file, 'utf8');
  assert.equal(text.charCodeAt(0), 0xfeff);
  assert.match(text, /"440000","广东省","6","6"/);
  assert.match(text, /"110000","北京市","<5"/);
  await nat.click('#lang');
  assert.equal(await nat.locator('#evaluation tbody tr th').first().textContent(), 'Beijing');
  await shot(nat, 'map-en');
  checkPage(nat);
});

test('the administrator keeps the holiday calendar; the callback screen shows a month without a draw', async (t) => {
  const adm = await desk(t);
  await login(adm, 'adm');
  assert.equal(new URL(adm.url()).pathname, '/admin.html');
  await adm.fill('#year', '2027');
  await adm.click('#year-form button[type="submit"]');
  await adm.locator('#days tbody tr').first().waitFor();
  // A Saturday worked: first refused next to the missing name, then saved, listed and deleted.
  await adm.fill('#day', '2027-02-20');
  await adm.click('#set button[type="submit"]');
  assert.equal(await adm.locator('#set [data-field="name"] .error').textContent(), '此项为必填项。');
  await adm.selectOption('#kind', 'workday');
  await adm.fill('#name', '春节调休');
  await adm.click('#set button[type="submit"]');
  await adm.locator('#set-outcome.done').waitFor();
  assert.match(await adm.locator('#days').textContent(), /春节调休/);
  await shot(adm, 'admin-holidays');
  await axe(adm, 'admin');
  await adm.click('#days button[aria-label$="2027-02-20"]');
  await adm.locator('#set-outcome.done').filter({ hasText: '已删除' }).waitFor();
  assert.doesNotMatch(await adm.locator('#days').textContent(), /春节调休/);
  checkPage(adm);

  const bj = await desk(t);
  await login(bj, 'bj');
  await bj.goto(base + '/callbacks.html');
  await ready(bj);
  assert.equal(await bj.locator('#draw').textContent(), '该月尚未抽样。');
  await shot(bj, 'callbacks');
  await axe(bj, 'callbacks');
  checkPage(bj);
});

test('the administrator creates an account on the page; its user logs in with the enrolled TOTP and sets a password', async (t) => {
  const adm = await desk(t);
  await login(adm, 'adm');
  await adm.locator('#users tbody tr[data-user="cy"]').waitFor();
  // A login name already taken: refused next to the field.
  await adm.fill('#new-username', 'cy');
  await adm.selectOption('#new-role', 'unit_officer');
  await adm.selectOption('#new-unit', '4');
  await adm.click('#user-form button[type="submit"]');
  await adm.locator('#user-form [data-field="username"] .error').filter({ hasText: '无法办理' }).waitFor();
  await adm.fill('#new-username', 'li.si');
  await adm.fill('#new-display', '李四');
  await adm.selectOption('#new-role', 'unit_officer');
  await adm.selectOption('#new-unit', '4');
  await adm.click('#user-form button[type="submit"]');
  await adm.locator('#cred:not([hidden])').waitFor();
  const temp = await adm.locator('[data-cred="temp_password"]').textContent();
  const secret = await adm.locator('[data-cred="totp_secret"]').textContent();
  assert.match(temp, /^[a-z2-9]{16}$/);
  assert.match(secret, /^[A-Z2-7]{32}$/);
  assert.match(await adm.locator('[data-cred="totp_uri"]').textContent(), /^otpauth:\/\/totp\/tipline:li\.si\?secret=/);
  assert.match(await adm.locator('#cred-qr').getAttribute('src'), /^data:image\/svg\+xml;base64,/);
  assert.match(await adm.locator('#users tbody tr[data-user="li.si"]').textContent(), /动态码待激活/);
  await shot(adm, 'admin-credentials');
  await axe(adm, 'admin-accounts');
  await adm.click('#cred-close');
  assert.equal(await adm.locator('[data-cred]').count(), 0);
  checkPage(adm);

  // The new user: the temporary password and a code of the new secret, then a password of its own.
  const li = await desk(t);
  await li.goto(base + '/login.html');
  await ready(li);
  await li.fill('#username', 'li.si');
  await li.fill('#password', temp);
  await li.fill('#totp', totp(base32(secret)));
  await li.click('#login button[type="submit"]');
  await li.waitForURL((u) => u.pathname === '/password.html');
  await ready(li);
  await li.fill('#current', temp);
  await li.fill('#new', 'short');
  await li.fill('#repeat', 'short');
  await li.click('#password button[type="submit"]');
  await li.locator('[data-field="new"] .error').filter({ hasText: '12' }).waitFor();
  await li.fill('#current', temp);
  await li.fill('#new', '一寸光阴一寸金寸金难买寸光阴');
  await li.fill('#repeat', '一寸光阴一寸金寸金难买寸光阴');
  await shot(li, 'password');
  await axe(li, 'password');
  await li.click('#password button[type="submit"]');
  await li.waitForURL((u) => u.pathname === '/pledge.html');
  await ready(li);
  await li.check('#accept');
  await li.click('#pledge button[type="submit"]');
  await li.waitForURL((u) => u.pathname === '/index.html');
  await ready(li);
  assert.match(await li.locator('#who').textContent(), /李四/);
  checkPage(li);

  await adm.reload();
  await ready(adm);
  assert.match(await adm.locator('#users tbody tr[data-user="li.si"]').textContent(), /动态码已启用/);
});

test('the auditor lands on the audit page: the chain intact, the heads, the events newest first', async (t) => {
  const aud = await desk(t);
  await login(aud, 'aud');
  assert.equal(new URL(aud.url()).pathname, '/audit.html');
  assert.equal(await aud.locator('#verdict').textContent(), '哈希链完整。');
  const seqs = await aud.locator('#events tbody tr td:first-child').allTextContents();
  assert.ok(seqs.length > 0);
  assert.deepEqual(seqs.map(Number), seqs.map(Number).sort((a, b) => b - a));
  // Its own view of the trail is an event of the trail.
  await aud.fill('#action', 'audit.');
  await aud.click('#filters button[type="submit"]');
  await aud.locator('#events tbody tr td:nth-child(4)').first().filter({ hasText: 'audit.view' }).waitFor();
  // The actor by name and role, not by id alone.
  assert.match(await aud.locator('#events tbody tr td:nth-child(3)').first().textContent(), /^aud · 审计员 · #\d+$/);
  // The full check, in chunks, ends with the same verdict.
  await aud.click('#full');
  await aud.locator('#chain dd').filter({ hasText: /从第 0 号起全部 \d+ 个事件/ }).waitFor();
  assert.equal(await aud.locator('#verdict').textContent(), '哈希链完整。');
  await shot(aud, 'audit');
  await axe(aud, 'audit');
  checkPage(aud);
});
