/*
 * diode-send: the sending end of a one-way link. Reads one spool per origin,
 * turns records into authenticated, erasure-coded, interleaved datagrams of
 * one size, and sends them paced to the link rate. No acknowledgement can come
 * back, so every record is sent again after each delay of the replay schedule
 * (a carousel), and heartbeats say every second how far each origin goes.
 *
 * A spool's durable cursor ("diode-send") moves past a record only once its
 * last replay has gone out: after a restart, everything not yet replayed in full
 * is sent again (the receiver drops duplicates). Every prune_interval (and once with
 * "diode-send prune -c FILE") spool segments below that cursor and below the auditors' marker,
 * and older than keep_sent, are removed (diode/retention.h).
 *
 * Exit codes (sysexits.h): 0 clean stop; 64 usage; 78 configuration or keys
 * unusable; 71 cannot open the socket or drop privileges; 74 a spool cannot be read, or the
 * transfer log cannot be written or its signer refuses a checkpoint.
 */
#include "common/daemon.h"
#include "common/err.h"
#include "common/net.h"
#include "common/log.h"
#include "common/metrics.h"
#include "diode/conf.h"
#include "diode/retention.h"
#include "diode/link.h"
#include "diode/pacer.h"
#include "diode/spool.h"
#include "diode/tlog.h"
#include "diode/txlog.h"
#include "diode/udp_batch.h"
#include "proto/keyfile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#define MAX_SOURCES 64
#define MAX_REPLAY  8
#define CHUNK_MS    100 /* records first sent within this window share one replay entry */

/* Records [from, to] of a spool, first sent at sent_ms. */
struct chunk {
	uint64_t from, to, sent_ms;
};

struct source {
	char origin[REC_ORIGIN_MAX + 1];
	char dir[DIODE_PATH_MAX];
	struct spool_reader *live, *replay[MAX_REPLAY];
	struct chunk *chunks;
	size_t n_chunks, cap_chunks;
	size_t pass_chunk[MAX_REPLAY];  /* the next chunk each replay pass will send */
	uint64_t pass_next[MAX_REPLAY]; /* the next index inside it */
};

