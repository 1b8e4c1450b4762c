// The page's removal of photo metadata (intake/web/strip.js), run in node on photos' skeletons: what identifies
// the reporter goes, the image stays, and a photo whose structure cannot be followed is refused, not sent as is.
// A JPEG's orientation survives alone; Chromium decodes real photos before and after to show it still applies.
'use strict';
const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

// The page's module as the browser gets it (node would take a plain .js file for CommonJS).
const source = fs.readFileSync(path.join(process.env.TIP_SOURCE_DIR, 'intake/web/strip.js'), 'utf8');
const stripModule = import('data:text/javascript,' + encodeURIComponent(source));
const strip = async (buf) => {
  const out = (await stripModule).stripMetadata(new Uint8Array(buf));
  return out && Buffer.from(out);
};
const bytes = (...parts) => Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p, 'latin1'))));
const u16be = (n) => Buffer.from([n >> 8, n & 0xff]);
const u32 = (n, le) => {
  const b = Buffer.alloc(4);
  if (le) b.writeUInt32LE(n);
  else b.writeUInt32BE(n);
  return b;
};

const jpegSegment = (marker, text) => bytes(Buffer.from([0xff, marker]), u16be(text.length + 2), text);
const pngChunk = (type, data) => bytes(u32(data.length), type, data, u32(0));
const webpChunk = (type, data) => bytes(type, u32(data.length, true), data, data.length & 1 ? '\0' : '');
const webpFile = (...chunks) => {
  const body = bytes('WEBP', ...chunks);
  return bytes('RIFF', u32(body.length, true), body);
};

// A TIFF structure (the body of an Exif segment): ifds[k] = { entries: [[tag, type, count, value]], next: index };
// a value is a Buffer (stored in the entry when it fits in 4 bytes, after the IFD otherwise), { ifd: k } (that
// IFD's offset) or { tail: true } (the offset of `tail`, written after the last IFD).
const SHORT = 3;
const LONG = 4;
const ASCII = 2;
const RATIONAL = 5;
function tiff(le, ifds, tail) {
  const w16 = (n) => Buffer.from(le ? [n & 0xff, n >> 8] : [n >> 8, n & 0xff]);
  const w32 = (n) => u32(n, le);
  const outside = (v) => Buffer.isBuffer(v) && v.length > 4;
  const at = [];
  let o = 8;
  for (const d of ifds) {
    at.push(o);
    o += 6 + 12 * d.entries.length + d.entries.reduce((n, e) => n + (outside(e[3]) ? e[3].length : 0), 0);
  }
  const parts = [Buffer.from(le ? 'II' : 'MM'), w16(42), w32(8)];
  ifds.forEach((d, k) => {
    let data = at[k] + 6 + 12 * d.entries.length;
    const extra = [w32(d.next === undefined ? 0 : at[d.next])];
    parts.push(w16(d.entries.length));
    for (const [tag, type, count, v] of d.entries) {
      parts.push(w16(tag), w16(type), w32(count));
      if (!Buffer.isBuffer(v)) parts.push(w32(v.tail ? o : at[v.ifd]));
      else if (!outside(v)) parts.push(Buffer.concat([v, Buffer.alloc(4 - v.length)]));
      else {
        parts.push(w32(data));
        extra.push(v);
        data += v.length;
      }
    }
    parts.push(...extra);
  });
  return Buffer.concat([...parts, tail]);
}

// Exif as a phone writes it: IFD0 with make, model, orientation, time and the Exif and GPS IFDs, then IFD1 with a
// thumbnail. le: Intel byte order (as most Android phones), else Motorola (as iPhones).
const THUMBNAIL = bytes(Buffer.from([0xff, 0xd8]), 'thumbnail of the living room', Buffer.from([0xff, 0xd9]));
function phoneExif(orientation, le) {
  const w16 = (n) => Buffer.from(le ? [n & 0xff, n >> 8] : [n >> 8, n & 0xff]);
  const latitude = Buffer.concat([22, 1, 32, 1, 3516, 100].map((n) => u32(n, le)));
  return bytes('Exif\0\0', tiff(le, [
    { entries: [[0x010f, ASCII, 11, Buffer.from('PhoneMaker\0')], [0x0110, ASCII, 9, Buffer.from('Model X1\0')],
      [0x0112, SHORT, 1, w16(orientation)], [0x0132, ASCII, 20, Buffer.from('2026:12:03 10:10:10\0')],
      [0x8769, LONG, 1, { ifd: 1 }], [0x8825, LONG, 1, { ifd: 2 }]], next: 3 },
    { entries: [[0x9003, ASCII, 20, Buffer.from('2026:12:03 10:10:09\0')], [0xa430, ASCII, 9, Buffer.from('Zhang S.\0')]] },
    { entries: [[0x0001, ASCII, 2, Buffer.from('N\0')], [0x0002, RATIONAL, 3, latitude]] },
    { entries: [[0x0201, LONG, 1, { tail: true }], [0x0202, LONG, 1, u32(THUMBNAIL.length, le)]] },
  ], THUMBNAIL));
}
const exifSegment = (payload) => bytes(Buffer.from([0xff, 0xe1]), u16be(payload.length + 2), payload);
// What the page writes back for orientation 6: the Exif header, a big-endian TIFF header, one IFD with one entry.
const ORIENTATION_6 = Buffer.from('ffe10022' + '457869660000' + '4d4d002a00000008' + '0001' +
  '011200030000000100060000' + '00000000', 'hex');
