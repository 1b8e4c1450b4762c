/*
 * The JSON body of POST /api/v1/reports turned into a Tip__Report.
 *
 * The JSON mirrors proto/report.proto with the same snake_case names, minus what
 * the client must not set: "version" and "query_hash" (set by the server) and
 * "activity.attachments" (added from the multipart parts with
 * jr_add_attachment). Parsing is strict: no duplicate keys, no \u0000, valid
 * UTF-8, nesting at most JR_MAX_DEPTH, every key known, every value of the
 * schema's JSON type (string, true/false, array, object; null is never
 * accepted). Arrays longer than their limit are refused before any element is
 * looked at. Absent fields are empty; "reporter" and "activity" are required,
 * "persons" and "umbrella" optional. Bodies over JR_MAX_BODY are refused.
 *
 * Ownership: a struct jr_report owns the Tip__Report, every string, array and
 * attachment it points to, in one arena that jr_free wipes and releases. The
 * input buffer is not referenced after jr_parse returns. Arena use is capped at
 * a fixed multiple of the body length plus the attachments, which are capped by
 * report_limits.
 *
 * Errors: every function that can fail fills a struct jr_error whose field is a
 * path such as "persons[2].aliases[0]" or "activity.colour" (the same strings
 * report_validate uses), or "" when the body as a whole is wrong. Codes:
 *   TIP_EDECODE    not well-formed JSON: syntax, invalid UTF-8, \u0000,
 *                  duplicate key, nesting too deep, empty body;
 *   TIP_EINVAL     well-formed JSON that does not fit the schema: not an object,
 *                  unknown key, wrong type, missing reporter or activity; from
 *                  jr_finish also what report_validate calls missing/malformed;
 *   TIP_EOVERSIZE  too many items (an array, attachments), too many bytes;
 *   TIP_ERANGE     (jr_add_attachment, jr_finish) a value outside its set: no
 *                  content type, unknown taxonomy or region code;
 *   TIP_EVERSION   (jr_finish) from report_validate;
 *   TIP_ENOMEM.
 * Field paths longer than REPORT_FIELD_MAX - 1 bytes are cut at a UTF-8
 * character boundary; control characters in a key are shown as '?'.
 * err may be NULL when the caller does not want the details.
 */
#ifndef TIP_INTAKE_JSON_REPORT_H
#define TIP_INTAKE_JSON_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "proto/report.h"
#include "proto/taxonomy.h"

/* Deepest JSON nesting accepted; a valid report needs 4 (root, persons, person, aliases). */
#define JR_MAX_DEPTH 8
/* A hard ceiling under the server's configured body limit: a report's texts at their limits fit well within.
 */
#define JR_MAX_BODY (8u << 20)

struct jr_report;

struct jr_error {
	int code;                     /* TIP_E... */
	char field[REPORT_FIELD_MAX]; /* "" when the body as a whole */
	char message[128];            /* English, for the JSON error body */
};

/*
 * Parses json[0..len) (json may be NULL when len is 0) and converts it; does not
 * validate. lim gives the array caps and is kept for jr_add_attachment. NULL on
 * failure with *err filled.
 */
struct jr_report *jr_parse(const char *json, size_t len, const struct report_limits *lim,
                           struct jr_error *err);

/* The report, owned by r. Callers may read it; changing it is at their own risk. */
Tip__Report *jr_report(struct jr_report *r);

/*
 * Appends an attachment to activity.attachments: copies filename (NULL means ""),
 * content_type (from sniff_content_type; NULL is refused with TIP_ERANGE) and
 * data[0..len) into r, and computes its SHA-256. TIP_EOVERSIZE past the limits
 * given to jr_parse (count, total bytes), TIP_EINVAL for empty data, TIP_ENOMEM.
 * The filename is checked later by report_validate.
 */
int jr_add_attachment(struct jr_report *r, const char *filename, const char *content_type,
                      const uint8_t *data, size_t len, struct jr_error *err);

/*
 * Sets version to REPORT_VERSION and query_hash to the 32 bytes given, then runs
 * report_validate (which also checks taxonomy_version against t). TIP_OK or
 * report_validate's code and field.
 */
int jr_finish(struct jr_report *r, const uint8_t query_hash[REPORT_QUERY_HASH_LEN], const struct taxonomy *t,
              const struct report_limits *lim, struct jr_error *err);

/* Wipes and frees everything r owns. NULL is fine. */
void jr_free(struct jr_report *r);

#endif
