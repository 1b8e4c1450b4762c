#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/err.h"
#include "intake/sniff.h"
#include "proto/report.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sample {
	const char *what;
	const uint8_t *d;
	size_t len;
	size_t min; /* shorter prefixes are not enough to tell */
	const char *type;
};

#define S(what, min, type, ...)                                                                              \
	{                                                                                                    \
		what, (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}), min, type      \
	}

/* The first bytes of real files of each kind (as written by common encoders, cameras and phones). */
static const struct sample samples[] = {
        S("JPEG/JFIF", 3, "image/jpeg", 0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00, 0x01,
          0x01),
        S("JPEG/Exif", 3, "image/jpeg", 0xff, 0xd8, 0xff, 0xe1, 0x2f, 0xfe, 'E', 'x', 'i', 'f', 0x00, 0x00),
        S("PNG", 8, "image/png", 0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 'I',
          'H', 'D', 'R'),
        S("GIF89a", 6, "image/gif", 'G', 'I', 'F', '8', '9', 'a', 0x01, 0x00, 0x01, 0x00),
        S("GIF87a", 6, "image/gif", 'G', 'I', 'F', '8', '7', 'a', 0x01, 0x00),
        S("WebP lossy", 16, "image/webp", 'R', 'I', 'F', 'F', 0x24, 0x00, 0x00, 0x00, 'W', 'E', 'B', 'P', 'V',
          'P', '8', ' ', 0x18, 0x00, 0x00, 0x00),
        S("WebP lossless", 16, "image/webp", 'R', 'I', 'F', 'F', 0x1a, 0x00, 0x00, 0x00, 'W', 'E', 'B', 'P',
          'V', 'P', '8', 'L', 0x0d, 0x00, 0x00, 0x00),
        S("WebP extended", 16, "image/webp", 'R', 'I', 'F', 'F', 0x40, 0x00, 0x00, 0x00, 'W', 'E', 'B', 'P',
          'V', 'P', '8', 'X', 0x0a, 0x00, 0x00, 0x00),
        S("PDF", 6, "application/pdf", '%', 'P', 'D', 'F', '-', '1', '.', '7', '\n', '%', 0xe2, 0xe3),
        S("MP3 ID3v2.4", 10, "audio/mpeg", 'I', 'D', '3', 0x04, 0x00, 0x00, 0x00, 0x00, 0x02, 0x01, 'T', 'S'),
        S("MP3 ID3v2.3", 10, "audio/mpeg", 'I', 'D', '3', 0x03, 0x00, 0x00, 0x00, 0x00, 0x1f, 0x76),
        S("MP3 frame", 4, "audio/mpeg", 0xff, 0xfb, 0x90, 0x64, 0x00, 0x00),
        S("MPEG-2 layer III frame", 4, "audio/mpeg", 0xff, 0xf3, 0x48, 0xc4),
        S("MP4 isom", 12, "video/mp4", 0x00, 0x00, 0x00, 0x20, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm', 0x00,
          0x00, 0x02, 0x00, 'i', 's', 'o', 'm', 'i', 's', 'o', '2', 'a', 'v', 'c', '1', 'm', 'p', '4', '1'),
        S("MP4 Android mp42", 12, "video/mp4", 0x00, 0x00, 0x00, 0x18, 'f', 't', 'y', 'p', 'm', 'p', '4', '2',
          0x00, 0x00, 0x00, 0x00, 'i', 's', 'o', 'm', 'm', 'p', '4', '2'),
        S("3GP", 12, "video/mp4", 0x00, 0x00, 0x00, 0x14, 'f', 't', 'y', 'p', '3', 'g', 'p', '4', 0x00, 0x00,
          0x00, 0x00, '3', 'g', 'p', '4'),
        S("M4A", 12, "audio/mp4", 0x00, 0x00, 0x00, 0x20, 'f', 't', 'y', 'p', 'M', '4', 'A', ' ', 0x00, 0x00,
          0x00, 0x00, 'M', '4', 'A', ' ', 'm', 'p', '4', '2', 'i', 's', 'o', 'm', 0x00, 0x00, 0x00, 0x00),
        S("QuickTime (iPhone)", 12, "video/quicktime", 0x00, 0x00, 0x00, 0x14, 'f', 't', 'y', 'p', 'q', 't',
          ' ', ' ', 0x00, 0x00, 0x00, 0x00, 'q', 't', ' ', ' '),
        S("Ogg", 5, "audio/ogg", 'O', 'g', 'g', 'S', 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
          0x00),
        S("WAV", 12, "audio/wav", 'R', 'I', 'F', 'F', 0x24, 0x08, 0x00, 0x00, 'W', 'A', 'V', 'E', 'f', 'm',
          't', ' '),
        S("WebM (MediaRecorder)", 28, "video/webm", 0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01,
          0x42, 0xf7, 0x81, 0x01, 0x42, 0xf2, 0x81, 0x04, 0x42, 0xf3, 0x81, 0x08, 0x42, 0x82, 0x84, 'w', 'e',
          'b', 'm', 0x42, 0x87, 0x81, 0x04, 0x42, 0x85, 0x81, 0x02, 0x18, 0x53, 0x80, 0x67),
        S("WebM, DocType first, padded", 13, "video/webm", 0x1a, 0x45, 0xdf, 0xa3, 0x88, 0x42, 0x82, 0x85,
          'w', 'e', 'b', 'm', 0x00),
};

