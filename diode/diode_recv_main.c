/*
 * diode-recv: the receiving end of a one-way link. Reads authenticated,
 * erasure-coded datagrams, rebuilds records, and delivers each exactly once, in
 * sequence order, to its origin's inbox spool. It never transmits on the link:
 * the link socket is bound and read, never connected, sent on or written to.
 * Every prune_interval (and once with "diode-recv prune -c FILE") inbox segments its consumer and
 * the auditors are done with, and old quarantine segments, are removed (diode/retention.h).
 *
 * Exit codes (sysexits.h): 0 clean stop; 64 usage; 78 configuration or keys
 * unusable; 71 cannot bind, drop privileges or enter the sandbox; 74 an inbox spool or the
 * transfer log cannot be opened or written; 65 either is corrupt.
 */
#include "common/daemon.h"
#include "common/encoding.h"
#include "common/err.h"
#include "common/net.h"
#include "common/log.h"
#include "common/sandbox.h"
#include "common/metrics.h"
#include "diode/conf.h"
#include "diode/deliver.h"
#include "diode/origins.h"
#include "diode/retention.h"
#include "diode/link.h"
#include "diode/rxlog.h"
#include "diode/udp_batch.h"
#include "proto/keyfile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#define GAP_CHECK_MS 1000

struct gap {
	int open, alerted;
	uint64_t from, to;
	uint64_t since_ms;
};

/* A record waiting for (or back from) a signature check on a verifier thread. */
struct vjob {
	struct deliver_check check;
	size_t len;
	struct vjob *next;
	uint8_t buf[];
};

struct vqueue {
	struct vjob *head, *tail;
};

