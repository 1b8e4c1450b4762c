/* Helpers shared by the test programs (not linked into the product). */
#ifndef TIP_TESTS_TESTUTIL_H
#define TIP_TESTS_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Whole file into a NUL-terminated heap buffer; NULL if it cannot be read. */
char *tu_read_file(const char *path, size_t *len);
/* Path of a file under the known-answer vectors folder (TIP_VECTORS_DIR); heap string. */
char *tu_vector_path(const char *relative);
/* Hex string to a heap buffer; aborts the test program on bad hex. */
uint8_t *tu_hex(const char *hex, size_t *len);
/* The project's taxonomy (from TIP_SOURCE_DIR, else the source tree built from); aborts if it cannot load. */
struct taxonomy *tu_taxonomy(void);
/*
 * Appends n signed records to the spool at spool_dir, continuing chain, with the
 * signer's key; payload lengths vary from 100 to 100 + spread bytes. Returns the
 * payload bytes written; aborts on any failure.
 */
struct key;
struct rec_chain;
uint64_t tu_fill_spool(const char *spool_dir, const struct key *signer, struct rec_chain *chain, int n,
                       size_t spread);
/*
 * Appends n status bulletins as STATUS records signed by key to the spool at spool_dir, continuing chain
 * (status_out_append, as casemgrd's publisher writes them); aborts on any failure.
 */
struct bulletin;
void tu_publish_bulletins(const char *spool_dir, const struct key *key, const struct taxonomy *tax,
                          const struct bulletin *b, size_t n, struct rec_chain *chain);
/* Writes printf-formatted text to path (created or truncated); aborts on failure. */
void tu_write_text(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * The keys of a diode pair in dir: origin.key (an Ed25519 key named origin, returned in
 * *origin_key), link.key, log.key (the sender's log, "diode-log"), cosign.key and event.key; the
 * verifier keys of the origin and of the log in dir/keys/, where the receiver finds its origins.
 */
void tu_diode_keys(const char *dir, const char *origin, struct key *origin_key);
/*
 * Settings files for a diode pair working in dir, path into conf (600 bytes): dir/recv.conf, a
 * diode-recv on listen:port with dir/link.key, origins in dir/keys, dir/inbox, dir/quarantine and its
 * log in dir/recv-log; dir/send.conf, a diode-send to 127.0.0.1:port of spools ("origin=dir ...") with
 * its log in dir/send-log. extra (lines, may be "") is appended; metrics are off unless it sets
 * metrics_port.
 */
void tu_diode_recv_conf(char *conf, const char *dir, const char *listen, int port, const char *extra);
void tu_diode_send_conf(char *conf, const char *dir, int port, const char *spools, const char *extra);
/*
 * The two keys the fuzz corpora of notes and checkpoints are signed with ("fuzz.example/log" and
 * "fuzz.example/witness"): private in keys, public halves in pubs.
 */
void tu_corpus_keys(struct key *keys, struct key *pubs);
/* A fresh private directory under TMPDIR (heap string) and its recursive removal. */
char *tu_mkdtemp(void);
void tu_rmtree(const char *path);
/* Like tu_mkdtemp, but in memory (under /dev/shm) when the system has it: for fuzz targets that
 * write files on every input. */
char *tu_mkdtemp_mem(void);
/* Writes len bytes to dir/name (created or truncated, mode 0600); aborts on failure. */
void tu_write_bytes(const char *dir, const char *name, const void *data, size_t len);

#include "report.pb-c.h"

/* A valid report (every block filled, one attachment) in caller-owned storage, for mutation by tests. */
struct tu_report {
	Tip__Report r;
	Tip__Reporter reporter;
	Tip__ReportedPerson person, *persons[1];
	char *aliases[1], *phones[1];
	Tip__Activity activity;
	char *categories[2];
	Tip__Attachment attachment, *attachments[1];
	Tip__Umbrella umbrella;
	Tip__Official official, *officials[1];
	uint8_t query_hash[32], attachment_hash[32];
};
void tu_report_init(struct tu_report *s);

#endif
