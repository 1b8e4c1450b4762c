// Removes the metadata that can identify a reporter (place and time of shooting, camera owner, comments) from
// photos before upload: JPEG APP1 (Exif, XMP), APP13 (IPTC) and comments; PNG eXIf, tEXt, zTXt, iTXt and tIME;
// WebP EXIF and XMP chunks. Image data and colour information are kept. Other files are returned unchanged.
// Returns null for a photo whose structure cannot be followed, so it is never sent with its metadata by mistake.
// A JPEG's Exif orientation (how the phone was held) is the one thing kept: it is written back in an Exif segment
// of fixed layout made here, which holds that tag alone, so that portrait photos do not arrive sideways.

const be16 = (b, i) => (b[i] << 8) | b[i + 1];
const be32 = (b, i) => ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
const le32 = (b, i) => (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
const ascii = (b, i, n) => String.fromCharCode(...b.subarray(i, i + n));

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// The Orientation tag (0x0112) in IFD0 of an Exif APP1 payload b[start, end): 2 to 8, or 0 when it is absent,
// 1 (the default), out of range or unreadable. Nothing else of the segment is looked at.
function exifOrientation(b, start, end) {
  const tiff = start + 6;
  const n = end - tiff;
  if (n < 8 || ascii(b, start, 6) !== 'Exif\0\0') return 0;
  const order = ascii(b, tiff, 2);
  if (order !== 'II' && order !== 'MM') return 0;
  const u16 = (o) => (order === 'II' ? b[tiff + o] | (b[tiff + o + 1] << 8) : be16(b, tiff + o));
  const u32 = (o) => (order === 'II' ? le32(b, tiff + o) : be32(b, tiff + o));
  const ifd = u32(4);
  if (u16(2) !== 42 || ifd < 8 || ifd + 2 > n) return 0;
  const count = u16(ifd);
  if (ifd + 2 + 12 * count > n) return 0; // an IFD cut short: nothing in it is trusted
  for (let k = 0; k < count; k++) {
    const e = ifd + 2 + 12 * k;
    if (u16(e) === 0x0112) {
      const v = u16(e + 8); // a SHORT value sits left-justified in the entry's value field
      return u16(e + 2) === 3 && u32(e + 4) === 1 && v >= 2 && v <= 8 ? v : 0;
    }
  }
  return 0;
}

// APP1: "Exif\0\0", a big-endian TIFF header, and IFD0 with the one entry Orientation (SHORT, count 1, value v)
// and no next IFD. 36 bytes, nothing in them taken from the photo but v.
const orientationSegment = (v) => Uint8Array.of(0xff, 0xe1, 0, 34, 0x45, 0x78, 0x69, 0x66, 0, 0,
  0x4d, 0x4d, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, v, 0, 0, 0, 0, 0, 0);

function jpeg(b) {
  const keep = [b.subarray(0, 2)];
  let exifSeen = false;
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return null;
    const marker = b[i + 1];
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    if (marker === 0xd9) return concat([...keep, b.subarray(i)]);
    const end = i + 2 + be16(b, i + 2);
    if (end > b.length) return null;
    // Start of scan: the rest is image data.
    if (marker === 0xda) return concat([...keep, b.subarray(i)]);
    if (marker === 0xe1 && !exifSeen && end - i >= 10 && ascii(b, i + 4, 6) === 'Exif\0\0') {
      // Readers take the first Exif segment; its orientation goes back in its place.
      exifSeen = true;
      const v = exifOrientation(b, i + 4, end);
      if (v) keep.push(orientationSegment(v));
    } else if (marker !== 0xe1 && marker !== 0xed && marker !== 0xfe) keep.push(b.subarray(i, end));
    i = end;
  }
  return null;
}

function png(b) {
  const drop = new Set(['eXIf', 'tEXt', 'zTXt', 'iTXt', 'tIME']);
  const keep = [b.subarray(0, 8)];
  for (let i = 8; i + 12 <= b.length;) {
    const end = i + 12 + be32(b, i);
    if (end > b.length) return null;
    const type = ascii(b, i + 4, 4);
    if (!drop.has(type)) keep.push(b.subarray(i, end));
    if (type === 'IEND') return concat(keep);
    i = end;
  }
  return null;
}

function webp(b) {
  const keep = [];
  let vp8x = null;
  for (let i = 12; i < b.length;) {
    if (i + 8 > b.length) return null;
    const end = i + 8 + le32(b, i + 4) + (le32(b, i + 4) & 1);
    if (end > b.length) return null;
    const type = ascii(b, i, 4);
    if (type !== 'EXIF' && type !== 'XMP ') {
      const chunk = b.slice(i, end);
      if (type === 'VP8X') vp8x = chunk;
      keep.push(chunk);
    }
    i = end;
  }
  if (vp8x) vp8x[8] &= ~0x0c; // the "has Exif" and "has XMP" flags
  const out = concat([b.subarray(0, 12), ...keep]);
  const size = out.length - 8;
  out.set([size & 0xff, (size >>> 8) & 0xff, (size >>> 16) & 0xff, size >>> 24], 4);
  return out;
}

export function stripMetadata(b) {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return jpeg(b);
  if (b.length >= 8 && be32(b, 0) === 0x89504e47 && be32(b, 4) === 0x0d0a1a0a) return png(b);
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WEBP') return webp(b);
  return b;
}
