/*
 * What the diode link costs per byte and per datagram, for D = 1452 (1400-byte symbols):
 *   - FEC encode and decode throughput for several (k, m); decode at 5% independent loss and at the
 *     worst case of m erasures, split into the coefficient set-up and the ISA-L pass over the data
 *     (the figure that decides whether caching decode tables per erasure pattern would pay);
 *   - datagram seal and open rates (CRC32C + HMAC-SHA256);
 *   - the whole link on one core: records -> datagrams (sender) and datagrams -> records
 *     (receiver) at 0% and 5% loss, as goodput in Mbit/s of record bytes;
 *   - the loss model: P(block unrecoverable) at 5% independent loss, computed exactly.
 * Output: a table, then one line
 *   bench fec: key=value ...
 */
#include "common/err.h"
#include "diode/datagram.h"
#include "diode/fec.h"
#include "diode/link.h"

#include <isa-l/erasure_code.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S       (DG_SIZE_DEFAULT - DG_OVERHEAD)
#define SECONDS 0.7

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 88172645463325252u;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double rnd01(void)
{
	return (double)(rnd() >> 11) / 9007199254740992.0;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_fec: %s: %s\n", what, tip_strerror(rc));
	exit(1);
}

/* P(more than m of n symbols lost) for independent loss p: the exact binomial tail, term by term
 * from P(0 lost) = (1 - p)^n with P(i + 1) = P(i) * (n - i) / (i + 1) * p / (1 - p). */
static double p_block_lost(unsigned n, unsigned m, double p)
{
	double term = 1, sum = 0;

	for (unsigned i = 0; i < n; i++)
		term *= 1 - p;
	for (unsigned i = 0; i <= n; i++) {
		if (i > m)
			sum += term;
		term *= (double)(n - i) / (i + 1) * p / (1 - p);
	}
	return sum;
}

struct geom {
	unsigned k, m;
	double enc, dec5, decm, setup_us, data_us, plost;
};

static double bench_encode(unsigned k, unsigned m)
{
	int err;
	struct fec *f = fec_new(k, m, S, &err);
	uint8_t *data = malloc((size_t)k * S), *repair = malloc((size_t)m * S);
	double t0 = now(), t;
	uint64_t blocks = 0;

	if (!f)
		die("fec_new", err);
	for (size_t i = 0; i < (size_t)k * S; i++)
		data[i] = (uint8_t)rnd();
	do {
		for (int i = 0; i < 16; i++)
			fec_encode(f, data, repair);
		blocks += 16;
		t = now() - t0;
	} while (t < SECONDS);
	fec_free(f);
	free(data);
	free(repair);
	return (double)blocks * k * S / t / 1e6;
}

/*
 * Receives blocks symbol by symbol in index order with each symbol lost with probability p (p < 0:
 * exactly the first m data symbols lost), decodes, and returns MB/s of data. *rebuilt_avg gets the
 * mean number of data symbols rebuilt per block.
 */
static double bench_decode(unsigned k, unsigned m, double p, double *rebuilt_avg)
{
	int err;
	struct fec *f = fec_new(k, m, S, &err);
	struct fec_pool *pool = fec_pool_new(S, (size_t)4 << 20, &err);
	uint8_t *sym = malloc((size_t)(k + m) * S);
	double t0, t, busy = 0;
	uint64_t blocks = 0, rebuilt_sum = 0;

	if (!f || !pool)
		die("fec", err);
	for (size_t i = 0; i < (size_t)k * S; i++)
		sym[i] = (uint8_t)rnd();
	fec_encode(f, sym, sym + (size_t)k * S);
	t0 = now();
	do {
		uint8_t lost[FEC_N_MAX];
		unsigned nlost = 0;
		struct fec_block *b;
		const uint8_t *out;
		unsigned rebuilt;
		double t1;

		/* The loss pattern is drawn outside the timed part. */
		do {
			nlost = 0;
			for (unsigned i = 0; i < k + m; i++) {
				lost[i] = p < 0 ? i < m : rnd01() < p;
				nlost += lost[i];
			}
		} while (nlost > m);
		t1 = now();
		if (!(b = fec_block_new(pool, k, m, &err)))
			die("block", err);
		for (unsigned i = 0; i < k + m && !fec_block_ready(b); i++)
			if (!lost[i])
				fec_block_add(b, k, m, i, sym + (size_t)i * S);
		if ((err = fec_block_decode(b, &out, &rebuilt)) != TIP_OK)
			die("decode", err);
		fec_block_free(b);
		busy += now() - t1;
		rebuilt_sum += rebuilt;
		blocks++;
		t = now() - t0;
	} while (t < SECONDS);
	*rebuilt_avg = (double)rebuilt_sum / (double)blocks;
	fec_pool_free(pool);
	fec_free(f);
	free(sym);
	return (double)blocks * k * S / busy / 1e6;
}