struct receiver {
	struct diode_recv_conf conf;
	struct event_base *base;
	int fd;
	struct link_rx *rx;
	struct deliver *deliver;
	struct rxlog *log;
	uint64_t duplicates_logged;
	struct origins origins;
	struct gap gaps[ORIGINS_MAX];
	int unsynced, exit_code, queue_alarm;
	/* Signature checks run on verifier threads; records come back to the loop through an eventfd. */
	pthread_mutex_t vmu;
	pthread_cond_t vcv;
	struct vqueue vin, vout;
	size_t vbytes, n_verifiers;
	pthread_t *verifiers;
	int vstop, vfd;
	uint64_t vdropped;
	struct udpb_rx *io;
	struct {
		struct metric *datagrams, *bad[7], *records, *duplicates, *held, *dropped,
		        *rejected[REJECT_COUNT];
		struct metric *blocks_recovered, *blocks_lost, *symbols_rebuilt, *incomplete, *gaps_open,
		        *queue_pct;
		struct metric *sessions, *bytes, *unchecked;
		struct metric *pruned, *retained;
	} m;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int load_origin_keys(struct receiver *r)
{
	char bad[ORIGINS_PATH_MAX];
	int rc = origins_load(r->conf.origin_keys, &r->origins, bad);

	if (rc == TIP_OK)
		return 0;
	if (rc == TIP_EFORMAT)
		log_err("%s: not a usable origin signing key", bad);
	else if (rc == TIP_EIO)
		log_err("%s: %s", r->conf.origin_keys, strerror(errno));
	else if (rc == TIP_ENOTFOUND)
		log_err("%s: no origin keys (*.pub)", r->conf.origin_keys);
	else
		log_err("%s: %s", r->conf.origin_keys, tip_strerror(rc));
	return -1;
}

static int sync_inboxes(struct receiver *r);

static void vpush(struct vqueue *q, struct vjob *j)
{
	j->next = NULL;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
}

static void *verifier_main(void *arg)
{
	struct receiver *r = arg;
	uint64_t one = 1;

	pthread_setname_np(pthread_self(), "verify");
	pthread_mutex_lock(&r->vmu);
	for (;;) {
		struct vjob *j;

		while (!r->vin.head && !r->vstop)
			pthread_cond_wait(&r->vcv, &r->vmu);
		if (!(j = r->vin.head))
			break;
		r->vin.head = j->next;
		if (!r->vin.head)
			r->vin.tail = NULL;
		pthread_mutex_unlock(&r->vmu);
		deliver_check(r->deliver, j->buf, j->len, &j->check);
		pthread_mutex_lock(&r->vmu);
		vpush(&r->vout, j);
		if (write(r->vfd, &one, sizeof(one)) < 0) {
			/* The counter cannot overflow in practice; the next wake-up drains this job too. */
		}
	}
	pthread_mutex_unlock(&r->vmu);
	return NULL;
}

static void deliver_one(struct receiver *r, const uint8_t *rec, size_t len, const struct deliver_check *c)
{
	enum deliver_reason why;
	int rc = deliver_checked(r->deliver, rec, len, c, &why);

	if (rc < 0) {
		log_err("inbox: %s; stopping", tip_strerror(rc));
		r->exit_code = EX_IOERR;
		event_base_loopbreak(r->base);
		return;
	}
	if (rc == DELIVER_REJECTED) {
		/* The origin and seq are known once the record decoded and named a configured origin. */
		int named = why != REJECT_DECODE && why != REJECT_ORIGIN;
		char hash[2 * REC_HASH_LEN + 1], seq[24];

		hex_encode(c->hash, REC_HASH_LEN, hash, sizeof(hash));
		snprintf(seq, sizeof(seq), "%llu", (unsigned long long)c->seq);
		log_warn("record rejected (%s), kept in quarantine", deliver_reason_name(why));
		rxlog_event(r->log, "reject %s %s %s %s", named ? r->origins.list[c->origin].name : "-",
		            named ? seq : "-", deliver_reason_name(why), why == REJECT_DECODE ? "-" : hash);
	}
	if (rc == DELIVER_NEXT)
		r->unsynced = 1;
}

/* Records that came back from the verifiers, delivered on the loop thread. */
static void on_verified(evutil_socket_t fd, short what, void *arg)
{
	struct receiver *r = arg;
	struct vjob *j;
	uint64_t n;
	(void)what;

	if (read(fd, &n, sizeof(n)) < 0) {
		/* EAGAIN: drained by an earlier wake-up. */
	}
	pthread_mutex_lock(&r->vmu);
	j = r->vout.head;
	r->vout.head = r->vout.tail = NULL;
	pthread_mutex_unlock(&r->vmu);
	while (j) {
		struct vjob *next = j->next;

		pthread_mutex_lock(&r->vmu);
		r->vbytes -= j->len;
		pthread_mutex_unlock(&r->vmu);
		if (!r->exit_code)
			deliver_one(r, j->buf, j->len, &j->check);
		free(j);
		j = next;
	}
	if (r->conf.sync_interval == 0)
		sync_inboxes(r);
}

/* A record from the link: to a verifier thread, or dropped (a replay brings it) when too many wait. */
static void on_record(void *arg, uint64_t tid, const uint8_t *rec, size_t len)
{
	struct receiver *r = arg;
	struct vjob *j;
	(void)tid;

	pthread_mutex_lock(&r->vmu);
	if (r->vbytes + len > r->conf.verify_bytes || !(j = malloc(sizeof(*j) + len))) {
		r->vdropped++;
		pthread_mutex_unlock(&r->vmu);
		return;
	}
	r->vbytes += len;
	pthread_mutex_unlock(&r->vmu);
	memcpy(j->buf, rec, len);
	j->len = len;
	pthread_mutex_lock(&r->vmu);
	vpush(&r->vin, j);
	pthread_cond_signal(&r->vcv);
	pthread_mutex_unlock(&r->vmu);
}

static void on_heartbeat(void *arg, uint32_t session, const struct stream_hb_origin *o, size_t n)
{
	struct receiver *r = arg;
	(void)session;

	for (size_t i = 0; i < n; i++)
		if (o[i].has_seq)
			deliver_note_highest(r->deliver, o[i].origin, o[i].highest_seq);
}

static int sync_inboxes(struct receiver *r)
{
	int rc;

	if (!r->unsynced)
		return 0;
	if ((rc = deliver_sync(r->deliver)) != TIP_OK) {
		log_err("inbox sync: %s; stopping", tip_strerror(rc));
		r->exit_code = EX_IOERR;
		event_base_loopbreak(r->base);
		return -1;
	}
	r->unsynced = 0;
	return 0;
}

/* Socket queue occupancy in percent, from the kernel's memory accounting of the socket. */
static int queue_percent(int fd)
{
	uint32_t mem[SK_MEMINFO_VARS];
	socklen_t len = sizeof(mem);

	if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) != 0 || !mem[SK_MEMINFO_RCVBUF])
		return -1;
	return (int)((uint64_t)mem[SK_MEMINFO_RMEM_ALLOC] * 100 / mem[SK_MEMINFO_RCVBUF]);
}