const SCAN = bytes(jpegSegment(0xdb, 'tables'), Buffer.from([0xff, 0xda, 0, 2]), 'scan data', Buffer.from([0xff, 0xd9]));
const SOI = Buffer.from([0xff, 0xd8]);

test('JPEG: the orientation alone is kept, in a segment made anew; GPS, time, camera and thumbnail go', async () => {
  for (const le of [true, false]) {
    const photo = bytes(SOI, exifSegment(phoneExif(6, le)), jpegSegment(0xe1, 'xmp: tiff:Orientation 6, at home'),
      SCAN);
    assert.ok(photo.includes('PhoneMaker') && photo.includes('2026:12:03') && photo.includes('thumbnail'));
    const out = await strip(photo);
    assert.deepEqual(out, bytes(SOI, ORIENTATION_6, SCAN), le ? 'Intel order' : 'Motorola order');
    for (const gone of ['PhoneMaker', 'Model X1', '2026:12:03', 'Zhang', 'thumbnail', 'xmp']) {
      assert.ok(!out.includes(gone), gone);
    }
  }
  // Every rotation and mirroring survives; 1 (as shot) needs no segment.
  for (let v = 2; v <= 8; v++) {
    const out = await strip(bytes(SOI, exifSegment(phoneExif(v, true)), SCAN));
    assert.deepEqual(out.subarray(2, 38), Buffer.concat([ORIENTATION_6.subarray(0, 29), Buffer.from([v]),
      ORIENTATION_6.subarray(30)]));
  }
  assert.deepEqual(await strip(bytes(SOI, exifSegment(phoneExif(1, true)), SCAN)), bytes(SOI, SCAN));
  // The segment goes where the Exif was, after a JFIF header if there is one; only the first Exif counts.
  const jfif = jpegSegment(0xe0, 'JFIF\0\x01\x02');
  assert.deepEqual(await strip(bytes(SOI, jfif, exifSegment(phoneExif(6, false)), exifSegment(phoneExif(3, true)),
    SCAN)), bytes(SOI, jfif, ORIENTATION_6, SCAN));
});

test('JPEG: an orientation that cannot be read is dropped with the rest, and the photo still sent', async () => {
  const ifd0 = (entry) => bytes('Exif\0\0MM\0\x2a', u32(8), u16be(1), entry, u32(0));
  const damaged = [
    'Exif\0\0', 'Exif\0\0MM\0\x2a', 'Exif\0\0XX\0\x2a\0\0\0\x08', 'Exif\0\0MM\0\x2b\0\0\0\x08\0\0',
    bytes('Exif\0\0MM\0\x2a', u32(0xfffffff0)), bytes('Exif\0\0MM\0\x2a', u32(4), u16be(1)),
    bytes('Exif\0\0MM\0\x2a', u32(8), u16be(2), Buffer.from('011200030000000100060000', 'hex')), // one entry of two
    ifd0(Buffer.from('011200040000000100000006', 'hex')), // a LONG, not a SHORT
    ifd0(Buffer.from('011200030000000200060006', 'hex')), // two values
    ifd0(Buffer.from('011200030000000100090000', 'hex')), // no such orientation
    ifd0(Buffer.from('011200030000000100000000', 'hex')),
  ];
  for (const payload of damaged) {
    const p = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'latin1');
    assert.deepEqual(await strip(bytes(SOI, exifSegment(p), SCAN)), bytes(SOI, SCAN), p.toString('hex'));
  }
  assert.deepEqual(await strip(bytes(SOI, exifSegment(ifd0(Buffer.from('011200030000000100060000', 'hex'))), SCAN)),
    bytes(SOI, ORIENTATION_6, SCAN), 'the smallest readable one');
});

// Real photos: Chromium draws a 4x2 picture, the test gives it a phone's Exif, and Chromium decodes the photo as
// the phone left it and as the page would send it. Orientation 6 turns it to 2x4 in both.
let browser;
after(() => browser && browser.close());
test('JPEG: Chromium turns the cleaned photo as the phone meant it', async () => {
  const { chromium } = require('playwright-core');
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
    args: ['--disable-dev-shm-usage', ...(process.getuid() === 0 ? ['--no-sandbox'] : [])] });
  const page = await browser.newPage();
  const drawn = Buffer.from(await page.evaluate(() => {
    const c = Object.assign(document.createElement('canvas'), { width: 4, height: 2 });
    const g = c.getContext('2d');
    g.fillStyle = '#c00';
    g.fillRect(0, 0, 2, 2);
    g.fillStyle = '#00c';
    g.fillRect(2, 0, 2, 2);
    return c.toDataURL('image/jpeg').split(',')[1];
  }), 'base64');
  const size = (jpeg) => page.evaluate(async (b64) => {
    const img = new Image();
    img.src = 'data:image/jpeg;base64,' + b64;
    await img.decode();
    return [img.naturalWidth, img.naturalHeight];
  }, jpeg.toString('base64'));
  const withExif = (v, le) => bytes(SOI, exifSegment(phoneExif(v, le)), drawn.subarray(2));
  assert.deepEqual(await size(drawn), [4, 2]);
  for (const le of [true, false]) {
    assert.deepEqual(await size(withExif(6, le)), [2, 4], 'the phone\'s photo');
    const cleaned = await strip(withExif(6, le));
    assert.ok(!cleaned.includes('PhoneMaker'));
    assert.deepEqual(await size(cleaned), [2, 4], 'the photo as sent');
    assert.deepEqual(await size(await strip(withExif(1, le))), [4, 2]);
  }
});

