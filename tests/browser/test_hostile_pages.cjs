// Hostile text on the staff pages: case 12 of the fixture (staff-fixture hostile) carries script, markup,
// injection and template text in every free-text field of its report, and the staff API's own text inputs
// (notes of accept, distribute, assign, a result's findings and actions, a contact's note, a decline's reason)
// get the same through the API; so does its attachment's file name. The inbox, the case page (report, workflow,
// similar cases, timeline) must show it literally: no dialog opens, no element is injected, the text is there as
// typed; the attachment's download carries no file name in its headers.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const staff = require('./staff.cjs');

const HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(1)>\'; DROP TABLE cases;-- {{7*7}} ${7*7} ';

let base, browser, stop;

before(async () => {
  fs.mkdirSync(process.env.TIP_ARTIFACTS, { recursive: true });
  ({ base, browser, stop } = await staff.start(['hostile']));
});

after(async () => {
  if (stop) await stop();
});

// A logged-in page that counts the dialogs anything opens (and dismisses them).
async function hostilePage(t, user) {
  const page = await staff.desk(browser, t);
  page.dialogs = [];
  page.on('dialog', (d) => {
    page.dialogs.push(d.message());
    d.dismiss();
  });
  await staff.login(page, base, user);
  return page;
}

// A case operation through the API, as the pages call it (session cookie, CSRF token); fails unless 200.
async function op(page, id, name, body) {
  const r = await page.evaluate(async ([id, name, body]) => {
    const csrf = /(?:^|;\s*)tip_csrf=([A-Za-z0-9_-]+)/.exec(document.cookie)[1];
    const res = await fetch(`/api/v1/cases/${id}/actions/${name}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify(body),
    });
    return { status: res.status, text: await res.text() };
  }, [id, name, body]);
  assert.equal(r.status, 200, `${name}: ${r.text}`);
}

// Nothing the text holds became an element, no dialog fired, and the text itself is on the page.
async function inert(page, name, mustShow) {
  // Let any injected handler (an image's onerror) have its chance to run.
  await page.waitForTimeout(300);
  assert.deepEqual(page.dialogs, [], name + ': a dialog opened');
  assert.equal(await page.locator('img[src="x"]').count(), 0, name + ': an injected image');
  const scripts = await page.$$eval('script', (ss) => ss.filter((s) => s.textContent.includes('alert(')).length);
  assert.equal(scripts, 0, name + ': an injected script');
  const text = await page.locator('body').innerText();
  for (const s of mustShow) assert.ok(text.includes(s), `${name}: "${s}" is not shown literally`);
  staff.checkPage(page, base);
  await page.screenshot({ path: path.join(process.env.TIP_ARTIFACTS, 'hostile-' + name + '.png'), fullPage: true });
}

test('hostile report text and staff notes are shown as text on every page', async (t) => {
  const bj = await hostilePage(t, 'bj');
  const cy = await hostilePage(t, 'cy');

  // The inbox lists the case.
  await bj.goto(base + '/index.html');
  await staff.ready(bj);
  await inert(bj, 'inbox', []);

  // The staff API's text inputs, each with the hostile text (and the step's name, to find it again).
  await op(bj, 12, 'accept', { note: 'accept ' + HOSTILE });
  await op(bj, 12, 'distribute', { note: 'distribute ' + HOSTILE });
  await op(bj, 12, 'assign', { unit: 4, review_unit: 6, note: 'assign ' + HOSTILE });
  await op(cy, 12, 'start', {});
  await op(cy, 12, 'submit_result',
    { result: 'substantiated', findings: 'findings ' + HOSTILE, actions: 'actions ' + HOSTILE });
  await op(bj, 12, 'record_contact', { channel: 'phone', outcome: 'reached', contacted_at: new Date().toISOString().replace('Z', '+00:00'), note: 'contact ' + HOSTILE });
  await op(bj, 3, 'decline', { result: 'referred', reason: 'decline ' + HOSTILE });

  // The case page: the report's fields (the fixture numbers them 0-11), the workflow (result, contact),
  // the similar cases, the timeline.
  await bj.goto(base + '/case.html?id=12');
  await staff.ready(bj);
  await bj.locator('#timeline ol li').first().waitFor();
  await inert(bj, 'case', [
    '0 <script>alert(1)</script>', '7 <script>alert(1)</script>"><img src=x onerror=alert(1)>',
    '11 <script>', "'; DROP TABLE cases;-- {{7*7}} ${7*7}", 'findings <script>alert(1)</script>',
    '12 <img src=x onerror=alert(1)>\'";{{7*7}}.jpg',
  ]);
  // The attachment's name reaches no header: the download is an attachment without a name.
  const disposition = await bj.evaluate(async () =>
    (await fetch('/api/v1/cases/12/attachments/0')).headers.get('Content-Disposition'));
  assert.equal(disposition, 'attachment');
  await bj.goto(base + '/case.html?id=3');
  await staff.ready(bj);
  await bj.locator('#timeline ol li').first().waitFor();
  await inert(bj, 'declined-case', []);
  await bj.goto(base + '/index.html');
  await staff.ready(bj);
  await inert(bj, 'inbox-after', []);
  await cy.goto(base + '/case.html?id=12');
  await staff.ready(cy);
  await inert(cy, 'case-unit', ['findings <script>alert(1)</script>']);
});