static void on_datagram(void *arg, const uint8_t *dg, size_t len)
{
	struct receiver *r = arg;

	metric_add(r->m.bytes, len);
	link_rx_datagram(r->rx, dg, len, (uint32_t)mono_ms());
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct receiver *r = arg;
	(void)what;

	/* A bounded number of datagrams per wake-up, so timers (sync, gaps) keep their turn. */
	for (size_t seen = 0; seen < 16 * (size_t)r->conf.batch;) {
		int more;

		seen += udpb_recv(r->io, fd, on_datagram, r, &more);
		if (r->exit_code)
			return;
		if (!more)
			break;
	}
	int pct = queue_percent(fd);

	metric_set(r->m.queue_pct, pct);
	if (pct >= 80 && !r->queue_alarm)
		log_warn("socket receive queue %d%% full: datagrams will be dropped (raise rcvbuf)", pct);
	r->queue_alarm = pct >= 80;
	if (r->conf.sync_interval == 0)
		sync_inboxes(r);
}

static void on_sync(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sync_inboxes(arg);
}

/* Gaps: records the heartbeats (or later records) say exist but that have not arrived. */
static void on_gap_check(evutil_socket_t fd, short what, void *arg)
{
	struct receiver *r = arg;
	uint64_t now = mono_ms(), open = 0;
	(void)fd;
	(void)what;

	link_rx_expire(r->rx, (uint32_t)now, (uint32_t)r->conf.block_age);
	for (size_t i = 0; i < r->origins.n; i++) {
		struct gap *g = &r->gaps[i];
		uint64_t next, highest;
		int known;

		deliver_position(r->deliver, r->origins.list[i].name, &next, &highest, &known);
		if (known && highest >= next) {
			if (!g->open) {
				g->open = 1;
				g->alerted = 0;
				g->from = next;
				g->since_ms = now;
			}
			g->to = highest;
			if (!g->alerted && now - g->since_ms >= (uint64_t)r->conf.gap_timeout) {
				log_err("gap: origin %s records %llu..%llu missing for %llu s",
				        r->origins.list[i].name, (unsigned long long)next,
				        (unsigned long long)highest,
				        (unsigned long long)((now - g->since_ms) / 1000));
				rxlog_event(r->log, "gap-open %s %llu %llu", r->origins.list[i].name,
				            (unsigned long long)next, (unsigned long long)highest);
				g->alerted = 1;
			}
			open += g->alerted;
		} else if (g->open) {
			if (g->alerted) {
				log_info("gap closed: origin %s records %llu..%llu arrived",
				         r->origins.list[i].name, (unsigned long long)g->from,
				         (unsigned long long)g->to);
				rxlog_event(r->log, "gap-close %s %llu %llu", r->origins.list[i].name,
				            (unsigned long long)g->from, (unsigned long long)g->to);
			}
			g->open = 0;
		}
	}
	metric_set(r->m.gaps_open, (int64_t)open);
	uint64_t dup = deliver_stats(r->deliver)->duplicates;
	if (dup > r->duplicates_logged) {
		rxlog_event(r->log, "duplicates %llu", (unsigned long long)(dup - r->duplicates_logged));
		r->duplicates_logged = dup;
	}
	if (rxlog_status(r->log) != TIP_OK) {
		r->exit_code = EX_IOERR; /* the log's thread said why */
		event_base_loopbreak(r->base);
	}
}