test('JPEG: Exif, XMP, IPTC and comments go; JFIF, tables, colour profile and image data stay', async () => {
  const photo = bytes(Buffer.from([0xff, 0xd8]), jpegSegment(0xe0, 'JFIF\0\x01\x02'),
    jpegSegment(0xe1, 'Exif\0\0GPS here'), jpegSegment(0xe1, 'xmp packet: taken at home'),
    jpegSegment(0xe2, 'ICC_PROFILE\0colour'), jpegSegment(0xed, 'Photoshop 3.0\0iptc byline'),
    jpegSegment(0xfe, 'owner comment'), jpegSegment(0xdb, 'tables'),
    Buffer.from([0xff, 0xda, 0, 2]), 'scan \xff\x00 data', Buffer.from([0xff, 0xd9]));
  const out = await strip(photo);
  const want = bytes(Buffer.from([0xff, 0xd8]), jpegSegment(0xe0, 'JFIF\0\x01\x02'),
    jpegSegment(0xe2, 'ICC_PROFILE\0colour'), jpegSegment(0xdb, 'tables'),
    Buffer.from([0xff, 0xda, 0, 2]), 'scan \xff\x00 data', Buffer.from([0xff, 0xd9]));
  assert.deepEqual(out, want);
});

test('PNG: eXIf, text chunks and tIME go; the rest stays in order', async () => {
  const ihdr = pngChunk('IHDR', 'x'.repeat(13));
  const idat = pngChunk('IDAT', 'pixels');
  const iend = pngChunk('IEND', '');
  const sig = Buffer.from('89504e470d0a1a0a', 'hex');
  // An orientation in eXIf goes with the chunk: PNG handling is as it was.
  const photo = bytes(sig, ihdr, pngChunk('eXIf', phoneExif(6, false).subarray(6)), pngChunk('tEXt', 'Author\0me'), idat,
    pngChunk('iTXt', 'XML:com.adobe.xmp\0\0\0\0\0where'), pngChunk('tIME', '1234567'), iend);
  assert.deepEqual(await strip(photo), bytes(sig, ihdr, idat, iend));
});

test('WebP: EXIF and XMP chunks go, their flags are cleared and the RIFF size follows', async () => {
  const vp8x = (flags) => webpChunk('VP8X', bytes(Buffer.from([flags, 0, 0, 0]), 'dimens'));
  const image = webpChunk('VP8 ', 'frame');
  const out = await strip(webpFile(vp8x(0x0c | 0x10), image, webpChunk('EXIF', 'gps!'), webpChunk('XMP ', 'home')));
  assert.deepEqual(out, webpFile(vp8x(0x10), image));
});

test('damaged photos are refused; other files pass unchanged', async () => {
  const jpeg = bytes(Buffer.from([0xff, 0xd8]), jpegSegment(0xe1, 'Exif\0\0GPS here'), Buffer.from([0xff, 0xda, 0, 2]));
  for (let n = 3; n < 14; n++) assert.equal(await strip(jpeg.subarray(0, n)), null, `JPEG cut at ${n}`);
  assert.equal(await strip(bytes(Buffer.from([0xff, 0xd8, 0xff]), 'not a segment')), null);
  assert.equal(await strip(bytes(Buffer.from([0xff, 0xd8]), jpegSegment(0xdb, 'tables'), 'no marker')), null);
  const png = bytes(Buffer.from('89504e470d0a1a0a', 'hex'), pngChunk('tEXt', 'a\0b'), pngChunk('IEND', ''));
  assert.equal(await strip(png.subarray(0, png.length - 1)), null, 'PNG without a whole IEND');
  assert.equal(await strip(bytes(Buffer.from('89504e470d0a1a0a', 'hex'), u32(0xffffff00), 'tEXt')), null);
  const webp = webpFile(webpChunk('EXIF', 'gps!'));
  assert.equal(await strip(webp.subarray(0, webp.length - 2)), null, 'WebP chunk past the end');
  for (const other of ['%PDF-1.7 author', 'ID3\x04 tags', 'RIFF\0\0\0\0WAVEfmt ']) {
    assert.deepEqual(await strip(Buffer.from(other, 'latin1')), Buffer.from(other, 'latin1'));
  }
});
