/*
 * diode-audit: offline checks of the transfer logs, with public keys only.
 *
 *   diode-audit verify --sender DIR --receiver DIR --inbox DIR --keys FILE [--json] [--threads N]
 *   diode-audit inclusion --keys FILE --checkpoint FILE --record FILE --index N (--tree DIR | --proof HEX)
 *   diode-audit consistency --keys FILE --old FILE --new FILE (--tree DIR | --proof HEX)
 *   diode-audit mark --spool DIR --upto N
 *
 * Exit codes: 0 clean (verified); 1 a discrepancy (the claim does not hold); 2 usage, or a file or
 * directory that cannot be read.
 */
#include "common/encoding.h"
#include "common/err.h"
#include "common/file.h"
#include "diode/merkle.h"
#include "diode/retention.h"
#include "diode/spool.h"
#include "diode/tlog_audit.h"
#include "proto/checkpoint.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_CLEAN       0
#define EXIT_DISCREPANCY 1
#define EXIT_USAGE       2

struct args {
	const char *sender, *receiver, *inbox, *keys, *checkpoint, *old, *new_, *record, *tree, *proof,
	        *spool;
	long long index, upto;
	int json, threads;
};

static int usage(void)
{
	fputs("usage: diode-audit verify --sender DIR --receiver DIR --inbox DIR --keys FILE [--json] "
	      "[--threads N]\n"
	      "       diode-audit inclusion --keys FILE --checkpoint FILE --record FILE --index N "
	      "(--tree DIR | --proof HEX)\n"
	      "       diode-audit consistency --keys FILE --old FILE --new FILE (--tree DIR | --proof HEX)\n"
	      "       diode-audit mark --spool DIR --upto N\n",
	      stderr);
	return EXIT_USAGE;
}