static void refresh_metrics(void *arg)
{
	struct receiver *r = arg;
	struct link_rx_stats s;
	const struct deliver_stats *d = deliver_stats(r->deliver);
	uint64_t bad[7];

	link_rx_stats(r->rx, &s);
	bad[0] = s.bad_short;
	bad[1] = s.bad_long;
	bad[2] = s.bad_magic;
	bad[3] = s.bad_version;
	bad[4] = s.bad_crc;
	bad[5] = s.bad_mac;
	bad[6] = s.bad_header;
	for (int i = 0; i < 7; i++)
		metric_set(r->m.bad[i], (int64_t)bad[i]);
	metric_set(r->m.datagrams, (int64_t)s.datagrams);
	metric_set(r->m.sessions, (int64_t)s.sessions);
	metric_set(r->m.blocks_recovered, (int64_t)s.blocks_recovered);
	metric_set(r->m.blocks_lost, (int64_t)s.blocks_lost);
	metric_set(r->m.symbols_rebuilt, (int64_t)s.symbols_rebuilt);
	metric_set(r->m.incomplete, (int64_t)(s.stream.incomplete + s.stream.evicted));
	metric_set(r->m.records, (int64_t)d->delivered);
	pthread_mutex_lock(&r->vmu);
	metric_set(r->m.unchecked, (int64_t)r->vdropped);
	pthread_mutex_unlock(&r->vmu);
	metric_set(r->m.duplicates, (int64_t)d->duplicates);
	metric_set(r->m.held, (int64_t)d->held_bytes);
	metric_set(r->m.dropped, (int64_t)d->dropped);
	for (int i = 0; i < REJECT_COUNT; i++)
		metric_set(r->m.rejected[i], (int64_t)d->rejected[i]);
}

static struct metric *must(struct metric *m)
{
	if (!m)
		abort(); /* a fixed set registered once at start */
	return m;
}

static void register_metrics(struct receiver *r)
{
	static const char *const bad[7] = {"reason=\"short\"",   "reason=\"long\"", "reason=\"magic\"",
	                                   "reason=\"version\"", "reason=\"crc\"",  "reason=\"mac\"",
	                                   "reason=\"header\""};
	static const char *const rej[REJECT_COUNT] = {"reason=\"decode\"", "reason=\"origin\"",
	                                              "reason=\"key\"", "reason=\"signature\"",
	                                              "reason=\"fork\""};

	r->m.bytes = must(metric_counter("diode_recv_bytes_total", NULL, "Bytes of datagrams received."));
	r->m.datagrams = must(metric_gauge("diode_recv_datagrams_total", NULL, "Authenticated datagrams."));
	for (int i = 0; i < 7; i++)
		r->m.bad[i] = must(
		        metric_gauge("diode_recv_datagrams_refused_total", bad[i], "Datagrams refused."));
	r->m.sessions = must(metric_gauge("diode_recv_sessions_total", NULL, "Sender sessions seen."));
	r->m.blocks_recovered = must(metric_gauge("diode_recv_blocks_recovered_total", NULL,
	                                          "Blocks rebuilt with repair symbols."));
	r->m.blocks_lost =
	        must(metric_gauge("diode_recv_blocks_lost_total", NULL, "Blocks that could not be rebuilt."));
	r->m.symbols_rebuilt =
	        must(metric_gauge("diode_recv_symbols_rebuilt_total", NULL, "Data symbols rebuilt."));
	r->m.incomplete =
	        must(metric_gauge("diode_recv_records_incomplete_total", NULL,
	                          "Records dropped for lost blocks or memory (replay brings them)."));
	r->m.records = must(metric_gauge("diode_recv_records_delivered_total", NULL, "Records delivered."));
	r->m.duplicates =
	        must(metric_gauge("diode_recv_records_duplicate_total", NULL, "Duplicate records dropped."));
	r->m.held = must(metric_gauge("diode_recv_held_bytes", NULL, "Records waiting for a gap to fill."));
	r->m.dropped = must(
	        metric_gauge("diode_recv_records_unheld_total", NULL, "Records past the holding memory."));
	for (int i = 0; i < REJECT_COUNT; i++)
		r->m.rejected[i] = must(
		        metric_gauge("diode_recv_records_rejected_total", rej[i], "Records quarantined."));
	r->m.unchecked = must(metric_gauge(
	        "diode_recv_records_unchecked_total", NULL,
	        "Records dropped while too many waited for a signature check (replay brings them)."));
	r->m.gaps_open = must(metric_gauge("diode_recv_gaps_open", NULL, "Origins with an alerted gap."));
	r->m.queue_pct =
	        must(metric_gauge("diode_recv_socket_queue_percent", NULL, "Socket receive queue use."));
	r->m.pruned = must(
	        metric_counter("diode_recv_pruned_bytes_total", NULL,
	                       "Bytes of consumed inbox and old quarantine segments removed by retention."));
	r->m.retained =
	        must(metric_gauge("diode_recv_retained_bytes", NULL,
	                          "Bytes of inbox and quarantine segments kept at the last retention pass."));
}

