#include "internal/match.h"

#include "common/err.h"
#include "common/utf8.h"
#include "proto/hmac.h"

#include <stdlib.h>
#include <string.h>

struct match_key {
	struct hmac_key h;
};

static const char *const kind_names[MATCH_KINDS] = {"id_number", "phone", "name", "official", "place"};

const char *match_kind_name(enum match_kind kind)
{
	return (unsigned)kind < MATCH_KINDS ? kind_names[kind] : NULL;
}

/*
 * Code points beyond ASCII that a name or place loses besides white space: C1 controls and format
 * characters (invisible, yet they make two strings differ), and the separators people put between
 * the parts of a transliterated name or around a place: middle dots in their many encodings,
 * hyphens and dashes, quotes and apostrophes, CJK brackets and stops. Sorted, for a binary search.
 */
static const struct {
	uint32_t lo, hi;
} dropped_ranges[] = {
        {0x0080, 0x009f}, /* C1 controls */
        {0x00ad, 0x00ad}, /* soft hyphen */
        {0x00b4, 0x00b4}, /* acute accent, written as an apostrophe */
        {0x00b7, 0x00b7}, /* middle dot: 阿卜杜·热合曼 */
        {0x02b9, 0x02bc}, /* modifier primes and apostrophes */
        {0x0387, 0x0387}, /* Greek ano teleia, a middle dot look-alike */
        {0x16eb, 0x16eb}, /* runic single punctuation (a middle dot) */
        {0x180e, 0x180e}, /* Mongolian vowel separator */
        {0x200b, 0x200f}, /* zero-width space, joiners, direction marks */
        {0x2010, 0x2015}, /* hyphens and dashes */
        {0x2018, 0x201f}, /* quotation marks */
        {0x2022, 0x2022}, /* bullet */
        {0x2024, 0x2027}, /* leaders, ellipsis, hyphenation point */
        {0x202a, 0x202e}, /* bidirectional embeddings */
        {0x2032, 0x2033}, /* primes */
        {0x2060, 0x2064}, /* word joiner, invisible operators */
        {0x2066, 0x206f}, /* bidirectional isolates, deprecated format characters */
        {0x2212, 0x2212}, /* minus sign */
        {0x2219, 0x2219}, /* bullet operator */
        {0x22c5, 0x22c5}, /* dot operator */
        {0x2e31, 0x2e31}, /* word separator middle dot */
        {0x3001, 0x3003}, /* ideographic comma, full stop, ditto mark */
        {0x3008, 0x3011}, /* CJK angle, corner and lenticular brackets */
        {0x3014, 0x301f}, /* CJK tortoise-shell brackets, wave dash, double primes */
        {0x30a0, 0x30a0}, /* katakana double hyphen */
        {0x30fb, 0x30fb}, /* katakana middle dot: 阿卜杜・热合曼 */
        {0x318d, 0x318d}, /* Hangul araea, used as a middle dot */
        {0xa78f, 0xa78f}, /* Latin sinological dot */
        {0xfe50, 0xfe6b}, /* small form variants of punctuation */
        {0xfeff, 0xfeff}, /* byte order mark, zero-width no-break space */
        {0xff5f, 0xff65}, /* full-width white parentheses, half-width CJK stops and middle dot */
        {0xfff9, 0xfffb}, /* interlinear annotation marks */
};

