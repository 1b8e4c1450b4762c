// The report form on a cheap phone, by proxy: Debian's Chromium at 360x640 with its CPU slowed down and its network
// shaped through the DevTools protocol, against a real intaked at the default proof-of-work difficulty. Measures
// the time until the form can be used, the bytes that costs, the proof-of-work worker's hash rate (and from it the
// expected solving time at the server's difficulty), and the time from pressing send to the query code with a
// photo of a few MB, phase by phase. Typing is the reporter's time and is not measured.
//
// Prints: bench webform: cpu=N down_kbps=N up_kbps=N latency_ms=N fcp_ms=N form_data_ms=N usable_ms=N
//   load_bytes=N form_json_bytes=N pow_bits=N hash_rate=N hash_rate_unthrottled=N pow_expected_ms=N strip_ms=N
//   challenge_ms=N worker_fetch_ms=N pow_measured_ms=N photo_bytes=N upload_bytes=N upload_ms=N server_ms=N
//   submit_to_code_ms=N submit_to_code_phone_ms=N
// form_data_ms: when the form document had arrived (from navigation). hash_rate: the worker's code on the throttled
// main thread, since Chromium cannot throttle workers; pow_measured_ms: the real, unthrottled wait after the
// challenge; submit_to_code_phone_ms: submit_to_code_ms with pow_expected_ms in place of pow_measured_ms.
//
// Settings (environment): BENCH_CPU (CPU slowdown, default 6), BENCH_DOWN_KBPS, BENCH_UP_KBPS, BENCH_LATENCY_MS
// (default: Lighthouse's request-level "Slow 4G": 1474.56 and 675 kbit/s, 562.5 ms; see docs/benchmarks.md),
// BENCH_PHOTO_MB (default 3), BENCH_HASH_SECONDS (default 5).
'use strict';
const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const bin = process.env.TIP_BINARY_DIR;
const src = process.env.TIP_SOURCE_DIR;
const num = (name, dflt) => (process.env[name] ? Number(process.env[name]) : dflt);
const CPU = num('BENCH_CPU', 6);
const DOWN_KBPS = num('BENCH_DOWN_KBPS', 1474.56);
const UP_KBPS = num('BENCH_UP_KBPS', 675);
const LATENCY_MS = num('BENCH_LATENCY_MS', 562.5);
const PHOTO_BYTES = Math.round(num('BENCH_PHOTO_MB', 3) * 1048576);
const HASH_SECONDS = num('BENCH_HASH_SECONDS', 5);

// A phone photo's shape: Exif with an orientation and a place, tables, then incompressible "image data".
function photo(size) {
  const seg = (marker, body) => Buffer.concat([Buffer.from([0xff, marker, (body.length + 2) >> 8,
    (body.length + 2) & 0xff]), body]);
  const exif = Buffer.concat([Buffer.from('Exif\0\0MM\0\x2a\0\0\0\x08\0\x01', 'latin1'),
    Buffer.from('011200030000000100060000', 'hex'), Buffer.alloc(4), Buffer.from('GPS 22.5431N 114.0579E')]);
  const head = Buffer.concat([Buffer.from([0xff, 0xd8]), seg(0xe1, exif), seg(0xdb, Buffer.alloc(64, 1)),
    Buffer.from([0xff, 0xda, 0, 2])]);
  return Buffer.concat([head, crypto.randomBytes(size - head.length - 2), Buffer.from([0xff, 0xd9])]);
}