/* Binds the link socket and sizes its receive buffer; warns when the kernel caps it. */
static int open_socket(struct receiver *r)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int size = r->conf.rcvbuf > INT32_MAX / 2 ? INT32_MAX / 2 : (int)r->conf.rcvbuf, got = 0;
	socklen_t glen = sizeof(got);

	if (net_addr(r->conf.listen, (int)r->conf.port, &ss, &len) != TIP_OK) {
		log_err("listen: %s is not a numeric address", r->conf.listen);
		return -1;
	}
	r->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->fd < 0 || bind(r->fd, (struct sockaddr *)&ss, len) != 0) {
		log_err("cannot bind %s port %lld: %s", r->conf.listen, r->conf.port, strerror(errno));
		return -1;
	}
	/* As root the kernel's cap can be passed (SO_RCVBUFFORCE); otherwise net.core.rmem_max applies. */
	if (setsockopt(r->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0)
		setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	getsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &got, &glen);
	if ((size_t)got / 2 < r->conf.rcvbuf)
		log_warn("receive buffer is %d bytes, not the %zu asked for: raise the sysctl "
		         "net.core.rmem_max",
		         got / 2, r->conf.rcvbuf);
	len = sizeof(ss);
	getsockname(r->fd, (struct sockaddr *)&ss, &len);
	log_info("listening on %s:%d (udp)", r->conf.listen, net_port(&ss));
	return 0;
}

/* Retention over every origin's inbox and the quarantine (never the transfer log). */
static int prune(struct receiver *r)
{
	static struct retention_item items[ORIGINS_MAX + 1];
	static char what[ORIGINS_MAX][REC_ORIGIN_MAX + 8], dirs[ORIGINS_MAX][2 * DIODE_PATH_MAX];
	struct spool_prune_stats st;
	size_t n = 0;
	int rc;

	for (; n < r->origins.n; n++) {
		snprintf(what[n], sizeof(what[n]), "inbox %s", r->origins.list[n].name);
		snprintf(dirs[n], sizeof(dirs[n]), "%s/%s", r->conf.inbox, r->origins.list[n].name);
		items[n] = (struct retention_item){what[n], dirs[n], r->conf.inbox_reader,
		                                   r->conf.keep_delivered};
	}
	items[n++] = (struct retention_item){"quarantine", r->conf.quarantine, NULL, r->conf.keep_quarantine};
	rc = retention_run(items, n, r->conf.prune_audited, &st);
	if (r->m.pruned) {
		metric_add(r->m.pruned, st.removed_bytes);
		metric_set(r->m.retained, (int64_t)st.kept_bytes);
	}
	return rc;
}

static void on_prune(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	prune(arg);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct receiver *r = arg;
	(void)what;

	log_info("signal %d: stopping", (int)sig);
	event_base_loopbreak(r->base);
}

