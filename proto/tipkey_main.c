/*
 * tipkey: generates and inspects the key files of docs/formats/keys.md.
 *   tipkey generate --type {sign|cosign|seal|link|index} --name NAME --out PATH
 *   tipkey public PATH
 *   tipkey inspect PATH
 * Exit status: 0 success, 1 failure (message on stderr), 2 usage error.
 * No secret is ever printed.
 */
#include "common/encoding.h"
#include "common/err.h"
#include "proto/keyfile.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define EXIT_USAGE 2

static const char *prog = "tipkey";

static int usage(void)
{
	fprintf(stderr,
	        "usage: %s generate --type {sign|cosign|seal|link|index} --name NAME --out PATH\n"
	        "       %s public PATH\n"
	        "       %s inspect PATH\n",
	        prog, prog, prog);
	return EXIT_USAGE;
}

static int fail(const char *what, const char *path, int rc)
{
	if (rc == TIP_EIO)
		fprintf(stderr, "%s: %s %s: %s\n", prog, what, path, strerror(errno));
	else if (rc == TIP_EINVAL && strcmp(what, "reading") == 0)
		fprintf(stderr,
		        "%s: %s %s: %s (a private key file must not be accessible by group or others)\n",
		        prog, what, path, tip_strerror(rc));
	else
		fprintf(stderr, "%s: %s %s: %s\n", prog, what, path, tip_strerror(rc));
	return 1;
}

static int parse_type(const char *s, enum key_type *out)
{
	static const enum key_type all[] = {KEY_ED25519, KEY_COSIGN, KEY_X25519, KEY_LINK, KEY_INDEX};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(s, key_type_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	return -1;
}

static int cmd_generate(int argc, char **argv)
{
	const char *type_s = NULL, *name = NULL, *out = NULL;
	char pub_path[PATH_MAX];
	enum key_type type;
	struct key k;
	int rc, n;

	for (int i = 0; i < argc; i += 2) {
		const char **slot = strcmp(argv[i], "--type") == 0   ? &type_s
		                    : strcmp(argv[i], "--name") == 0 ? &name
		                    : strcmp(argv[i], "--out") == 0  ? &out
		                                                     : NULL;

		if (!slot || i + 1 >= argc || *slot)
			return usage();
		*slot = argv[i + 1];
	}
	if (!type_s || !name || !out)
		return usage();
	if (parse_type(type_s, &type) != 0) {
		fprintf(stderr, "%s: unknown key type '%s'\n", prog, type_s);
		return usage();
	}
	n = snprintf(pub_path, sizeof(pub_path), "%s.pub", out);
	if (n < 0 || (size_t)n >= sizeof(pub_path)) {
		fprintf(stderr, "%s: path too long\n", prog);
		return 1;
	}
	rc = key_generate(type, name, &k);
	if (rc == TIP_EINVAL) {
		fprintf(stderr, "%s: bad key name '%s' (1 to %d printable ASCII bytes, no '+' or space)\n",
		        prog, name, KEY_NAME_MAX);
		return 1;
	}
	if (rc != TIP_OK)
		return fail("generating key", name, rc);
	/* The public file is claimed first so that a clash leaves no orphan private key behind. */
	if (!key_is_symmetric(type) && (rc = key_write_public(pub_path, &k)) != TIP_OK) {
		key_wipe(&k);
		return fail("writing", pub_path, rc);
	}
	rc = key_write_private(out, &k);
	key_wipe(&k);
	if (rc != TIP_OK) {
		if (!key_is_symmetric(type))
			unlink(pub_path);
		return fail("writing", out, rc);
	}
	return 0;
}

static int cmd_public(const char *path)
{
	char line[KEY_LINE_MAX + 1];
	struct key k;
	int rc = key_read_private(path, &k);

	if (rc != TIP_OK)
		return fail("reading", path, rc);
	if (key_is_symmetric(k.type)) {
		key_wipe(&k);
		fprintf(stderr, "%s: %s: a %s key has no public half\n", prog, path, key_type_name(k.type));
		return 1;
	}
	rc = key_format_public(&k, line, sizeof(line));
	key_wipe(&k);
	if (rc != TIP_OK)
		return fail("formatting", path, rc);
	printf("%s\n", line);
	return 0;
}

static int cmd_inspect(const char *path)
{
	static const char *what[] = {[KEY_ED25519] = "Ed25519 signing key (C2SP signed-note)",
	                             [KEY_COSIGN] = "Ed25519 cosignature key (C2SP tlog-cosignature)",
	                             [KEY_X25519] = "X25519 HPKE key pair",
	                             [KEY_LINK] = "diode link HMAC key",
	                             [KEY_INDEX] = "comparison index HMAC key"};
	char line[KEY_LINE_MAX + 1], id[2 * KEY_ID_LEN + 1], pub[2 * KEY_LEN + 1];
	struct key k;
	/* Public first: the permission check of a private read would refuse a 0644 verifier file. */
	int rc = key_read_public(path, &k), private = 0;

	if (rc == TIP_EFORMAT) {
		rc = key_read_private(path, &k);
		private = 1;
	}
	if (rc != TIP_OK)
		return fail("reading", path, rc);
	if (hex_encode(k.id, KEY_ID_LEN, id, sizeof(id)) != TIP_OK ||
	    hex_encode(k.pub, KEY_LEN, pub, sizeof(pub)) != TIP_OK) {
		key_wipe(&k);
		return fail("formatting", path, TIP_EOVERSIZE);
	}
	printf("file: %s key\n", private ? "private" : "public (verifier)");
	printf("type: %s (0x%02x, %s)\n", key_type_name(k.type), (unsigned)k.type, what[k.type]);
	printf("name: %s\n", k.name);
	printf("key id: %s%s\n", id, key_is_symmetric(k.type) ? " (check value of the secret)" : "");
	if (key_is_symmetric(k.type)) {
		printf("public key: none (symmetric key)\n");
	} else {
		printf("public key: %s\n", pub);
		rc = key_format_public(&k, line, sizeof(line));
		if (rc == TIP_OK)
			printf("verifier: %s\n", line);
	}
	key_wipe(&k);
	if (rc != TIP_OK)
		return fail("formatting", path, rc);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	if (strcmp(argv[1], "generate") == 0)
		return cmd_generate(argc - 2, argv + 2);
	if (strcmp(argv[1], "public") == 0 && argc == 3)
		return cmd_public(argv[2]);
	if (strcmp(argv[1], "inspect") == 0 && argc == 3)
		return cmd_inspect(argv[2]);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage();
		return 0;
	}
	return usage();
}
