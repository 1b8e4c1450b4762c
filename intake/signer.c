#include "intake/signer.h"

#include "common/err.h"
#include "common/log.h"
#include "proto/codec.h"
#include "record.pb-c.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HPKE_ENC_LEN 32

struct signer {
	struct ed25519_key *key;
	struct signer_policy p;
	char origin[REC_ORIGIN_MAX + 1];
	int have_seq;
	uint64_t last_seq;
	uint64_t refusals;
};

struct signer *signer_new(struct ed25519_key *key, const struct signer_policy *p)
{
	uint8_t sig[ED25519_SIG_LEN];
	struct signer *s;

	/* One signature now: the library loads what it needs before any sandbox is entered. */
	if (!rec_origin_ok(p->origin) || ed25519_sign(key, NULL, 0, sig) != TIP_OK ||
	    !(s = calloc(1, sizeof(*s))))
		return NULL;
	s->key = key;
	s->p = *p;
	memcpy(s->origin, p->origin, strlen(p->origin) + 1);
	s->p.origin = s->origin;
	return s;
}

void signer_free(struct signer *s)
{
	if (!s)
		return;
	ed25519_key_free(s->key);
	free(s);
}

uint64_t signer_refusals(const struct signer *s)
{
	return s->refusals;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The payload must be a SealedReport of version 1 to the internal zone's key. */
static int check_sealed(const struct signer *s, const ProtobufCBinaryData *payload, const char **why)
{
	Tip__SealedReport *sr = NULL;
	int rc = codec_unpack(&tip__sealed_report__descriptor, payload->data, payload->len, s->p.max_body,
	                      (ProtobufCMessage **)&sr);

	if (rc != TIP_OK) {
		*why = "payload is not a SealedReport";
		return TIP_EDECODE;
	}
	if (sr->version != 1 || sr->recipient_key_id.len != REC_KEY_ID_LEN ||
	    memcmp(sr->recipient_key_id.data, s->p.seal_key_id, REC_KEY_ID_LEN) != 0 ||
	    sr->enc.len != HPKE_ENC_LEN || sr->ciphertext.len == 0 || (sr->aead != 1 && sr->aead != 3)) {
		*why = "payload is not sealed to the internal zone's key";
		rc = TIP_ERANGE;
	}
	codec_free(&sr->base);
	return rc;
}

/* The request's checks; *why names the first one failed. */
static int check_body(const struct signer *s, const uint8_t *body, size_t len, uint64_t *seq,
                      const char **why)
{
	Tip__RecordBody *b = NULL;
	uint8_t *again = NULL;
	size_t again_len = 0;
	int64_t skew;
	int rc;

	if (len == 0 || len > s->p.max_body) {
		*why = "empty or too long";
		return TIP_EOVERSIZE;
	}
	if (codec_unpack(&tip__record_body__descriptor, body, len, s->p.max_body, (ProtobufCMessage **)&b) !=
	    TIP_OK) {
		*why = "not a RecordBody";
		return TIP_EDECODE;
	}
	/* Canonical: the bytes signed are exactly what this message encodes to, so no two encodings of one
	 * record. */
	rc = TIP_EDECODE;
	*why = "not canonically encoded";
	if (codec_pack(&b->base, s->p.max_body, &again, &again_len) != TIP_OK || again_len != len ||
	    memcmp(again, body, len) != 0)
		goto out;
	rc = TIP_EVERSION;
	*why = "version is not 1";
	if (b->version != REC_VERSION)
		goto out;
	rc = TIP_ERANGE;
	skew = b->created_at - now_ms();
	if (strcmp(b->origin, s->p.origin) != 0)
		*why = "another origin";
	else if ((int)b->kind != REC_REPORT)
		*why = "not a report record";
	else if (b->prev_hash.len != REC_HASH_LEN)
		*why = "prev_hash is not 32 bytes";
	else if (s->have_seq && b->seq < s->last_seq)
		*why = "seq before the last one signed";
	else if (skew > s->p.max_skew_ms || skew < -s->p.max_skew_ms)
		*why = "created_at too far from the signer's clock";
	else
		rc = check_sealed(s, &b->payload, why);
	*seq = b->seq;
out:
	free(again);
	codec_free(&b->base);
	return rc;
}

int signer_sign(struct signer *s, const uint8_t *body, size_t len, uint8_t sig[ED25519_SIG_LEN])
{
	const char *why = NULL;
	uint64_t seq = 0;
	int rc = check_body(s, body, len, &seq, &why);

	if (rc == TIP_OK && (rc = ed25519_sign(s->key, body, len, sig)) == TIP_OK) {
		s->have_seq = 1;
		s->last_seq = seq;
		return TIP_OK;
	}
	s->refusals++;
	log_warn("signer: refused request %llu (%zu bytes): %s", (unsigned long long)s->refusals, len,
	         why ? why : "signing failed");
	return rc;
}

/* Whole reads and writes; 0, or -1 at end of file or on an error. */
static int read_full(int fd, void *buf, size_t len)
{
	for (size_t got = 0; got < len;) {
		ssize_t n = read(fd, (uint8_t *)buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	for (size_t put = 0; put < len;) {
		ssize_t n = write(fd, (const uint8_t *)buf + put, len - put);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		put += (size_t)n;
	}
	return 0;
}

/* Answers one connection's requests until it ends or breaks the framing. */
static void serve(struct signer *s, int conn)
{
	uint8_t *body = NULL;

	for (;;) {
		uint8_t head[4], reply[SIGNER_REPLY_LEN] = {SIGNER_REFUSED};
		size_t len;

		if (read_full(conn, head, sizeof(head)) != 0)
			break;
		len = (size_t)head[0] << 24 | (size_t)head[1] << 16 | (size_t)head[2] << 8 | head[3];
		if (len == 0 || len > s->p.max_body) {
			/* The stream cannot be trusted past a length out of bounds: refuse and hang up. */
			s->refusals++;
			log_warn("signer: refused request %llu: length %zu out of bounds; closing the "
			         "connection",
			         (unsigned long long)s->refusals, len);
			write_full(conn, reply, sizeof(reply));
			break;
		}
		if (!(body = malloc(len)) || read_full(conn, body, len) != 0)
			break;
		if (signer_sign(s, body, len, reply + 1) == TIP_OK)
			reply[0] = SIGNER_SIGNED;
		free(body);
		body = NULL;
		if (write_full(conn, reply, sizeof(reply)) != 0)
			break;
	}
	free(body);
}

void signer_run(struct signer *s, int ctl)
{
	for (;;) {
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(int))];
		} cm;
		char byte;
		struct iovec iov = {&byte, 1};
		struct msghdr msg = {.msg_iov = &iov,
		                     .msg_iovlen = 1,
		                     .msg_control = cm.buf,
		                     .msg_controllen = sizeof(cm.buf)};
		struct cmsghdr *c;
		ssize_t n = recvmsg(ctl, &msg, MSG_CMSG_CLOEXEC);
		int conn;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		c = CMSG_FIRSTHDR(&msg);
		if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len != CMSG_LEN(sizeof(int)))
			continue;
		memcpy(&conn, CMSG_DATA(c), sizeof(conn));
		serve(s, conn);
		close(conn);
	}
}

int signer_pass(int ctl, int fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	char byte = 'w';
	struct iovec iov = {&byte, 1};
	struct msghdr msg = {
	        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	memset(cm.buf, 0, sizeof(cm.buf));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(fd));
	return sendmsg(ctl, &msg, MSG_NOSIGNAL) == 1 ? TIP_OK : TIP_EIO;
}

int signer_request(void *fd, const uint8_t *msg, size_t len, uint8_t sig[ED25519_SIG_LEN])
{
	int conn = *(int *)fd;
	uint8_t head[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
	uint8_t reply[SIGNER_REPLY_LEN];

	if (len == 0 || len > UINT32_MAX)
		return TIP_EOVERSIZE;
	if (write_full(conn, head, sizeof(head)) != 0 || write_full(conn, msg, len) != 0 ||
	    read_full(conn, reply, sizeof(reply)) != 0) {
		log_err("signer: the signing process is gone: %s", errno ? strerror(errno) : "end of file");
		return TIP_EIO;
	}
	if (reply[0] != SIGNER_SIGNED)
		return TIP_ERANGE;
	memcpy(sig, reply + 1, ED25519_SIG_LEN);
	return TIP_OK;
}