int main(int argc, char **argv)
{
	static struct receiver r = {
	        .vmu = PTHREAD_MUTEX_INITIALIZER, .vcv = PTHREAD_COND_INITIALIZER, .vfd = -1};
	struct key link, cosign_key, event_key;
	struct http_server *metrics = NULL;
	struct event *ev_verified = NULL, *ev_read = NULL, *ev_sync = NULL, *ev_gap = NULL, *ev_term = NULL,
	             *ev_int = NULL, *ev_prune = NULL;
	struct sandbox *sandbox = NULL;
	int check, err, exit_code = EX_CONFIG;
	int prune_once = argc > 1 && strcmp(argv[1], "prune") == 0;

	if (prune_once) {
		/* "prune -c FILE": the retention pass once, beside the running daemon. */
		argc--;
		argv++;
	}
	log_init("diode-recv", 0, LOG_INFO);
	check = daemon_settings(argc, argv, "diode-recv", diode_recv_table, diode_recv_entries, &r.conf,
	                        NULL);
	log_init("diode-recv", r.conf.syslog, r.conf.debug ? LOG_DEBUG : LOG_INFO);
	r.fd = -1;
	memset(&link, 0, sizeof(link));
	memset(&cosign_key, 0, sizeof(cosign_key));
	memset(&event_key, 0, sizeof(event_key));
	if (key_read_private(r.conf.link_key, &link) != TIP_OK || link.type != KEY_LINK) {
		log_err("%s: not a usable link key", r.conf.link_key);
		goto out;
	}
	if (key_read_private(r.conf.cosign_key, &cosign_key) != TIP_OK || cosign_key.type != KEY_COSIGN) {
		log_err("%s: not a usable cosignature key (tipkey cosign)", r.conf.cosign_key);
		goto out;
	}
	if (key_read_private(r.conf.event_key, &event_key) != TIP_OK || event_key.type != KEY_ED25519) {
		log_err("%s: not a usable event-log key (tipkey sign)", r.conf.event_key);
		goto out;
	}
	if (load_origin_keys(&r) != 0)
		goto out;
	if (prune_once) {
		exit_code = prune(&r) == 0 ? 0 : EX_IOERR;
		goto out;
	}
	if (check) {
		printf("configuration ok: %zu origins\n", r.origins.n);
		exit_code = 0;
		goto out;
	}
	exit_code = EX_OSERR;
	signal(SIGPIPE, SIG_IGN);
	r.base = event_base_new();
	if (!r.base || open_socket(&r) != 0)
		goto out;

	/* Spools are opened as the user the daemon runs as, so every file in them belongs to it. */
	if (daemon_drop_privileges(r.conf.user) != 0)
		goto out;

	struct deliver_conf dc = {
	        .inbox_dir = r.conf.inbox,
	        .quarantine_dir = r.conf.quarantine,
	        .spool = spool_opts_default(),
	        .origins = r.origins.list,
	        .n_origins = r.origins.n,
	        .max_record = r.conf.max_record,
	        .max_held_bytes = r.conf.held_bytes,
	};
	dc.spool.max_record = r.conf.max_record + 1;
	if (!(r.deliver = deliver_new(&dc, &err))) {
		log_err("inbox %s: %s", r.conf.inbox, tip_strerror(err));
		exit_code = err == TIP_ECORRUPT ? EX_DATAERR : EX_IOERR;
		goto out;
	}
	struct rxlog_conf lc = {r.conf.log_dir,
	                        r.conf.inbox,
	                        &cosign_key,
	                        &event_key,
	                        r.origins.keys,
	                        r.origins.n,
	                        (uint64_t)r.conf.checkpoint_records,
	                        (uint64_t)r.conf.checkpoint_interval,
	                        dc.spool};
	if (!(r.log = rxlog_open(&lc, &err)) || (err = rxlog_start(r.log)) != TIP_OK) {
		log_err("transfer log %s: %s", r.conf.log_dir, tip_strerror(err));
		exit_code = err == TIP_ECORRUPT ? EX_DATAERR : EX_IOERR;
		goto out;
	}
	key_wipe(&cosign_key);
	key_wipe(&event_key);
	struct link_rx_opts lo = link_rx_opts_default();
	struct link_rx_cb cb = {on_record, on_heartbeat, &r};
	lo.datagram_size = r.conf.datagram_size;
	lo.window_blocks = (size_t)r.conf.window_blocks;
	lo.block_mem = r.conf.block_mem;
	lo.stream.max_record = r.conf.max_record;
	lo.stream.mem_cap = r.conf.reassembly_bytes;
	if (!(r.rx = link_rx_new(&lo, link.secret, &cb, &err))) {
		log_err("link: %s", tip_strerror(err));
		exit_code = EX_CONFIG;
		goto out;
	}
	key_wipe(&link);
	if (!(r.io = udpb_rx_new(r.fd, (size_t)r.conf.batch)))
		goto out;
	r.n_verifiers =
	        r.conf.verify_threads ? (size_t)r.conf.verify_threads : (size_t)sysconf(_SC_NPROCESSORS_ONLN);
	if ((r.vfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
	    !(r.verifiers = calloc(r.n_verifiers, sizeof(*r.verifiers))))
		goto out;
	for (size_t i = 0; i < r.n_verifiers; i++)
		if (pthread_create(&r.verifiers[i], NULL, verifier_main, &r) != 0) {
			r.n_verifiers = i;
			goto out;
		}
	register_metrics(&r);
	if (r.conf.metrics_port &&
	    !(metrics = daemon_metrics_server(r.base, r.conf.metrics_listen, (int)r.conf.metrics_port,
	                                      refresh_metrics, &r)))
		goto out;
	ev_verified = event_new(r.base, r.vfd, EV_READ | EV_PERSIST, on_verified, &r);
	ev_read = event_new(r.base, r.fd, EV_READ | EV_PERSIST, on_readable, &r);
	ev_sync = event_new(r.base, -1, EV_PERSIST, on_sync, &r);
	ev_gap = event_new(r.base, -1, EV_PERSIST, on_gap_check, &r);
	ev_prune = event_new(r.base, -1, EV_PERSIST, on_prune, &r);
	ev_term = evsignal_new(r.base, SIGTERM, on_signal, &r);
	ev_int = evsignal_new(r.base, SIGINT, on_signal, &r);
	struct timeval sync_tv = {(time_t)(r.conf.sync_interval / 1000),
	                          (suseconds_t)(r.conf.sync_interval % 1000) * 1000};
	struct timeval gap_tv = {GAP_CHECK_MS / 1000, 0};
	struct timeval prune_tv = {(time_t)(r.conf.prune_interval / 1000),
	                           (suseconds_t)(r.conf.prune_interval % 1000) * 1000};
	if (!ev_verified || !ev_read || !ev_sync || !ev_gap || !ev_prune || !ev_term || !ev_int ||
	    (r.conf.prune_interval && event_add(ev_prune, &prune_tv)) || event_add(ev_verified, NULL) ||
	    event_add(ev_read, NULL) || (r.conf.sync_interval && event_add(ev_sync, &sync_tv)) ||
	    event_add(ev_gap, &gap_tv) || evsignal_add(ev_term, NULL) || evsignal_add(ev_int, NULL))
		goto out;
	log_info("%zu origins; inbox %s", r.origins.n, r.conf.inbox);
	/* Everything is open and every thread started: from here on, only the allow-list. */
	if (!(sandbox = sandbox_init(SANDBOX_DIODE_RECV)) || sandbox_apply(sandbox) != TIP_OK)
		goto out;
	event_base_dispatch(r.base);
	exit_code = r.exit_code;
	if (!exit_code && sync_inboxes(&r) != 0)
		exit_code = EX_IOERR;
out:
	/* Verifiers stop after the queue; what they checked last is delivered before the inboxes close. */
	pthread_mutex_lock(&r.vmu);
	r.vstop = 1;
	pthread_cond_broadcast(&r.vcv);
	pthread_mutex_unlock(&r.vmu);
	for (size_t i = 0; i < r.n_verifiers; i++)
		pthread_join(r.verifiers[i], NULL);
	if (r.deliver && r.vfd >= 0) {
		on_verified(r.vfd, EV_READ, &r);
		if (!exit_code && sync_inboxes(&r) != 0)
			exit_code = EX_IOERR;
	}
	free(r.verifiers);
	if (r.vfd >= 0)
		close(r.vfd);
	if (ev_verified)
		event_free(ev_verified);
	key_wipe(&link);
	key_wipe(&cosign_key);
	key_wipe(&event_key);
	http_server_free(metrics);
	if (ev_read)
		event_free(ev_read);
	if (ev_sync)
		event_free(ev_sync);
	if (ev_gap)
		event_free(ev_gap);
	if (ev_prune)
		event_free(ev_prune);
	if (ev_term)
		event_free(ev_term);
	if (ev_int)
		event_free(ev_int);
	link_rx_free(r.rx);
	rxlog_free(r.log); /* after the last delivery and sync: it reads the inbox up to its end */
	deliver_free(r.deliver);
	origins_free(&r.origins);
	if (r.fd >= 0)
		close(r.fd);
	udpb_rx_free(r.io);
	if (r.base)
		event_base_free(r.base);
	return exit_code;
}
