// What the report form and the status page share: the API, proof of work, and errors shown next to fields.
import { t } from './i18n.js';

// preloaded: the page's head preloads this document (<link rel="preload" as="fetch" crossorigin>), which the
// browser hands over only to a request with the same credentials mode; the site sets no cookies either way.
export async function getJSON(path, preloaded = false) {
  const r = await fetch(path, { cache: 'no-store', credentials: preloaded ? 'same-origin' : 'omit' });
  if (!r.ok) throw new Error(path + ': ' + r.status);
  return r.json();
}

// Solves a fresh challenge in a worker; onProgress gets the chance, 0 to 1, that a solution was due by now.
// Resolves to the X-Proof-Of-Work header value.
export async function proofOfWork(onProgress) {
  // The worker's script loads while the challenge is on its way: two round trips at once, not one after the other.
  const w = new Worker('/pow-worker.js');
  let failed = null;
  w.onerror = (e) => (failed = e);
  let c;
  try {
    c = await getJSON('/api/v1/challenge');
  } catch (e) {
    w.terminate();
    throw e;
  }
  const expected = 2 ** c.bits;
  return new Promise((resolve, reject) => {
    if (failed) {
      w.terminate();
      reject(failed);
      return;
    }
    w.onmessage = (ev) => {
      if (ev.data.nonce !== undefined) {
        w.terminate();
        onProgress(1);
        resolve(c.challenge + ':' + ev.data.nonce);
      } else {
        onProgress(1 - Math.exp(-ev.data.tried / expected));
      }
    };
    w.onerror = (e) => {
      w.terminate();
      reject(e);
    };
    w.postMessage({ challenge: c.challenge, bits: c.bits });
  });
}

// Errors next to fields: common/web/fields.js, shared with the staff pages.
export { fieldFor, showError, clearErrors, numberErrors, focusFirstError } from './fields.js';

// Damm check digit (docs/internals/intake-querycode.md): the table row by row, ten digits each.
const DAMM = '0317598642709215486342068713591750983426612304597836742095815869720134894536201794386172052581436790';

export function dammOk(digits) {
  let interim = 0;
  for (const ch of digits) interim = Number(DAMM[interim * 10 + Number(ch)]);
  return interim === 0;
}

// The message for an API answer that is not a field's fault.
export function apiMessage(status, headers) {
  if (status === 429) return t('err.rate', { n: headers.get('Retry-After') || 60 });
  if (status === 403) return t('err.pow');
  return t('err.unavailable');
}