/* The two parts of rebuilding r symbols from k: coefficient set-up (the r x r inversion and the
 * r x k products, done by fec_block_decode itself, plus ec_init_tables) and the pass over the data.
 * The data pass is timed alone here with ISA-L; set-up is the whole decode minus it. */
static void bench_split(unsigned k, unsigned m, double *setup_us, double *data_us)
{
	int err;
	struct fec *f = fec_new(k, m, S, &err);
	struct fec_pool *pool = fec_pool_new(S, (size_t)4 << 20, &err);
	uint8_t *sym = malloc((size_t)(k + m) * S), *coef = malloc((size_t)k * m),
	        *tables = malloc((size_t)32 * k * m);
	uint8_t *src[FEC_N_MAX], *dst[FEC_N_MAX];
	unsigned r = m;
	int rounds = 400;
	double t0, whole, pass;

	for (size_t i = 0; i < (size_t)k * S; i++)
		sym[i] = (uint8_t)rnd();
	fec_encode(f, sym, sym + (size_t)k * S);
	for (size_t i = 0; i < (size_t)k * m; i++)
		coef[i] = (uint8_t)(rnd() | 1);
	for (unsigned i = 0; i < k; i++)
		src[i] = sym + (size_t)(i + r) * S; /* the surviving symbols: data r..k-1, repair 0..r-1 */
	for (unsigned i = 0; i < r; i++)
		dst[i] = sym + (size_t)i * S;
	whole = 0;
	for (int n = 0; n < rounds; n++) {
		struct fec_block *b = fec_block_new(pool, k, m, &err);
		const uint8_t *out;

		for (unsigned i = r; i < k + m; i++)
			fec_block_add(b, k, m, i, sym + (size_t)i * S);
		t0 = now();
		fec_block_decode(b, &out, NULL);
		whole += now() - t0;
		fec_block_free(b);
	}
	whole /= rounds;
	ec_init_tables((int)k, (int)r, coef, tables);
	t0 = now();
	for (int n = 0; n < rounds; n++)
		ec_encode_data(S, (int)k, (int)r, tables, src, dst);
	pass = (now() - t0) / rounds;
	*data_us = pass * 1e6;
	*setup_us = whole > pass ? (whole - pass) * 1e6 : 0;
	fec_pool_free(pool);
	fec_free(f);
	free(sym);
	free(coef);
	free(tables);
}

static void bench_datagram(double *seal_rate, double *open_rate)
{
	uint8_t key[DG_KEY_LEN] = {1}, payload[S], out[DG_SIZE_DEFAULT];
	struct dg_key *k = dg_key_new(key);
	struct dg_header h = {.type = DG_SYMBOL, .k = 200, .m = 30, .symbol_size = S}, got;
	const uint8_t *p;
	uint64_t n = 0;
	double t0 = now(), t;

	memset(payload, 7, sizeof(payload));
	do {
		for (int i = 0; i < 256; i++, n++) {
			h.packet = (uint32_t)n;
			dg_seal(k, &h, payload, S, out, sizeof(out));
		}
		t = now() - t0;
	} while (t < SECONDS);
	*seal_rate = (double)n / t;
	n = 0;
	t0 = now();
	do {
		for (int i = 0; i < 256; i++, n++)
			if (dg_open(k, out, sizeof(out), sizeof(out), &got, &p) != TIP_OK)
				die("open", TIP_EVERIFY);
		t = now() - t0;
	} while (t < SECONDS);
	*open_rate = (double)n / t;
	dg_key_free(k);
}

/* ---- the whole link ---- */

struct count {
	uint64_t records, bytes;
};

static void on_record(void *arg, uint64_t tid, const uint8_t *rec, size_t len)
{
	struct count *c = arg;

	(void)tid;
	(void)rec;
	c->records++;
	c->bytes += len;
}

/*
 * Sender: records of 2 KiB (a typical sealed report) into datagrams, for a fixed time; the
 * datagrams land in a ring buffer that the receiver run then replays with loss p. Returns the
 * sender's goodput (record Mbit/s) and stores the receiver's in *rx_mbps.
 */