struct sender {
	struct diode_send_conf conf;
	struct event_base *base;
	int fd;
	size_t per_send; /* datagrams per message: more than 1 with segmentation offload */
	struct link_tx *tx;
	struct pacer pacer, replays; /* the link; replays that go before waiting new records */
	struct source sources[MAX_SOURCES];
	size_t n_sources, rr;
	struct txlog *log; /* the transfer log of sources[0..n_logged); the next source is its checkpoints */
	size_t n_logged;
	uint64_t replay_ms[MAX_REPLAY];
	size_t n_replay;
	uint8_t *out; /* batch datagrams ready to send */
	size_t n_out, sent_out;
	uint8_t *record; /* the record being packed (the link reads it lazily) */
	size_t record_cap;
	struct event *pump, *beat, *prune;
	int exit_code;
	/* "resend": one range of one origin's spool, sent once, then exit. */
	struct spool_reader *range;
	uint64_t range_to;
	int range_done;
	struct {
		struct metric *datagrams, *bytes, *records, *replays, *errors, *heartbeats;
		struct metric *pruned, *retained;
	} m;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static int parse_replay(struct sender *s)
{
	char copy[256], *save = NULL;

	snprintf(copy, sizeof(copy), "%s", s->conf.replay);
	for (char *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		struct cfg_entry e = {"replay", CFG_DURATION, 0, 1, 24 * 3600000LL, NULL, ""};
		long long ms;
		char err[CFG_ERR_MAX];

		if (s->n_replay == MAX_REPLAY || cfg_parse_value(&e, t, &ms, err) != TIP_OK ||
		    (s->n_replay && (uint64_t)ms <= s->replay_ms[s->n_replay - 1])) {
			log_err("replay: expected up to %d increasing durations, got \"%s\"", MAX_REPLAY,
			        s->conf.replay);
			return -1;
		}
		s->replay_ms[s->n_replay++] = (uint64_t)ms;
	}
	return 0;
}

static int add_source(struct sender *s, const char *origin, const char *dir)
{
	struct source *src = &s->sources[s->n_sources];

	if (s->n_sources == MAX_SOURCES || strlen(origin) > REC_ORIGIN_MAX || !rec_origin_ok(origin)) {
		log_err("spools: %s is not an origin name, or there are more than %d", origin, MAX_SOURCES);
		return -1;
	}
	if ((size_t)snprintf(src->dir, sizeof(src->dir), "%s", dir) >= sizeof(src->dir)) {
		log_err("spools: %s: the path is longer than %zu bytes", dir, sizeof(src->dir) - 1);
		return -1;
	}
	snprintf(src->origin, sizeof(src->origin), "%s", origin);
	s->n_sources++;
	return 0;
}

/* The configured spools' origins and directories (not opened yet): sources[0, n_logged). */
static int parse_spools(struct sender *s)
{
	char copy[DIODE_LIST_MAX], *save = NULL;

	snprintf(copy, sizeof(copy), "%s", s->conf.spools);
	for (char *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(t, '=');

		if (!eq) {
			log_err("spools: expected origin=directory pairs, got \"%s\"", t);
			return -1;
		}
		*eq = 0;
		if (add_source(s, t, eq + 1) != 0)
			return -1;
	}
	s->n_logged = s->n_sources;
	return s->n_sources ? 0 : -1;
}

static int open_source(struct sender *s, struct source *src)
{
	struct spool_opts o = spool_opts_default();
	struct spool_fault fault;
	char name[40];
	int err;

	o.max_record = s->conf.max_record;
	if (!(src->live = spool_reader_open(src->dir, "diode-send", &o, &fault, &err))) {
		log_err("spool %s: %s", src->dir, tip_strerror(err));
		return -1;
	}
	for (size_t p = 0; p < s->n_replay; p++) {
		snprintf(name, sizeof(name), "diode-send-r%zu", p);
		if (!(src->replay[p] = spool_reader_open(src->dir, name, &o, &fault, &err))) {
			log_err("spool %s: %s", src->dir, tip_strerror(err));
			return -1;
		}
	}
	return 0;
}

/* The configured spools, then (after the transfer log has created it) the log's checkpoint spool. */
static int open_sources(struct sender *s, const struct key *log_key, int with_log)
{
	char cp_dir[TLOG_PATH_MAX];
	struct txlog_source ls[MAX_SOURCES];
	int err;

	for (size_t i = 0; i < s->n_sources; i++) {
		if (open_source(s, &s->sources[i]) != 0)
			return -1;
		ls[i] = (struct txlog_source){s->sources[i].origin, s->sources[i].dir};
	}
	if (with_log) {
		struct txlog_conf lc = {s->conf.log_dir, log_key, (uint64_t)s->conf.checkpoint_records,
		                        (uint64_t)s->conf.checkpoint_interval, spool_opts_default()};

		lc.spool.max_record = s->conf.max_record;
		if (!(s->log = txlog_open(&lc, ls, s->n_logged, &err))) {
			log_err("transfer log %s: %s", s->conf.log_dir, tip_strerror(err));
			return -1;
		}
	}
	if (tlog_path(cp_dir, s->conf.log_dir, TLOG_CHECKPOINTS, NULL) != TIP_OK ||
	    add_source(s, log_key->name, cp_dir) != 0)
		return -1;
	return open_source(s, &s->sources[s->n_sources - 1]);
}

/* Retention over the configured spools (never the transfer log's checkpoint spool). */
static int prune(struct sender *s)
{
	struct retention_item items[MAX_SOURCES];
	char what[MAX_SOURCES][REC_ORIGIN_MAX + 8];
	struct spool_prune_stats st;
	int rc;

	for (size_t i = 0; i < s->n_logged; i++) {
		snprintf(what[i], sizeof(what[i]), "spool %s", s->sources[i].origin);
		items[i] =
		        (struct retention_item){what[i], s->sources[i].dir, "diode-send", s->conf.keep_sent};
	}
	rc = retention_run(items, s->n_logged, s->conf.prune_audited, &st);
	if (s->m.pruned) {
		metric_add(s->m.pruned, st.removed_bytes);
		metric_set(s->m.retained, (int64_t)st.kept_bytes);
	}
	return rc;
}

static void on_prune(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	prune(arg);
}

static int open_range(struct sender *s, const char *origin, uint64_t from, uint64_t to)
{
	struct spool_opts o = spool_opts_default();
	struct spool_fault fault;
	int err;

	o.max_record = s->conf.max_record;
	for (size_t i = 0; i < s->n_sources; i++) {
		if (strcmp(s->sources[i].origin, origin) != 0)
			continue;
		if (!(s->range = spool_reader_open(s->sources[i].dir, "diode-resend", &o, &fault, &err)) ||
		    (err = spool_reader_seek(s->range, from)) != TIP_OK) {
			log_err("resend %s from %llu: %s", origin, (unsigned long long)from,
			        tip_strerror(err));
			return -1;
		}
		s->range_to = to;
		return 0;
	}
	log_err("resend: no spool for origin %s", origin);
	return -1;
}

static void note_sent(struct source *src, uint64_t index, uint64_t now_ms)
{
	struct chunk *last = src->n_chunks ? &src->chunks[src->n_chunks - 1] : NULL;

	if (last && last->to + 1 == index && now_ms - last->sent_ms < CHUNK_MS) {
		last->to = index;
		return;
	}
	if (src->n_chunks == src->cap_chunks) {
		size_t cap = src->cap_chunks ? src->cap_chunks * 2 : 64;
		struct chunk *c = realloc(src->chunks, cap * sizeof(*c));

		if (!c)
			return; /* no replay entry: the record still went out once, and the cursor will not
			           pass it */
		src->chunks = c;
		src->cap_chunks = cap;
	}
	src->chunks[src->n_chunks++] = (struct chunk){index, index, now_ms};
}

/* After the last pass is done with the oldest chunks, the cursor may pass them and they are forgotten. */
static void retire_chunks(struct sender *s, struct source *src)
{
	size_t done = s->n_replay ? src->pass_chunk[s->n_replay - 1] : src->n_chunks;

	for (size_t p = 0; p < s->n_replay; p++)
		if (src->pass_chunk[p] < done)
			done = src->pass_chunk[p];
	if (!done)
		return;
	spool_reader_commit(src->live, src->chunks[done - 1].to + 1);
	memmove(src->chunks, src->chunks + done, (src->n_chunks - done) * sizeof(*src->chunks));
	src->n_chunks -= done;
	for (size_t p = 0; p < s->n_replay; p++)
		src->pass_chunk[p] -= done;
}

/* A replay of some spool whose chunk is due: now >= first sent + delay. Returns 1 with the record, 0 if
 * none is due. */
static int next_replay(struct sender *s, const uint8_t **rec, size_t *len, uint64_t now_ms)
{
	struct spool_fault fault;
	uint64_t index;

	for (size_t i = 0; i < s->n_sources; i++) {
		struct source *src = &s->sources[i];

		for (size_t p = 0; p < s->n_replay; p++) {
			struct chunk *c;

			if (src->pass_chunk[p] >= src->n_chunks)
				continue;
			c = &src->chunks[src->pass_chunk[p]];
			if (now_ms < c->sent_ms + s->replay_ms[p])
				continue;
			if (src->pass_next[p] < c->from)
				src->pass_next[p] = c->from;
			if (spool_reader_position(src->replay[p]) != src->pass_next[p])
				spool_reader_seek(src->replay[p], src->pass_next[p]);
			if (spool_reader_next(src->replay[p], rec, len, &index, &fault) == 1) {
				if (++src->pass_next[p] > c->to) {
					src->pass_chunk[p]++;
					retire_chunks(s, src);
				}
				metric_inc(s->m.replays);
				return 1;
			}
		}
	}
	return 0;
}

/*
 * The next record to send. A due replay goes before new records only within replay_share of the
 * rate, so the carousel never takes a burst's bandwidth but is not starved by it either; beyond
 * that, replays use whatever room new records leave.
 */
static int next_record(struct sender *s, const uint8_t **rec, size_t *len, uint64_t now_ms)
{
	struct spool_fault fault;
	uint64_t index;
	int rc;

	if (s->range) {
		if (!s->range_done && spool_reader_next(s->range, rec, len, &index, &fault) == 1 &&
		    index <= s->range_to) {
			metric_inc(s->m.records);
			return 1;
		}
		s->range_done = 1;
		return 0;
	}
	if (pacer_has_credit(&s->replays, now_ms * 1000000) && next_replay(s, rec, len, now_ms)) {
		pacer_spend(&s->replays, *len);
		return 1;
	}
	for (size_t n = 0; n < s->n_sources; n++) {
		struct source *src = &s->sources[s->rr];

		s->rr = (s->rr + 1) % s->n_sources;
		rc = spool_reader_next(src->live, rec, len, &index, &fault);
		if (rc == 1) {
			if (s->n_replay)
				note_sent(src, index, now_ms);
			else
				spool_reader_commit(src->live, index + 1);
			metric_inc(s->m.records);
			return 1;
		}
		if (rc < 0) {
			log_err("spool %s: %s at %s offset %llu", src->dir, tip_strerror(rc), fault.file,
			        (unsigned long long)fault.offset);
			s->exit_code = EX_IOERR;
			event_base_loopbreak(s->base);
			return 0;
		}
	}
	return next_replay(s, rec, len, now_ms);
}

/* Fills the output batch with up to n datagrams. */
static void produce(struct sender *s, size_t n, uint64_t now_ms)
{
	size_t d = s->conf.datagram_size;

	while (s->n_out < n) {
		const uint8_t *rec;
		size_t len;

		if (link_tx_next(s->tx, s->out + s->n_out * d, (uint32_t)now_ms) == 1) {
			s->n_out++;
			continue;
		}
		if (!link_tx_busy(s->tx) && next_record(s, &rec, &len, now_ms)) {
			if (len > s->record_cap) {
				uint8_t *b = realloc(s->record, len);

				if (!b)
					break;
				s->record = b;
				s->record_cap = len;
			}
			memcpy(s->record, rec, len);
			link_tx_put(s->tx, s->record, len, NULL);
			continue;
		}
		/* Nothing more to pack now: let the partly filled group go rather than wait. */
		link_tx_flush(s->tx);
		if (link_tx_next(s->tx, s->out + s->n_out * d, (uint32_t)now_ms) != 1)
			break;
		s->n_out++;
	}
}

/* Sends what the batch holds; a failure is logged and the rest is tried again later, never dropped. */
static void transmit(struct sender *s)
{
	size_t d = s->conf.datagram_size, n = s->n_out - s->sent_out;
	int rc;

	if (!n)
		return;
	rc = udpb_send(s->fd, s->out + s->sent_out * d, n, d, s->per_send);
	if (rc < 0 && (errno == EIO || errno == EINVAL) && s->per_send > 1) {
		log_warn("send: the path cannot segment datagrams (%s); sending them one by one",
		         strerror(errno));
		udpb_gso_disable(s->fd);
		s->per_send = 1;
		return;
	}
	if (rc < 0) {
		if (errno != EAGAIN && errno != ENOBUFS && errno != EINTR) {
			static uint64_t last_log;
			uint64_t now = mono_ns();

			metric_inc(s->m.errors);
			if (now - last_log > 1000000000ULL) {
				log_warn("send: %s; retrying", strerror(errno));
				last_log = now;
			}
		}
		return;
	}
	metric_add(s->m.datagrams, (uint64_t)rc);
	metric_add(s->m.bytes, (uint64_t)rc * d);
	s->sent_out += (size_t)rc;
	if (s->sent_out == s->n_out)
		s->n_out = s->sent_out = 0;
}

static void schedule(struct sender *s, uint64_t ns)
{
	struct timeval tv = {(time_t)(ns / 1000000000), (suseconds_t)(ns % 1000000000 / 1000)};

	evtimer_add(s->pump, &tv);
}

static void on_pump(evutil_socket_t fd, short what, void *arg)
{
	struct sender *s = arg;
	uint64_t now = mono_ns();
	size_t batch = (size_t)s->conf.batch, d = s->conf.datagram_size;
	(void)fd;
	(void)what;

	for (int round = 0; round < 64; round++) {
		if (s->n_out == 0) {
			size_t allowed = pacer_take(&s->pacer, d, batch, now);

			if (!allowed)
				break;
			produce(s, allowed, now / 1000000);
			if (s->n_out < allowed)
				pacer_refund(&s->pacer, (allowed - s->n_out) * d);
			if (s->n_out == 0) {
				if (s->range_done) {
					event_base_loopbreak(s->base); /* a resend is complete */
					return;
				}
				schedule(s, 5000000); /* idle: look at the spools again in 5 ms */
				return;
			}
		}
		transmit(s);
		if (s->n_out) {
			schedule(s, 200000); /* the socket is full or failing: try again shortly */
			return;
		}
		now = mono_ns();
	}
	/* Wake up for a whole batch, not for each datagram: arming the timer costs more than sending one
	 * on some machines (a virtual one spent 30% of the sender's time there), and the bucket holds a
	 * batch. */
	uint64_t wait = pacer_wait_ns(&s->pacer, d * batch);

	schedule(s, wait ? wait : 1);
}

static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct sender *s = arg;
	struct stream_hb_origin hb[MAX_SOURCES];
	uint8_t buf[65536];
	size_t done = 0;
	(void)fd;
	(void)what;

