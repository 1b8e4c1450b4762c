#include "common/http_parse.h"

#include <string.h>
#include <strings.h>

/* RFC 9110 tchar. */
static int is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Field value characters: VCHAR, SP, HTAB, obs-text. */
static int is_vchar(unsigned char c)
{
	return (c >= 0x21 && c != 0x7f) || c == ' ' || c == '\t';
}

/* Splits off the next CRLF-terminated line; NULL if a bare CR or LF, or a NUL (which would cut the
 * line short unseen), stands inside it. */
static char *next_line(char **p, char *end)
{
	char *line = *p;

	for (char *q = line; q + 1 < end; q++) {
		if (q[0] == '\r' && q[1] == '\n') {
			*q = '\0';
			*p = q + 2;
			return line;
		}
		if (q[0] == '\r' || q[0] == '\n' || q[0] == '\0')
			return NULL;
	}
	return NULL;
}

static int has_token(const char *list, const char *token)
{
	size_t n = strlen(token);

	for (const char *p = list; *p;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *start = p;

		while (*p && *p != ',')
			p++;
		const char *end = p;

		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if ((size_t)(end - start) == n && strncasecmp(start, token, n) == 0)
			return 1;
	}
	return 0;
}

static int parse_request_line(char *line, size_t max_target, struct http_head *out)
{
	char *sp1 = strchr(line, ' '), *sp2;

	if (!sp1 || sp1 == line || (size_t)(sp1 - line) > HTTP_METHOD_MAX)
		return 400;
	*sp1 = '\0';
	for (char *p = line; *p; p++)
		if (!is_tchar((unsigned char)*p))
			return 400;
	out->method_name = line;
	out->method = !strcmp(line, "GET")    ? HTTP_GET
	              : !strcmp(line, "HEAD") ? HTTP_HEAD
	              : !strcmp(line, "POST") ? HTTP_POST
	                                      : HTTP_OTHER;
	out->path = sp1 + 1;
	sp2 = strchr(out->path, ' ');
	if (!sp2)
		return 400;
	*sp2 = '\0';
	if ((size_t)(sp2 - out->path) > max_target)
		return 414;
	if (out->path[0] != '/')
		return 400;
	for (const char *p = out->path; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return 400;
	if (strcmp(sp2 + 1, "HTTP/1.1") == 0)
		out->minor = 1;
	else if (strcmp(sp2 + 1, "HTTP/1.0") == 0)
		out->minor = 0;
	else
		return strncmp(sp2 + 1, "HTTP/", 5) == 0 ? 505 : 400;
	return 0;
}

static int parse_length(const char *v, uint64_t *out)
{
	uint64_t n = 0;

	if (!*v)
		return -1;
	for (; *v; v++) {
		if (*v < '0' || *v > '9' || n > (UINT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*v - '0');
	}
	*out = n;
	return 0;
}

int http_parse_head(char *buf, size_t len, size_t max_target, struct http_head *out)
{
	char *p = buf, *end = buf + len, *line;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!(line = next_line(&p, end)))
		return 400;
	if ((rc = parse_request_line(line, max_target, out)) != 0)
		return rc;
	out->query = "";
	for (char *q = (char *)out->path; *q; q++) {
		if (*q == '?') {
			*q = '\0';
			out->query = q + 1;
			break;
		}
	}
	for (;;) {
		if (!(line = next_line(&p, end)))
			return 400;
		if (!*line)
			break; /* the empty line ends the head */
		if (out->n_headers == HTTP_MAX_HEADERS)
			return 431;
		char *colon = strchr(line, ':');

		if (!colon || colon == line)
			return 400;
		*colon = '\0';
		for (char *q = line; *q; q++)
			if (!is_tchar((unsigned char)*q))
				return 400; /* includes whitespace before the colon and obs-fold */
		char *v = colon + 1, *vend;

		while (*v == ' ' || *v == '\t')
			v++;
		vend = v + strlen(v);
		while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
			*--vend = '\0';
		for (char *q = v; *q; q++)
			if (!is_vchar((unsigned char)*q))
				return 400;
		out->headers[out->n_headers].name = line;
		out->headers[out->n_headers].value = v;
		out->n_headers++;
		if (!strcasecmp(line, "Content-Length")) {
			if (out->has_length || parse_length(v, &out->content_length) != 0)
				return 400;
			out->has_length = 1;
		} else if (!strcasecmp(line, "Transfer-Encoding")) {
			return 501;
		} else if (!strcasecmp(line, "Expect")) {
			if (strcasecmp(v, "100-continue") != 0)
				return 501;
			out->expect_continue = 1;
		}
	}
	if (p != end)
		return 400; /* bytes after the head belong to the caller, not here */
	if (out->minor == 1 && !http_head_header(out, "Host"))
		return 400;
	const char *conn = http_head_header(out, "Connection");

	out->keep_alive = out->minor == 1 ? !(conn && has_token(conn, "close"))
	                                  : (conn && has_token(conn, "keep-alive"));
	return 0;
}

const char *http_head_header(const struct http_head *h, const char *name)
{
	for (size_t i = 0; i < h->n_headers; i++)
		if (strcasecmp(h->headers[i].name, name) == 0)
			return h->headers[i].value;
	return NULL;
}

/* A qvalue (RFC 9110 12.4.2: "0" to "1" with up to three decimals) in thousandths, or -1 if malformed. */
static int qvalue(const char *s, size_t n)
{
	int q, scale = 100;

	if (n == 0 || (s[0] != '0' && s[0] != '1') || (n > 1 && s[1] != '.') || n > 5)
		return -1;
	q = (s[0] - '0') * 1000;
	for (size_t i = 2; i < n; i++, scale /= 10) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		q += (s[i] - '0') * scale;
	}
	return q <= 1000 ? q : -1;
}