static int dropped(uint32_t cp)
{
	size_t lo = 0, hi = sizeof(dropped_ranges) / sizeof(dropped_ranges[0]);

	if (cp < 0x80) /* ASCII: letters and digits stay, everything else goes */
		return !((cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z'));
	if (utf8_is_space(cp))
		return 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cp < dropped_ranges[mid].lo)
			hi = mid;
		else if (cp > dropped_ranges[mid].hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

/* Lower case of the Latin letters pinyin and transliterated names use; anything else as it is. */
static uint32_t lower(uint32_t cp)
{
	if ((cp >= 'A' && cp <= 'Z') || (cp >= 0xc0 && cp <= 0xde && cp != 0xd7))
		return cp + 0x20;
	if (cp < 0x100 || cp > 0x1dc)
		return cp;
	if (cp == 0x130) /* capital I with dot: its lower case is i and a combining dot */
		return 'i';
	if (cp == 0x178)
		return 0xff;
	/* Latin Extended-A and the pinyin letters with caron: capital and small alternate. */
	if ((cp <= 0x12f || (cp >= 0x132 && cp <= 0x137) || (cp >= 0x14a && cp <= 0x177)) && cp % 2 == 0)
		return cp + 1;
	if (((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17e) || (cp >= 0x1cd && cp <= 0x1dc)) &&
	    cp % 2 == 1)
		return cp + 1;
	return cp;
}

/*
 * The common pass: decode, full-width ASCII to ASCII, then keep digits only (digits_only) or drop
 * what dropped() says and lower-case the rest. Each code point's output is at most as long as its
 * input, so the result never outgrows the input.
 */
static int fold(const char *in, size_t len, int digits_only, char *out, size_t cap, size_t *out_len)
{
	const uint8_t *p = (const uint8_t *)in;
	size_t i = 0, o = 0;

	*out_len = 0;
	if (cap == 0)
		return TIP_EOVERSIZE;
	out[0] = '\0';
	while (i < len) {
		uint8_t u[UTF8_MAX];
		uint32_t cp;
		size_t n = utf8_next(p + i, len - i, &cp), m;

		if (n == 0) {
			out[0] = '\0';
			return TIP_EDECODE;
		}
		i += n;
		if (cp >= 0xff01 && cp <= 0xff5e) /* full-width ASCII */
			cp -= 0xfee0;
		if (digits_only ? !(cp >= '0' && cp <= '9') : dropped(cp))
			continue;
		m = utf8_put(lower(cp), u);
		if (o + m >= cap) {
			out[0] = '\0';
			return TIP_EOVERSIZE;
		}
		memcpy(out + o, u, m);
		o += m;
	}
	out[o] = '\0';
	*out_len = o;
	return TIP_OK;
}

static int all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* 18 characters (the last a check digit or X) or an old 15-digit number; folded as a name first. */
static int id_number(char *s, size_t *len)
{
	if (*len == 18 && all_digits(s, 17) && (all_digits(s + 17, 1) || s[17] == 'x')) {
		if (s[17] == 'x')
			s[17] = 'X';
		return TIP_OK;
	}
	return *len == 15 && all_digits(s, 15) ? TIP_OK : TIP_EFORMAT;
}

/* Digits only; the country code before an 11-digit mobile number dropped. */
static int phone(char *s, size_t *len)
{
	size_t drop = 0;

	if (*len == 13 && memcmp(s, "86", 2) == 0 && s[2] == '1')
		drop = 2;
	else if (*len == 15 && memcmp(s, "0086", 4) == 0 && s[4] == '1')
		drop = 4;
	memmove(s, s + drop, *len - drop + 1);
	*len -= drop;
	return *len >= MATCH_PHONE_MIN ? TIP_OK : TIP_EFORMAT;
}

int match_normalize(enum match_kind kind, const char *in, size_t len, char *out, size_t cap, size_t *out_len)
{
	int rc;

	if ((unsigned)kind >= MATCH_KINDS)
		return TIP_EINVAL;
	if ((rc = fold(in, len, kind == MATCH_PHONE, out, cap, out_len)) != TIP_OK)
		return rc;
	if (kind == MATCH_ID_NUMBER)
		rc = id_number(out, out_len);
	else if (kind == MATCH_PHONE)
		rc = phone(out, out_len);
	if (rc != TIP_OK) {
		out[0] = '\0';
		*out_len = 0;
	}
	return rc;
}

struct match_key *match_key_new(const uint8_t secret[MATCH_KEY_LEN])
{
	struct match_key *k = calloc(1, sizeof(*k));

	if (k)
		hmac_key_init(&k->h, secret, MATCH_KEY_LEN);
	return k;
}

void match_key_free(struct match_key *k)
{
	if (!k)
		return;
	hmac_key_wipe(&k->h);
	free(k);
}

void match_digest(const struct match_key *k, enum match_kind kind, const char *norm, size_t len,
                  uint8_t out[MATCH_DIGEST_LEN])
{
	const char *name = match_kind_name(kind);

	/* The kind's name and its NUL: no normalised value holds a NUL, so no two inputs share a message. */
	hmac_sha256(&k->h, (const uint8_t *)name, strlen(name) + 1, (const uint8_t *)norm, len, out);
}

int match_key_of(const struct match_key *k, enum match_kind kind, const char *s,
                 uint8_t out[MATCH_DIGEST_LEN])
{
	char small[512], *buf = small;
	size_t len = strlen(s), n;
	int rc;

	if (len >= sizeof(small) && !(buf = malloc(len + 1)))
		return TIP_ENOMEM;
	rc = match_normalize(kind, s, len, buf, len + 1, &n);
	if (rc == TIP_OK && n > 0)
		match_digest(k, kind, buf, n, out);
	else if (rc != TIP_EINVAL)
		rc = TIP_ENOTFOUND;
	if (buf != small)
		free(buf);
	return rc;
}