static double bench_link(const struct link_params *lp, double p, double *rx_mbps, double *dg_rate)
{
	enum { REC = 2048 };
	int err;
	uint8_t key[DG_KEY_LEN] = {3}, rec[REC];
	struct link_tx *tx = link_tx_new(lp, key, 1, &err);
	size_t d = lp->datagram_size, cap = 60000, n = 0;
	uint8_t *ring = malloc(cap * d);
	struct count c = {0};
	struct link_rx_cb cb = {.record = on_record, .arg = &c};
	struct link_rx *rx;
	struct link_rx_opts ro = link_rx_opts_default();
	uint64_t records = 0, sent = 0;
	double t0, t, tx_s, busy = 0;

	if (!tx)
		die("link_tx_new", err);
	memset(rec, 0x42, sizeof(rec));
	t0 = now();
	do {
		for (int i = 0; i < 64; i++) {
			if (link_tx_put(tx, rec, REC, NULL) != TIP_OK)
				die("put", TIP_EBUSY);
			records++;
			while (link_tx_next(tx, ring + (n % cap) * d, (uint32_t)records)) {
				n++;
				sent++;
			}
		}
		tx_s = now() - t0;
	} while (tx_s < 2 * SECONDS);
	*dg_rate = (double)sent / tx_s;
	/* Receiver: the last `cap` datagrams (whole groups from a group boundary), with loss. */
	ro.datagram_size = d;
	if (!(rx = link_rx_new(&ro, key, &cb, &err)))
		die("link_rx_new", err);
	{
		size_t count = n < cap ? n : cap, first = n - count,
		       group = (size_t)lp->depth * (lp->k + lp->m);
		uint8_t *keep = malloc(count);

		/* Start at a group boundary so the receiver sees whole blocks. */
		first = (first + group - 1) / group * group;
		for (size_t i = first; i < n; i++)
			keep[i - first] = !(rnd01() < p);
		t0 = now();
		for (size_t i = first; i < n; i++)
			if (keep[i - first])
				link_rx_datagram(rx, ring + (i % cap) * d, d, 0);
		busy = now() - t0;
		free(keep);
	}
	t = busy;
	*rx_mbps = (double)c.bytes * 8 / t / 1e6;
	link_rx_free(rx);
	link_tx_free(tx);
	free(ring);
	return (double)records * REC * 8 / tx_s / 1e6;
}

int main(void)
{
	static struct geom g[] = {{.k = 32, .m = 4},   {.k = 64, .m = 8},   {.k = 100, .m = 15},
	                          {.k = 128, .m = 19}, {.k = 200, .m = 30}, {.k = 220, .m = 33}};
	const size_t ng = sizeof(g) / sizeof(g[0]);
	struct link_params lp = link_params_default();
	double seal, open, tx0, rx0, rx5, dg_rate, dummy, rebuilt5 = 0, rebuiltm;

	printf("| k | m | repair | P(block lost) at 5%% | encode MB/s | decode MB/s at 5%% | decode MB/s at "
	       "m lost | set-up us | data us |\n");
	printf("|---|---|---|---|---|---|---|---|---|\n");
	for (size_t i = 0; i < ng; i++) {
		double r5;

		g[i].plost = p_block_lost(g[i].k + g[i].m, g[i].m, 0.05);
		g[i].enc = bench_encode(g[i].k, g[i].m);
		g[i].dec5 = bench_decode(g[i].k, g[i].m, 0.05, &r5);
		g[i].decm = bench_decode(g[i].k, g[i].m, -1, &rebuiltm);
		bench_split(g[i].k, g[i].m, &g[i].setup_us, &g[i].data_us);
		if (g[i].k == lp.k && g[i].m == lp.m)
			rebuilt5 = r5;
		printf("| %u | %u | %.1f%% | %.2g | %.0f | %.0f | %.0f | %.1f | %.1f |\n", g[i].k, g[i].m,
		       100.0 * g[i].m / g[i].k, g[i].plost, g[i].enc, g[i].dec5, g[i].decm, g[i].setup_us,
		       g[i].data_us);
	}
	bench_datagram(&seal, &open);
	printf("datagram D=%d: seal %.0f/s, open %.0f/s\n", DG_SIZE_DEFAULT, seal, open);
	tx0 = bench_link(&lp, 0, &rx0, &dg_rate);
	bench_link(&lp, 0.05, &rx5, &dummy);
	printf("link (%u,%u,depth %u), 2 KiB records, one core each: sender %.0f Mbit/s (%.0f datagrams/s), "
	       "receiver %.0f Mbit/s at 0%% loss, %.0f Mbit/s at 5%% (%.1f symbols rebuilt per block)\n",
	       lp.k, lp.m, lp.depth, tx0, dg_rate, rx0, rx5, rebuilt5);
	printf("bench fec: enc_200_30=%.0fMB/s dec5_200_30=%.0fMB/s decm_200_30=%.0fMB/s enc_64_8=%.0fMB/s "
	       "dec5_64_8=%.0fMB/s seal=%.0f/s open=%.0f/s tx_mbps=%.0f rx_mbps=%.0f rx5_mbps=%.0f "
	       "plost5_200_30=%.2g\n",
	       g[4].enc, g[4].dec5, g[4].decm, g[1].enc, g[1].dec5, seal, open, tx0, rx0, rx5, g[4].plost);
	return 0;
}
