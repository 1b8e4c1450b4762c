// The page's removal of photo metadata (intake/web/strip.js), run in node on photos' skeletons: what identifies
// the reporter goes, the image stays, and a photo whose structure cannot be followed is refused, not sent as is.
'use strict';
const { test } = require('node:test');
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
  const photo = bytes(sig, ihdr, pngChunk('eXIf', 'MM\0*gps'), pngChunk('tEXt', 'Author\0me'), idat,
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
