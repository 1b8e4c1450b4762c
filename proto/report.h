/*
 * Reports: validation against the taxonomy and limits, and sealing to the
 * internal zone with HPKE. Used by the intake (validate, then seal) and by the
 * internal side (open, then validate again: nothing from the diode is trusted).
 */
#ifndef TIP_PROTO_REPORT_H
#define TIP_PROTO_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "proto/hpke.h"
#include "proto/taxonomy.h"
#include "report.pb-c.h"

#define REPORT_VERSION        1
#define REPORT_QUERY_HASH_LEN 32
#define REPORT_FIELD_MAX      64 /* room for a field path such as "persons[19].phones[9]" */

/* Limits a report must respect. Text lengths count Unicode code points. */
struct report_limits {
	size_t short_text; /* names, phones, positions, units, place, time */
	size_t long_text;  /* descriptions and the narrative */
	size_t max_persons;
	size_t max_officials;
	size_t max_list; /* aliases, phones per person, categories */
	size_t max_attachments;
	size_t attachment_bytes; /* all attachments of one report together */
};
struct report_limits report_limits_default(void);

/*
 * Checks every field of r. On failure returns TIP_EVERSION, TIP_EINVAL (a
 * required field is missing or a value is malformed), TIP_ERANGE (a code not in
 * the taxonomy) or TIP_EOVERSIZE (too long, too many), and writes the offending
 * field's path (e.g. "activity.categories[1]") into field.
 */
int report_validate(const Tip__Report *r, const struct taxonomy *t, const struct report_limits *lim,
                    char field[REPORT_FIELD_MAX]);

/*
 * Seals r to the recipient's HPKE public key. The HPKE info binds origin and
 * seq, so a sealed report cannot be moved to another record. *out is a
 * serialized SealedReport (heap, *out_len bytes, at most cap).
 */
int report_seal(const Tip__Report *r, enum hpke_aead aead, const uint8_t pk[HPKE_KEY_LEN],
                const uint8_t key_id[4], const char *origin, uint64_t seq, size_t cap, uint8_t **out,
                size_t *out_len);

/*
 * Opens a SealedReport carried by record (origin, seq) with the recipient's
 * private key. TIP_ENOTFOUND if it was sealed to another key id, TIP_EVERIFY if
 * it does not open (altered, or bound to another record), decoding errors as
 * codec_unpack, TIP_EVERSION for an unknown SealedReport or Report version.
 * *out is freed with codec_free.
 */
int report_open(const uint8_t *sealed, size_t len, size_t cap, const uint8_t sk[HPKE_KEY_LEN],
                const uint8_t key_id[4], const char *origin, uint64_t seq, Tip__Report **out);

#endif