static int parse(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {{"sender", required_argument, NULL, 's'},
	                                     {"receiver", required_argument, NULL, 'r'},
	                                     {"inbox", required_argument, NULL, 'i'},
	                                     {"keys", required_argument, NULL, 'k'},
	                                     {"json", no_argument, NULL, 'j'},
	                                     {"threads", required_argument, NULL, 't'},
	                                     {"checkpoint", required_argument, NULL, 'c'},
	                                     {"old", required_argument, NULL, 'o'},
	                                     {"new", required_argument, NULL, 'n'},
	                                     {"record", required_argument, NULL, 'R'},
	                                     {"index", required_argument, NULL, 'x'},
	                                     {"tree", required_argument, NULL, 'T'},
	                                     {"proof", required_argument, NULL, 'p'},
	                                     {"spool", required_argument, NULL, 'S'},
	                                     {"upto", required_argument, NULL, 'u'},
	                                     {NULL, 0, NULL, 0}};
	char *end;
	int opt;

	memset(a, 0, sizeof(*a));
	a->index = a->upto = -1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's': a->sender = optarg; break;
		case 'r': a->receiver = optarg; break;
		case 'i': a->inbox = optarg; break;
		case 'k': a->keys = optarg; break;
		case 'j': a->json = 1; break;
		case 't':
			a->threads = (int)strtol(optarg, &end, 10);
			if (*end || a->threads < 0 || a->threads > 64)
				return -1;
			break;
		case 'c': a->checkpoint = optarg; break;
		case 'o': a->old = optarg; break;
		case 'n': a->new_ = optarg; break;
		case 'R': a->record = optarg; break;
		case 'x':
			a->index = strtoll(optarg, &end, 10);
			if (*end || a->index < 0)
				return -1;
			break;
		case 'T': a->tree = optarg; break;
		case 'p': a->proof = optarg; break;
		case 'S': a->spool = optarg; break;
		case 'u':
			a->upto = strtoll(optarg, &end, 10);
			if (*end || a->upto < 0)
				return -1;
			break;
		default: return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

/* A checkpoint note from a file, verified with the keys; prints who signed it. */
static int read_checkpoint(const char *path, const struct key *keys, size_t n, struct ckpt *out)
{
	struct note_check *checks = calloc(n ? n : 1, sizeof(*checks));
	char *text = NULL;
	size_t len;
	int rc;

	if (!checks || (rc = file_read(path, CKPT_NOTE_MAX, &text, &len)) != TIP_OK) {
		fprintf(stderr, "diode-audit: %s: cannot be read\n", path);
		free(checks);
		return EXIT_USAGE;
	}
	rc = ckpt_open(text, len, CKPT_NOTE_MAX, keys, n, out, checks);
	free(text);
	if (rc != TIP_OK) {
		printf("%s: does not verify with the keys given (%s)\n", path, tip_strerror(rc));
		free(checks);
		return EXIT_DISCREPANCY;
	}
	printf("%s: %s, size %llu, signed by", path, out->origin, (unsigned long long)out->size);
	for (size_t i = 0; i < n; i++)
		if (checks[i].verified)
			printf(" %s%s", keys[i].name, keys[i].type == KEY_COSIGN ? " (cosignature)" : "");
	putchar('\n');
	free(checks);
	return EXIT_CLEAN;
}

/* The proof from --proof (hex), or made from the tree in --tree by make. */
static int get_proof(const struct args *a, uint8_t *proof, size_t *len,
                     int (*make)(struct merkle *t, const void *arg, uint8_t *proof, size_t cap, size_t *len),
                     const void *arg)
{
	size_t cap = MERKLE_PROOF_MAX * MERKLE_HASH_LEN;
	struct merkle *t;
	int rc;

	if (a->proof)
		return hex_decode(a->proof, strlen(a->proof), proof, cap, len) == TIP_OK ? 0 : -1;
	if (!(t = merkle_open(a->tree, MERKLE_RDONLY, NULL, &rc))) {
		fprintf(stderr, "diode-audit: %s: %s\n", a->tree, tip_strerror(rc));
		return -1;
	}
	rc = make(t, arg, proof, cap, len);
	merkle_close(t);
	if (rc != TIP_OK)
		fprintf(stderr, "diode-audit: %s: no proof (%s)\n", a->tree, tip_strerror(rc));
	return rc == TIP_OK ? 0 : -1;
}

static void print_proof(const uint8_t *proof, size_t len)
{
	char *hex = malloc(2 * len + 1);

	if (hex && hex_encode(proof, len, hex, 2 * len + 1) == TIP_OK)
		printf("proof: %s\n", hex);
	free(hex);
}

struct incl {
	uint64_t index, size;
};

static int make_inclusion(struct merkle *t, const void *arg, uint8_t *proof, size_t cap, size_t *len)
{
	const struct incl *in = arg;

	return merkle_inclusion_proof(t, in->index, in->size, proof, cap, len);
}

static int cmd_inclusion(const struct args *a, const struct key *keys, size_t n)
{
	uint8_t proof[MERKLE_PROOF_MAX * MERKLE_HASH_LEN], leaf[MERKLE_HASH_LEN];
	struct ckpt ck;
	char *rec = NULL;
	size_t len, rlen;
	int rc;

	if (!a->checkpoint || !a->record || a->index < 0 || !a->tree == !a->proof)
		return usage();
	if ((rc = read_checkpoint(a->checkpoint, keys, n, &ck)) != EXIT_CLEAN)
		return rc;
	if (file_read(a->record, 1 << 30, &rec, &rlen) != TIP_OK) {
		fprintf(stderr, "diode-audit: %s: cannot be read\n", a->record);
		return EXIT_USAGE;
	}
	struct incl in = {(uint64_t)a->index, ck.size};
	if (get_proof(a, proof, &len, make_inclusion, &in) != 0) {
		free(rec);
		return EXIT_USAGE;
	}
	print_proof(proof, len);
	merkle_leaf_hash(rec, rlen, leaf);
	free(rec);
	rc = merkle_verify_inclusion(in.index, ck.size, leaf, sizeof(leaf), proof, len, ck.root,
	                             MERKLE_HASH_LEN);
	if (rc != TIP_OK) {
		printf("result: %s is NOT leaf %lld of the checkpoint of size %llu (%s)\n", a->record,
		       a->index, (unsigned long long)ck.size, tip_strerror(rc));
		return EXIT_DISCREPANCY;
	}
	printf("result: %s is leaf %lld of the checkpoint of size %llu\n", a->record, a->index,
	       (unsigned long long)ck.size);
	return EXIT_CLEAN;
}

static int make_consistency(struct merkle *t, const void *arg, uint8_t *proof, size_t cap, size_t *len)
{
	const uint64_t *sizes = arg;

	return merkle_consistency_proof(t, sizes[0], sizes[1], proof, cap, len);
}

static int cmd_consistency(const struct args *a, const struct key *keys, size_t n)
{
	uint8_t proof[MERKLE_PROOF_MAX * MERKLE_HASH_LEN];
	struct ckpt old, new_;
	size_t len;
	int rc;

	if (!a->old || !a->new_ || !a->tree == !a->proof)
		return usage();
	if ((rc = read_checkpoint(a->old, keys, n, &old)) != EXIT_CLEAN ||
	    (rc = read_checkpoint(a->new_, keys, n, &new_)) != EXIT_CLEAN)
		return rc;
	if (strcmp(old.origin, new_.origin) != 0) {
		printf("result: the checkpoints are of two logs (%s, %s)\n", old.origin, new_.origin);
		return EXIT_DISCREPANCY;
	}
	uint64_t sizes[2] = {old.size, new_.size};
	if (old.size > new_.size) {
		printf("result: the old checkpoint (size %llu) is larger than the new one (%llu)\n",
		       (unsigned long long)old.size, (unsigned long long)new_.size);
		return EXIT_DISCREPANCY;
	}
	if (get_proof(a, proof, &len, make_consistency, sizes) != 0)
		return EXIT_USAGE;
	print_proof(proof, len);
	rc = merkle_verify_consistency(old.size, new_.size, old.root, MERKLE_HASH_LEN, new_.root,
	                               MERKLE_HASH_LEN, proof, len);
	if (rc != TIP_OK) {
		printf("result: size %llu is NOT a prefix of size %llu (%s)\n", (unsigned long long)old.size,
		       (unsigned long long)new_.size, tip_strerror(rc));
		return EXIT_DISCREPANCY;
	}
	printf("result: size %llu is a prefix of size %llu\n", (unsigned long long)old.size,
	       (unsigned long long)new_.size);
	return EXIT_CLEAN;
}

static int cmd_verify(const struct args *a, const struct key *keys, size_t n)
{
	struct tlog_audit_opts o = {a->sender, a->receiver, a->inbox, keys, n, (size_t)a->threads};
	struct tlog_audit_report r;
	char err[512];
	int rc;

	if (!a->sender || !a->receiver || !a->inbox)
		return usage();
	if (tlog_audit_verify(&o, &r, err, sizeof(err)) != TIP_OK) {
		fprintf(stderr, "diode-audit: %s\n", err);
		tlog_audit_report_free(&r);
		return EXIT_USAGE;
	}
	if (a->json) {
		json_t *j = tlog_audit_report_json(&r);

		json_dumpf(j, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(j);
	} else {
		tlog_audit_report_print(&r, stdout);
	}
	rc = r.n_problems ? EXIT_DISCREPANCY : EXIT_CLEAN;
	tlog_audit_report_free(&r);
	return rc;
}

/*
 * The auditors' marker in a live spool: records [0, upto) are audited (verified on a copy, which the
 * auditors keep), so retention may remove them once their consumer is done too (diode/retention.h).
 */
static int cmd_mark(const struct args *a)
{
	struct spool_fault fault;
	struct spool_reader *r;
	int rc;

	if (!(r = spool_reader_open(a->spool, RETENTION_AUDITED, NULL, &fault, &rc))) {
		fprintf(stderr, "diode-audit: %s: %s\n", a->spool, tip_strerror(rc));
		return EXIT_USAGE;
	}
	rc = spool_reader_commit(r, (uint64_t)a->upto);
	spool_reader_close(r);
	if (rc == TIP_ERANGE) {
		fprintf(stderr, "diode-audit: %s holds fewer than %lld records\n", a->spool, a->upto);
		return EXIT_USAGE;
	}
	if (rc != TIP_OK) {
		fprintf(stderr, "diode-audit: %s: %s\n", a->spool, tip_strerror(rc));
		return EXIT_USAGE;
	}
	printf("%s: audited up to record %lld\n", a->spool, a->upto);
	return EXIT_CLEAN;
}

int main(int argc, char **argv)
{
	struct args a;
	struct key *keys;
	size_t n;
	char err[512];
	int rc;

	if (argc < 2 || parse(argc - 1, argv + 1, &a) != 0)
		return usage();
	if (strcmp(argv[1], "mark") == 0)
		return a.spool && a.upto >= 0 ? cmd_mark(&a) : usage();
	if (!a.keys)
		return usage();
	if (tlog_audit_read_keys(a.keys, &keys, &n, err, sizeof(err)) != TIP_OK) {
		fprintf(stderr, "diode-audit: %s\n", err);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "verify") == 0)
		rc = cmd_verify(&a, keys, n);
	else if (strcmp(argv[1], "inclusion") == 0)
		rc = cmd_inclusion(&a, keys, n);
	else if (strcmp(argv[1], "consistency") == 0)
		rc = cmd_consistency(&a, keys, n);
	else
		rc = usage();
	free(keys);
	return rc;
}