	if (s->log && txlog_status(s->log) != TIP_OK) {
		s->exit_code = EX_IOERR; /* the log's thread said why */
		event_base_loopbreak(s->base);
		return;
	}
	memset(hb, 0, sizeof(hb));
	for (size_t i = 0; i < s->n_sources; i++) {
		uint64_t head = 0;
		struct spool_fault fault;

		snprintf(hb[i].origin, sizeof(hb[i].origin), "%s", s->sources[i].origin);
		if (s->log && i < s->n_logged)
			txlog_latest(s->log, i, &hb[i].checkpoint_size, hb[i].checkpoint_hash);
		if (spool_reader_head(s->sources[i].live, &head, &fault) == TIP_OK && head > 0) {
			hb[i].has_seq = 1;
			hb[i].highest_seq = head - 1;
		}
	}
	while (done < s->n_sources) {
		size_t taken = 0;

		if (link_tx_heartbeat(s->tx, hb + done, s->n_sources - done, buf,
		                      (uint32_t)(mono_ns() / 1000000), &taken) != TIP_OK ||
		    !taken)
			break;
		if (send(s->fd, buf, s->conf.datagram_size, 0) > 0)
			metric_inc(s->m.heartbeats);
		done += taken;
	}
}

static int open_socket(struct sender *s)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int size = s->conf.sndbuf > INT32_MAX / 2 ? INT32_MAX / 2 : (int)s->conf.sndbuf;

	if (net_addr(s->conf.destination, (int)s->conf.port, &ss, &len) != TIP_OK) {
		log_err("destination: %s is not a numeric address", s->conf.destination);
		return -1;
	}
	s->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0 || connect(s->fd, (struct sockaddr *)&ss, len) != 0) {
		log_err("socket to %s port %lld: %s", s->conf.destination, s->conf.port, strerror(errno));
		return -1;
	}
	if (setsockopt(s->fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) != 0)
		setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	s->per_send = udpb_gso_enable(s->fd, s->conf.datagram_size);
	return 0;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct sender *s = arg;
	(void)what;

	log_info("signal %d: stopping", (int)sig);
	event_base_loopbreak(s->base);
}