/* Things that are not (or not exactly) an accepted type. */
static const struct sample lookalikes[] = {
        S("AVI", 0, NULL, 'R', 'I', 'F', 'F', 0x24, 0x00, 0x00, 0x00, 'A', 'V', 'I', ' ', 'L', 'I', 'S', 'T'),
        S("RIFF WEBP without VP8 chunk", 0, NULL, 'R', 'I', 'F', 'F', 0x24, 0x00, 0x00, 0x00, 'W', 'E', 'B',
          'P', 'A', 'B', 'C', 'D'),
        S("RIFX WAVE", 0, NULL, 'R', 'I', 'F', 'X', 0x24, 0x00, 0x00, 0x00, 'W', 'A', 'V', 'E', 'f', 'm', 't',
          ' '),
        S("Matroska", 0, NULL, 0x1a, 0x45, 0xdf, 0xa3, 0xa3, 0x42, 0x86, 0x81, 0x01, 0x42, 0x82, 0x88, 'm',
          'a', 't', 'r', 'o', 's', 'k', 'a'),
        S("EBML without DocType", 0, NULL, 0x1a, 0x45, 0xdf, 0xa3, 0x84, 0x42, 0x86, 0x81, 0x01, 0x18, 0x53,
          0x80, 0x67),
        S("EBML garbage", 0, NULL, 0x1a, 0x45, 0xdf, 0xa3, 0x00, 0x00, 0x00, 0x00),
        S("EBML DocType past its header", 0, NULL, 0x1a, 0x45, 0xdf, 0xa3, 0x83, 0x42, 0x86, 0x81, 0x42, 0x82,
          0x84, 'w', 'e', 'b', 'm'),
        S("HEIC photo", 0, NULL, 0x00, 0x00, 0x00, 0x18, 'f', 't', 'y', 'p', 'h', 'e', 'i', 'c', 0x00, 0x00,
          0x00, 0x00, 'm', 'i', 'f', '1', 'h', 'e', 'i', 'c'),
        S("AVIF photo", 0, NULL, 0x00, 0x00, 0x00, 0x1c, 'f', 't', 'y', 'p', 'a', 'v', 'i', 'f', 0x00, 0x00,
          0x00, 0x00),
        S("ftyp box too small", 0, NULL, 0x00, 0x00, 0x00, 0x08, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm'),
        S("ftyp box huge", 0, NULL, 0x7f, 0x00, 0x00, 0x00, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm'),
        S("ftyp binary brand", 0, NULL, 0x00, 0x00, 0x00, 0x10, 'f', 't', 'y', 'p', 0x00, 0x01, 0x02, 0x03, 0,
          0, 0, 0),
        S("ADTS AAC", 0, NULL, 0xff, 0xf1, 0x50, 0x80, 0x02, 0x1f, 0xfc),
        S("MPEG frame, bad bitrate", 0, NULL, 0xff, 0xfb, 0xf0, 0x64),
        S("MPEG frame, bad sample rate", 0, NULL, 0xff, 0xfb, 0x9c, 0x64),
        S("MPEG frame, reserved version", 0, NULL, 0xff, 0xeb, 0x90, 0x64),
        S("ID3 version 5", 0, NULL, 'I', 'D', '3', 0x05, 0x00, 0x00, 0x00, 0x00, 0x02, 0x01),
        S("ID3 bad size", 0, NULL, 'I', 'D', '3', 0x03, 0x00, 0x00, 0x80, 0x00, 0x02, 0x01),
        S("PDF without version", 0, NULL, '%', 'P', 'D', 'F', '-', 'x'),
        S("PDF no dash", 0, NULL, '%', 'P', 'D', 'F', '1', '.', '4'),
        S("GIF88a", 0, NULL, 'G', 'I', 'F', '8', '8', 'a', 0x01, 0x00),
        S("PNG off by one", 0, NULL, 0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0b),
        S("Ogg version 1", 0, NULL, 'O', 'g', 'g', 'S', 0x01, 0x02),
        S("JPEG missing a marker byte", 0, NULL, 0xff, 0xd8, 0x00, 0xe0),
        S("ZIP / DOCX", 0, NULL, 'P', 'K', 0x03, 0x04, 0x14, 0x00, 0x06, 0x00),
        S("Windows executable", 0, NULL, 'M', 'Z', 0x90, 0x00, 0x03, 0x00),
        S("ELF", 0, NULL, 0x7f, 'E', 'L', 'F', 0x02, 0x01),
        S("HTML", 0, NULL, '<', 'h', 't', 'm', 'l', '>'),
        S("SVG", 0, NULL, '<', 's', 'v', 'g', ' ', 'x', 'm', 'l', 'n', 's'),
        S("text", 0, NULL, 'h', 'e', 'l', 'l', 'o', '\n'),
        S("zeros", 0, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
        S("0xff run", 0, NULL, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
};

static void expect_type(const char *what, const uint8_t *d, size_t len, const char *want)
{
	const char *got = sniff_content_type(d, len);

	if (got && want ? strcmp(got, want) != 0 : got != want)
		fail_msg("%s (%zu bytes): got %s, want %s", what, len, got ? got : "NULL",
		         want ? want : "NULL");
}

static void test_each_type(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		expect_type(samples[i].what, samples[i].d, samples[i].len, samples[i].type);
		/* The minimum is enough, and more data behind it changes nothing. */
		expect_type(samples[i].what, samples[i].d, samples[i].min, samples[i].type);
	}
}

static void test_truncated(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
		for (size_t n = 0; n < samples[i].min; n++)
			expect_type(samples[i].what, samples[i].d, n, NULL);
	expect_type("NULL", NULL, 0, NULL);
	expect_type("NULL with length", NULL, 16, NULL);
}

static void test_lookalikes(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(lookalikes) / sizeof(lookalikes[0]); i++)
		expect_type(lookalikes[i].what, lookalikes[i].d, lookalikes[i].len, NULL);
}

/* Every answer is a type report_validate accepts for an attachment. */
static void test_types_are_accepted(void **state)
{
	(void)state;
	char dir[1024], field[REPORT_FIELD_MAX];
	struct report_limits lim = report_limits_default();
	struct taxonomy *tax;
	int err;

	snprintf(dir, sizeof(dir), "%s/proto/taxonomy", getenv("TIP_SOURCE_DIR"));
	assert_non_null(tax = tax_load(dir, &err));
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		struct tu_report s;

		tu_report_init(&s);
		s.attachment.content_type = (char *)sniff_content_type(samples[i].d, samples[i].len);
		assert_int_equal(report_validate(&s.r, tax, &lim, field), TIP_OK);
	}
	tax_free(tax);
}

/* Only the first SNIFF_MAX_READ bytes matter: a huge buffer costs nothing and a valid prefix decides. */
static void test_reads_only_a_prefix(void **state)
{
	(void)state;
	size_t n = 64u << 20;
	uint8_t *big = malloc(n);

	assert_non_null(big);
	memset(big, 0xa5, n);
	memcpy(big, samples[0].d, samples[0].len);
	expect_type("large JPEG", big, n, "image/jpeg");
	/* A WebM header whose DocType lies past what is read is refused. */
	memcpy(big, (const uint8_t[]){0x1a, 0x45, 0xdf, 0xa3, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x60},
	       12);
	memset(big + 12, 0xec, 80); /* an EBML Void element id, then sizes */
	expect_type("EBML with padding", big, n, NULL);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_each_type),           cmocka_unit_test(test_truncated),
	        cmocka_unit_test(test_lookalikes),          cmocka_unit_test(test_types_are_accepted),
	        cmocka_unit_test(test_reads_only_a_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