async function startIntake(dir) {
  for (const [type, name] of [['sign', 'intake'], ['seal', 'seal'], ['sign', 'status']]) {
    execFileSync(path.join(bin, 'tipkey'), ['generate', '--type', type, '--name', name, '--out', `${dir}/${name}.key`]);
  }
  const conf = `${dir}/intaked.conf`;
  // Defaults for everything a reporter meets (proof-of-work difficulty, limits, rate limits).
  fs.writeFileSync(conf, [
    'origin bench-web', 'listen 127.0.0.1', 'port 0', 'plain_http yes', 'metrics_port 0',
    `signing_key ${dir}/intake.key`, `seal_key ${dir}/seal.key.pub`, `status_key ${dir}/status.key.pub`,
    `outbox ${dir}/outbox`, `status_spool ${dir}/status`, `taxonomy ${src}/proto/taxonomy`, '',
  ].join('\n'));
  const daemon = spawn(path.join(bin, 'intaked'), ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  const base = await new Promise((resolve, reject) => {
    let log = '';
    daemon.stderr.on('data', (d) => {
      log += d;
      const m = /listening on (127\.0\.0\.1:\d+)/.exec(log);
      if (m) resolve('http://' + m[1]);
    });
    daemon.on('exit', () => reject(new Error('intaked exited:\n' + log)));
  });
  return { daemon, base };
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tip-bench-web-'));
  const { daemon, base } = await startIntake(dir);
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--disable-dev-shm-usage', ...(process.getuid() === 0 ? ['--no-sandbox'] : [])],
  });
  try {
    const context = await browser.newContext({
      viewport: { width: 360, height: 640 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN',
    });
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    const bytes = new Map(); // url -> bytes received, headers included
    const urls = new Map();
    const started = new Map(); // requestId -> CDP timestamp (s)
    const fetched = []; // [url, seconds] of each request, from the browser's own clock
    let phase = 'load';
    const received = { load: 0, probe: 0, submit: 0 };
    // The page's CDP session does not see a worker's script being fetched; Playwright does.
    const workerFetches = [];
    page.on('requestfinished', async (r) => {
      if (phase !== 'submit' || !r.url().endsWith('/pow-worker.js')) return;
      const { responseEnd } = r.timing();
      const { responseBodySize, responseHeadersSize } = await r.sizes();
      workerFetches.push([r.url(), responseEnd / 1000, responseBodySize + responseHeadersSize]);
    });
    cdp.on('Network.requestWillBeSent', (e) => {
      urls.set(e.requestId, e.request.url);
      started.set(e.requestId, e.timestamp);
    });
    cdp.on('Network.loadingFinished', (e) => {
      const url = urls.get(e.requestId) || '?';
      bytes.set(url, (bytes.get(url) || 0) + e.encodedDataLength);
      received[phase] += e.encodedDataLength;
      if (phase === 'submit') fetched.push([url, e.timestamp - started.get(e.requestId)]);
    });
    await cdp.send('Network.enable');
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false, latency: LATENCY_MS,
      downloadThroughput: (DOWN_KBPS * 1024) / 8, uploadThroughput: (UP_KBPS * 1024) / 8,
    });
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: CPU });

    // Usable: the form is shown with its categories and provinces (performance.now() counts from navigation).
    await page.goto(base + '/', { waitUntil: 'commit' });
    const usable = await (await page.waitForFunction(() => !document.getElementById('report').hidden &&
      document.querySelectorAll('#categories input').length > 0 &&
      document.querySelectorAll('#province option').length > 1 && performance.now(), null, { polling: 'raf' }))
      .jsonValue();
    await page.waitForLoadState('load');
    const [fcp, dataEnd] = await page.evaluate(() => {
      const p = performance.getEntriesByName('first-contentful-paint')[0];
      const d = performance.getEntriesByName(location.origin + '/api/v1/form')[0];
      return [p ? p.startTime : -1, d ? d.responseEnd : -1];
    });
    const formUrl = base + '/api/v1/form';
    assert.ok(bytes.get(formUrl) > 0, 'the form document was fetched');
    for (const [url, n] of bytes) console.log(`  ${n}\t${url.replace(base, '')}`);
    const loadBytes = received.load;
    const formBytes = bytes.get(formUrl);
    phase = 'probe';

    // The proof-of-work code's speed. Chromium slows down a page's main thread but not its workers (the DevTools
    // protocol refuses to throttle a worker), so the worker's own code is also run on the throttled main thread:
    // the hash rate of a phone that much slower. Each search is at 12 bits; the nonce found says how many hashes
    // it took.
    const unthrottledRate = await page.evaluate((seconds) => new Promise((resolve) => {
      const w = new Worker('/pow-worker.js');
      let first;
      w.onmessage = (ev) => {
        const now = performance.now();
        if (!first) first = { now, tried: ev.data.tried };
        else if (now - first.now >= seconds * 1000) {
          w.terminate();
          resolve((ev.data.tried - first.tried) / ((now - first.now) / 1000));
        }
      };
      w.postMessage({ challenge: 'b'.repeat(56), bits: 33 }); // more than 32 bits: never solved
    }), HASH_SECONDS);
    await page.addScriptTag({ url: '/pow-worker.js' }); // defines solve() in the page
    const hashRate = await page.evaluate((seconds) => {
      window.onmessage = null; // the worker's handler, now the window's
      const start = performance.now();
      let tried = 0;
      for (let k = 0; performance.now() - start < seconds * 1000; k++) {
        tried += Number(solve(String(k).padStart(56, 'c'), 12)) + 1; // eslint-disable-line no-undef
      }
      return tried / ((performance.now() - start) / 1000);
    }, HASH_SECONDS);
    const powBits = await page.evaluate(async () => (await (await fetch('/api/v1/form')).json()).proof_of_work.bits);
    await page.reload({ waitUntil: 'commit' }); // a page without the worker's code in it
    await page.locator('#report').waitFor();

    // A short report of choices with one photo, then send, each phase marked in the page's own clock.
    await page.check('#categories input[value="mafia_organisation"]');
    await page.selectOption('#province', '440000');
    await page.selectOption('#prefecture', '440100');
    await page.selectOption('#county', '440104');
    await page.selectOption('#time', 'within_month');
    await page.fill('#narrative', '市场有人强收保护费。');
    const jpeg = photo(PHOTO_BYTES);
    await page.setInputFiles('#files', { name: 'IMG_20261203_101010.jpg', mimeType: 'image/jpeg', buffer: jpeg });
    await page.evaluate(() => {
      const marks = (window.marks = {});
      const mark = (k) => (marks[k] = performance.now());
      document.addEventListener('submit', () => mark('submit'), true);
      const fetch0 = window.fetch;
      window.fetch = async (url, opts) => {
        const challenge = String(url).endsWith('/api/v1/challenge');
        if (challenge) mark('challenge_sent');
        const r = await fetch0(url, opts);
        if (challenge) mark('challenge_back');
        return r;
      };
      const send = XMLHttpRequest.prototype.send;
      XMLHttpRequest.prototype.send = function (body) {
        mark('report_sent');
        this.upload.addEventListener('progress', (e) => (marks.upload_bytes = e.total));
        this.upload.addEventListener('load', () => mark('uploaded'));
        this.addEventListener('load', () => mark('answered'));
        return send.call(this, body);
      };
      new MutationObserver(() => document.getElementById('done').hidden || marks.done || mark('done'))
        .observe(document.getElementById('done'), { attributes: true });
    });
    phase = 'submit';
    await page.click('#submit');
    await page.locator('#done:not([hidden]), #report .error:not([hidden])').first().waitFor({ timeout: 600000 });
    const said = await page.$$eval('#report .error:not([hidden])', (els) => els.map((e) => e.textContent));
    assert.deepEqual(said, []);
    assert.match(await page.textContent('#code'), /^\s*\d{4} \d{4} \d{4} \d{4} \d{4}\s*$/);
    const m = await page.evaluate(() => window.marks);
    const ms = (a, b) => Math.round(m[b] - m[a]);
    const workerFetch = workerFetches[0];
    assert.ok(workerFetch, 'the worker was fetched when sending');
    // The worker loads while the challenge travels; what follows the challenge is mostly the solve, which ran
    // unthrottled: a phone would need the expected time at its own hash rate instead.
    const solveMs = ms('challenge_back', 'report_sent');
    const powExpected = (2 ** powBits / hashRate) * 1000;

    const fig = {
      cpu: CPU, down_kbps: DOWN_KBPS, up_kbps: UP_KBPS, latency_ms: LATENCY_MS,
      fcp_ms: Math.round(fcp), form_data_ms: Math.round(dataEnd), usable_ms: Math.round(usable), load_bytes: loadBytes, form_json_bytes: formBytes,
      pow_bits: powBits, hash_rate: Math.round(hashRate), hash_rate_unthrottled: Math.round(unthrottledRate),
      pow_expected_ms: Math.round(powExpected), strip_ms: ms('submit', 'challenge_sent'),
      challenge_ms: ms('challenge_sent', 'challenge_back'), worker_fetch_ms: Math.round(workerFetch[1] * 1000),
      pow_measured_ms: Math.round(solveMs), photo_bytes: jpeg.length, upload_bytes: m.upload_bytes,
      upload_ms: ms('report_sent', 'uploaded'), server_ms: ms('uploaded', 'answered'),
      submit_to_code_ms: ms('submit', 'done'), submit_to_code_phone_ms: Math.round(ms('submit', 'done') - solveMs +
        powExpected),
    };
    console.log('bench webform: ' + Object.entries(fig).map(([k, v]) => `${k}=${v}`).join(' '));
  } finally {
    await browser.close();
    const exited = new Promise((r) => daemon.on('exit', r));
    daemon.kill('SIGTERM');
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