static struct metric *must(struct metric *m)
{
	if (!m)
		abort(); /* a fixed set registered once at start */
	return m;
}

/*
 * diode-send resend --origin O --from A --to B -c FILE: sends records A..B (spool indexes, which are the
 * origin's sequence numbers) of O's spool once more, in a session of its own, then exits. For an
 * operator who saw a gap alert on the other side that the carousel did not close.
 */
static int parse_resend(int argc, char **argv, char **origin, uint64_t *from, uint64_t *to)
{
	static const struct option opts[] = {{"origin", required_argument, NULL, 'o'},
	                                     {"from", required_argument, NULL, 'f'},
	                                     {"to", required_argument, NULL, 't'},
	                                     {NULL, 0, NULL, 0}};
	int opt, have = 0;
	char *end;

	while ((opt = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			*origin = optarg;
			have |= 1;
			break;
		case 'f':
			*from = strtoull(optarg, &end, 10);
			have |= *end ? 0 : 2;
			break;
		case 't':
			*to = strtoull(optarg, &end, 10);
			have |= *end ? 0 : 4;
			break;
		case 'c': break;
		default: return -1;
		}
	}
	return have == 7 && *from <= *to ? 0 : -1;
}

int main(int argc, char **argv)
{
	static struct sender s;
	char *resend_origin = NULL;
	uint64_t resend_from = 0, resend_to = 0;
	int prune_once = argc > 1 && strcmp(argv[1], "prune") == 0;

	if (prune_once) {
		/* "prune -c FILE": the retention pass once, beside the running daemon. */
		argc--;
		argv++;
	} else if (argc > 1 && strcmp(argv[1], "resend") == 0) {
		/* The settings file comes from -c as usual; the range from the long options. */
		char *conf_args[4] = {argv[0], NULL, NULL, NULL};

		if (parse_resend(argc - 1, argv + 1, &resend_origin, &resend_from, &resend_to) != 0) {
			fprintf(stderr,
			        "usage: diode-send resend --origin ORIGIN --from SEQ --to SEQ -c FILE\n");
			return EX_USAGE;
		}
		for (int i = 1; i < argc - 1; i++)
			if (strcmp(argv[i], "-c") == 0)
				conf_args[1] = argv[i], conf_args[2] = argv[i + 1];
		argc = conf_args[1] ? 3 : 1;
		argv = conf_args;
		optind = 1;
	}
	struct key link, log_key;
	struct http_server *metrics = NULL;
	struct event *ev_term = NULL, *ev_int = NULL;
	uint32_t session;
	int check, err, exit_code = EX_CONFIG;

	log_init("diode-send", 0, LOG_INFO);
	check = daemon_settings(argc, argv, "diode-send", diode_send_table, diode_send_entries, &s.conf,
	                        NULL);
	log_init("diode-send", s.conf.syslog, s.conf.debug ? LOG_DEBUG : LOG_INFO);
	s.fd = -1;
	memset(&link, 0, sizeof(link));
	memset(&log_key, 0, sizeof(log_key));
	struct link_params lp = link_params_default();
	lp.datagram_size = s.conf.datagram_size;
	lp.k = (unsigned)s.conf.fec_k;
	lp.m = (unsigned)s.conf.fec_m;
	lp.depth = (unsigned)s.conf.depth;
	if (link_params_check(&lp) != TIP_OK) {
		log_err("fec_k + fec_m must not pass 255, and depth at most %d", LINK_DEPTH_MAX);
		goto out;
	}
	if (key_read_private(s.conf.link_key, &link) != TIP_OK || link.type != KEY_LINK) {
		log_err("%s: not a usable link key", s.conf.link_key);
		goto out;
	}
	if (key_read_private(s.conf.log_key, &log_key) != TIP_OK || log_key.type != KEY_ED25519 ||
	    !rec_origin_ok(log_key.name)) {
		log_err("%s: not a usable log key (tipkey sign, named like an origin)", s.conf.log_key);
		goto out;
	}
	if (parse_replay(&s) != 0 || parse_spools(&s) != 0)
		goto out;
	if (prune_once) {
		exit_code = prune(&s) == 0 ? 0 : EX_IOERR;
		goto out;
	}
	if (check) {
		printf("configuration ok\n");
		exit_code = 0;
		goto out;
	}
	exit_code = EX_OSERR;
	signal(SIGPIPE, SIG_IGN);
	struct event_config *ecfg = event_config_new();
	if (ecfg) {
		event_config_set_flag(ecfg, EVENT_BASE_FLAG_PRECISE_TIMER);
		s.base = event_base_new_with_config(ecfg);
		event_config_free(ecfg);
	}
	if (RAND_bytes((uint8_t *)&session, sizeof(session)) != 1 || !s.base || open_socket(&s))
		goto out;
	if (!(s.tx = link_tx_new(&lp, link.secret, session, &err))) {
		log_err("link: %s", tip_strerror(err));
		goto out;
	}
	key_wipe(&link);
	if (!(s.out = malloc((size_t)s.conf.batch * s.conf.datagram_size)))
		goto out;
	s.m.datagrams = must(metric_counter("diode_send_datagrams_total", NULL, "Datagrams sent."));
	s.m.bytes = must(metric_counter("diode_send_bytes_total", NULL, "Bytes of datagrams sent."));
	s.m.records =
	        must(metric_counter("diode_send_records_total", NULL, "Records sent for the first time."));
	s.m.replays =
	        must(metric_counter("diode_send_replays_total", NULL, "Records sent again (carousel)."));
	s.m.errors = must(metric_counter("diode_send_errors_total", NULL, "Failed sends (retried)."));
	s.m.heartbeats =
	        must(metric_counter("diode_send_heartbeats_total", NULL, "Heartbeat datagrams sent."));
	s.m.pruned = must(metric_counter("diode_send_pruned_bytes_total", NULL,
	                                 "Bytes of sent spool segments removed by retention."));
	s.m.retained = must(metric_gauge("diode_send_retained_bytes", NULL,
	                                 "Bytes of spool segments kept at the last retention pass."));
	if (s.conf.metrics_port && !(metrics = daemon_metrics_server(s.base, s.conf.metrics_listen,
	                                                             (int)s.conf.metrics_port, NULL, NULL)))
		goto out;
	/* Spools are opened as the user the daemon runs as, so every file it creates belongs to it. */
	if (daemon_drop_privileges(s.conf.user) != 0)
		goto out;
	exit_code = EX_IOERR;
	if (open_sources(&s, &log_key, !resend_origin) != 0 || (s.log && txlog_start(s.log) != TIP_OK) ||
	    (resend_origin && open_range(&s, resend_origin, resend_from, resend_to) != 0))
		goto out;
	exit_code = EX_OSERR;
	/* rate_mbit is the link's: every datagram byte counts, repair and headers included. The bucket
	 * holds 20 ms of the rate (at least one batch): on a busy machine the sender's wake-ups come late,
	 * by a scheduler slice or more, and what a smaller bucket cannot hold meanwhile is lost for good
	 * (sent with a receiver on the same 2 cores: 73% of the rate with 2 ms, 87% with 10 ms, 93% with
	 * 20 ms). */
	double rate = (double)s.conf.rate_mbit * 1e6 / 8, burst = rate * 0.02;
	if (burst < (double)(s.conf.batch * (long long)s.conf.datagram_size))
		burst = (double)(s.conf.batch * (long long)s.conf.datagram_size);
	pacer_init(&s.pacer, rate, burst, mono_ns());
	double share = rate * (double)s.conf.replay_share / 100;
	pacer_init(&s.replays, share, share * 0.002, mono_ns());
	s.pump = evtimer_new(s.base, on_pump, &s);
	s.beat = event_new(s.base, -1, EV_PERSIST, on_heartbeat, &s);
	ev_term = evsignal_new(s.base, SIGTERM, on_signal, &s);
	ev_int = evsignal_new(s.base, SIGINT, on_signal, &s);
	struct timeval beat_tv = {(time_t)(s.conf.heartbeat / 1000),
	                          (suseconds_t)(s.conf.heartbeat % 1000) * 1000};
	s.prune = event_new(s.base, -1, EV_PERSIST, on_prune, &s);
	struct timeval prune_tv = {(time_t)(s.conf.prune_interval / 1000),
	                           (suseconds_t)(s.conf.prune_interval % 1000) * 1000};
	if (!s.pump || !s.beat || !s.prune || !ev_term || !ev_int ||
	    (!s.range && event_add(s.beat, &beat_tv)) ||
	    (!s.range && s.conf.prune_interval && event_add(s.prune, &prune_tv)) ||
	    evsignal_add(ev_term, NULL) || evsignal_add(ev_int, NULL))
		goto out;
	schedule(&s, 1);
	log_info("sender started: %zu spools to %s port %lld at %lld Mbit/s (session %08x)", s.n_sources,
	         s.conf.destination, s.conf.port, s.conf.rate_mbit, session);
	event_base_dispatch(s.base);
	exit_code = s.exit_code;
out:
	key_wipe(&link);
	key_wipe(&log_key);
	txlog_free(s.log);
	http_server_free(metrics);
	if (s.pump)
		event_free(s.pump);
	if (s.beat)
		event_free(s.beat);
	if (s.prune)
		event_free(s.prune);
	if (ev_term)
		event_free(ev_term);
	if (ev_int)
		event_free(ev_int);
	link_tx_free(s.tx);
	for (size_t i = 0; i < s.n_sources; i++) {
		spool_reader_close(s.sources[i].live);
		for (size_t p = 0; p < s.n_replay; p++)
			spool_reader_close(s.sources[i].replay[p]);
		free(s.sources[i].chunks);
	}
	if (s.fd >= 0)
		close(s.fd);
	free(s.out);
	free(s.record);
	if (s.base)
		event_base_free(s.base);
	return exit_code;
}
