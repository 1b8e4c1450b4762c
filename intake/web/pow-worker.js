// Proof of work in a Web Worker: finds a decimal nonce such that SHA-256("<challenge>:<nonce>") starts with
// `bits` zero bits (docs/internals/intake-pow.md). Plain JavaScript: one WebCrypto call per nonce is far slower
// for inputs this short. Posts {tried} now and then, and {nonce} once found.
'use strict';

// The SHA-256 constants are the first 32 bits of the fractional parts of the square roots (initial state) and
// cube roots (round constants) of the first primes; computed here rather than written out.
function primes(n) {
  const out = [];
  for (let c = 2; out.length < n; c++) {
    if (out.every((p) => c % p !== 0)) out.push(c);
  }
  return out;
}
const frac32 = (x) => ((x - Math.floor(x)) * 4294967296) >>> 0;
const K = Uint32Array.from(primes(64), (p) => frac32(Math.cbrt(p)));
const H0 = Uint32Array.from(primes(8), (p) => frac32(Math.sqrt(p)));

const W = new Uint32Array(64);
const state = new Uint32Array(8);

function compress(block, off) {
  for (let i = 0; i < 16; i++) {
    const j = off + i * 4;
    W[i] = (block[j] << 24) | (block[j + 1] << 16) | (block[j + 2] << 8) | block[j + 3];
  }
  for (let i = 16; i < 64; i++) {
    const a = W[i - 15], b = W[i - 2];
    const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
    const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
    W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
  }
  let a = state[0], b = state[1], c = state[2], d = state[3];
  let e = state[4], f = state[5], g = state[6], h = state[7];
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g; g = f; f = e; e = (d + t1) | 0;
    d = c; c = b; b = a; a = (t1 + t2) | 0;
  }
  state[0] += a; state[1] += b; state[2] += c; state[3] += d;
  state[4] += e; state[5] += f; state[6] += g; state[7] += h;
}

// SHA-256 of buf[0, len) into `state`; buf has room for the padding (two blocks at most here).
function sha256(buf, len) {
  const total = len + 9 <= 64 ? 64 : 128;
  buf.fill(0, len, total);
  buf[len] = 0x80;
  const bits = len * 8;
  buf[total - 2] = bits >>> 8;
  buf[total - 1] = bits & 0xff;
  state.set(H0);
  for (let off = 0; off < total; off += 64) compress(buf, off);
}

function solve(challenge, bits) {
  const buf = new Uint8Array(128);
  const prefix = new TextEncoder().encode(challenge + ':');
  buf.set(prefix);
  for (let nonce = 0; ; nonce++) {
    const digits = String(nonce);
    let len = prefix.length;
    for (let i = 0; i < digits.length; i++) buf[len++] = digits.charCodeAt(i);
    sha256(buf, len);
    if (bits === 0 || (bits <= 32 && state[0] >>> (32 - bits) === 0 && (bits < 32 || state[0] === 0))) {
      return digits;
    }
    if ((nonce & 0x3fff) === 0x3fff) self.postMessage({ tried: nonce + 1 });
  }
}

self.onmessage = (ev) => {
  self.postMessage({ nonce: solve(ev.data.challenge, ev.data.bits) });
};
