#include "intake/sniff.h"

#include <stdbool.h>
#include <string.h>

static bool starts(const uint8_t *d, size_t len, const char *magic, size_t n)
{
	return len >= n && memcmp(d, magic, n) == 0;
}

static uint32_t be32(const uint8_t *d)
{
	return (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
}

/* RIFF containers: the form type says what is inside; AVI and the rest are refused. */
static const char *riff(const uint8_t *d, size_t len)
{
	if (len >= 12 && memcmp(d + 8, "WAVE", 4) == 0)
		return "audio/wav";
	/* WebP: the first chunk is VP8 (lossy), VP8L (lossless) or VP8X (extended). */
	if (len >= 16 && memcmp(d + 8, "WEBPVP8", 7) == 0 && (d[15] == ' ' || d[15] == 'L' || d[15] == 'X'))
		return "image/webp";
	return NULL;
}

/* ISO base media files start with an ftyp box: size, "ftyp", major brand, minor version, compatible brands.
 */
static const char *ftyp(const uint8_t *d)
{
	/* Still images in the same container (HEIF, AVIF, JPEG 2000, camera raw) are not video. */
	static const char *const image_brands[] = {"heic", "heix", "hevc", "hevx", "heim", "heis",
	                                           "hevm", "hevs", "mif1", "msf1", "avif", "avis",
	                                           "avio", "crx ", "jp2 ", "jpx ", "jpm "};
	uint32_t size = be32(d);
	const uint8_t *brand = d + 8;

	if (size < 16 || size > 4096 || size % 4 != 0)
		return NULL;
	for (int i = 0; i < 4; i++)
		if (brand[i] < 0x20 || brand[i] > 0x7e)
			return NULL;
	if (memcmp(brand, "M4A ", 4) == 0 || memcmp(brand, "M4B ", 4) == 0)
		return "audio/mp4";
	if (memcmp(brand, "qt  ", 4) == 0)
		return "video/quicktime";
	for (size_t i = 0; i < sizeof(image_brands) / sizeof(image_brands[0]); i++)
		if (memcmp(brand, image_brands[i], 4) == 0)
			return NULL;
	return "video/mp4";
}

/* An EBML variable-length integer; with keep_marker the length bits stay in (element IDs are written so). */
static bool vint(const uint8_t *d, size_t n, size_t *pos, uint64_t *val, bool keep_marker)
{
	unsigned l = 1;
	uint64_t v;

	if (*pos >= n || d[*pos] == 0)
		return false;
	while (!(d[*pos] & (0x80u >> (l - 1))))
		l++;
	if (l > n - *pos)
		return false;
	v = keep_marker ? d[*pos] : d[*pos] & (0xffu >> l);
	for (unsigned i = 1; i < l; i++)
		v = v << 8 | d[*pos + i];
	*pos += l;
	*val = v;
	return true;
}

/* WebM is Matroska with DocType "webm" in the EBML header; other DocTypes (plain .mkv) are refused. */
static const char *ebml(const uint8_t *d, size_t len)
{
	size_t pos = 0, end;
	uint64_t id, size;

	if (len > SNIFF_MAX_READ)
		len = SNIFF_MAX_READ;
	if (!vint(d, len, &pos, &id, true) || id != 0x1a45dfa3 || !vint(d, len, &pos, &size, false))
		return NULL;
	end = size < len - pos ? pos + (size_t)size : len;
	while (pos < end) {
		if (!vint(d, end, &pos, &id, true) || !vint(d, end, &pos, &size, false) || size > end - pos)
			return NULL;
		if (id == 0x4282) {
			/* EBML strings may be padded with NULs. */
			if (size < 4 || memcmp(d + pos, "webm", 4) != 0)
				return NULL;
			for (size_t i = 4; i < size; i++)
				if (d[pos + i] != 0)
					return NULL;
			return "video/webm";
		}
		pos += (size_t)size;
	}
	return NULL;
}

/* An MPEG audio frame header (any layer): sync, no reserved version, layer, bitrate or sample rate. */
static bool mpeg_frame(const uint8_t *d, size_t len)
{
	if (len < 4 || d[0] != 0xff || (d[1] & 0xe0) != 0xe0)
		return false;
	if (((d[1] >> 3) & 3) == 1 || ((d[1] >> 1) & 3) == 0) /* reserved version; layer 0 is ADTS (AAC) */
		return false;
	if ((d[2] >> 4) == 0xf || ((d[2] >> 2) & 3) == 3 || (d[3] & 3) == 2)
		return false;
	return true;
}

/* ID3v2 tag in front of MPEG audio: version 2 to 4, sync-safe size bytes. */
static bool id3(const uint8_t *d, size_t len)
{
	if (!starts(d, len, "ID3", 3) || len < 10 || d[3] < 2 || d[3] > 4 || d[4] == 0xff)
		return false;
	for (int i = 6; i < 10; i++)
		if (d[i] & 0x80)
			return false;
	return true;
}

const char *sniff_content_type(const uint8_t *data, size_t len)
{
	if (!data)
		return NULL;
	if (starts(data, len, "\xff\xd8\xff", 3))
		return "image/jpeg";
	if (starts(data, len, "\x89PNG\r\n\x1a\n", 8))
		return "image/png";
	if (starts(data, len, "GIF87a", 6) || starts(data, len, "GIF89a", 6))
		return "image/gif";
	if (starts(data, len, "RIFF", 4))
		return riff(data, len);
	if (starts(data, len, "%PDF-", 5) && len >= 6 && data[5] >= '0' && data[5] <= '9')
		return "application/pdf";
	if (len >= 12 && memcmp(data + 4, "ftyp", 4) == 0)
		return ftyp(data);
	if (starts(data, len, "OggS", 4) && len >= 5 && data[4] == 0)
		return "audio/ogg";
	if (starts(data, len, "\x1a\x45\xdf\xa3", 4))
		return ebml(data, len);
	if (id3(data, len) || mpeg_frame(data, len))
		return "audio/mpeg";
	return NULL;
}