/*
 * One Accept-Encoding list: sets *named to the weight given to coding (or x-<coding>) and *star to that of
 * "*", each left as it was when absent. Returns -1 if the list is malformed.
 */
static int accept_list(const char *p, const char *coding, int *named, int *star)
{
	size_t n = strlen(coding);

	for (;;) {
		const char *name, *end;
		int q = 1000;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			return 0;
		for (name = p; is_tchar((unsigned char)*p); p++)
			;
		end = p;
		if (end == name)
			return -1;
		while (*p == ' ' || *p == '\t')
			p++;
		/* Parameters: only the weight is defined for codings; others are skipped. */
		while (*p == ';') {
			const char *k, *v;

			for (p++; *p == ' ' || *p == '\t'; p++)
				;
			for (k = p; is_tchar((unsigned char)*p); p++)
				;
			if (p == k || *p != '=')
				return -1;
			for (v = ++p; is_tchar((unsigned char)*p); p++)
				;
			if (p == v)
				return -1;
			if (v - k == 2 && (k[0] == 'q' || k[0] == 'Q') &&
			    (q = qvalue(v, (size_t)(p - v))) < 0)
				return -1;
			while (*p == ' ' || *p == '\t')
				p++;
		}
		if (*p && *p != ',')
			return -1;
		size_t len = (size_t)(end - name);

		if (len == 1 && name[0] == '*')
			*star = q;
		else if ((len == n && strncasecmp(name, coding, n) == 0) ||
		         (len == n + 2 && strncasecmp(name, "x-", 2) == 0 &&
		          strncasecmp(name + 2, coding, n) == 0))
			*named = q;
	}
}

int http_accepts_encoding(const struct http_head *h, const char *coding)
{
	int named = -1, star = -1;

	for (size_t i = 0; i < h->n_headers; i++) {
		if (strcasecmp(h->headers[i].name, "Accept-Encoding") == 0 &&
		    accept_list(h->headers[i].value, coding, &named, &star) < 0)
			return 0;
	}
	return named > 0 || (named < 0 && star > 0);
}
