// What the browser tests of the staff pages share: the fixture (tests/tools/staff_fixture.c) and the browser,
// a page that records its requests and problems, the login (with the pledge and the national account's TOTP).
'use strict';
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const path = require('node:path');
const { chromium } = require('playwright-core');

const PASSWORD = 'correct horse battery';
const TOTP_SECRET = Buffer.from('12345678901234567890'); // the national account's, as the fixture stores it

// Starts staff-fixture with args and Chromium; resolves to { base, browser, stop }.
async function start(args = []) {
  const fixture = spawn(path.join(process.env.TIP_BINARY_DIR, 'tests', 'staff-fixture'), args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env },
  });
  const base = await new Promise((resolve, reject) => {
    let out = '';
    let log = '';
    fixture.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve('http://' + m[1]);
    });
    fixture.stderr.on('data', (d) => (log += d));
    fixture.on('exit', (code) => reject(new Error('staff-fixture exited (' + code + '):\n' + log)));
  });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--disable-dev-shm-usage', ...(process.getuid() === 0 ? ['--no-sandbox'] : [])],
  });
  const stop = async () => {
    await browser.close();
    const exited = new Promise((r) => fixture.on('exit', r));
    fixture.stdin.end();
    assert.equal(await exited, 0);
  };
  return { base, browser, stop };
}

// RFC 6238: SHA-1, 6 digits, 30-second steps.
function totp(secret = TOTP_SECRET, at = Date.now()) {
  const step = Buffer.alloc(8);
  step.writeBigUInt64BE(BigInt(Math.floor(at / 30000)));
  const h = crypto.createHmac('sha1', secret).update(step).digest();
  const o = h[h.length - 1] & 15;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, '0');
}

// A desk-sized page that records every request, console error and uncaught exception.
async function desk(browser, t) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
  const page = await context.newPage();
  page.requests = [];
  page.problems = [];
  page.on('request', (r) => page.requests.push(r));
  page.on('console', (m) => m.type() === 'error' && page.problems.push(m.text()));
  page.on('pageerror', (e) => page.problems.push(String(e)));
  t.after(() => context.close());
  return page;
}

// Nothing went to another origin, nothing was refused by the Content-Security-Policy, no script failed
// (answers of 4xx the page expects, e.g. the 401 before login, show as console errors and are allowed).
function checkPage(page, base) {
  for (const r of page.requests) assert.equal(new URL(r.url()).origin, base, r.url());
  assert.deepEqual(page.problems.filter((p) => !/status of 4\d\d/.test(p)), []);
}

async function ready(page) {
  await page.locator('body[data-ready]').waitFor();
}

// Logs in through the login page (and gives the pledge on first login); resolves on the role's first page.
async function login(page, base, user) {
  await page.goto(base + '/login.html');
  await ready(page);
  await page.fill('#username', user);
  await page.fill('#password', PASSWORD);
  if (user === 'nat') await page.fill('#totp', totp());
  await page.click('#login button[type="submit"]');
  await page.waitForURL((u) => !u.pathname.startsWith('/login'));
  if (new URL(page.url()).pathname === '/pledge.html') {
    await ready(page);
    await page.click('#pledge button[type="submit"]');
    assert.equal(await page.locator('#pledge .error').textContent(), '请先勾选承诺。');
    await page.check('#accept');
    await page.click('#pledge button[type="submit"]');
    await page.waitForURL((u) => u.pathname !== '/pledge.html');
  }
  await ready(page);
}

module.exports = { PASSWORD, start, totp, desk, checkPage, ready, login };
