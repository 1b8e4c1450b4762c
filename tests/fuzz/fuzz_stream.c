/*
 * The block stream. Input byte 0 chooses the mode:
 *   even: the rest is cut into blocks of 21 + 4 * (byte 1) bytes and handed to a reassembler with
 *         small caps, in order, with settles; the caps must hold and every answer be documented.
 *         The rest is also decoded as a heartbeat payload.
 *   odd:  a round trip: the rest is cut into records (a length byte times 7, then that many bytes),
 *         packed into blocks of 21 + byte 1 bytes and reassembled; every record must come back
 *         once, byte for byte, in order.
 */
#include "fuzz.h"

#include "common/err.h"
#include "diode/stream.h"

#include <stdlib.h>
#include <string.h>

#define RECORDS_MAX 4096

struct want {
	const uint8_t *data[RECORDS_MAX];
	size_t len[RECORDS_MAX];
	size_t n, got;
	int check;
};

static void on_record(void *arg, uint64_t tid, const uint8_t *rec, size_t len)
{
	struct want *w = arg;

	if (len > 4096)
		abort();
	if (!w->check)
		return;
	if (tid != w->got || tid >= w->n || len != w->len[tid] ||
	    (len && memcmp(rec, w->data[tid], len) != 0))
		abort();
	w->got++;
}

static void blocks(const uint8_t *data, size_t size)
{
	struct stream_rx_opts o = {.max_record = 4096, .mem_cap = 16384, .max_pending = 8};
	static struct want w;
	struct stream_rx_stats st;
	struct stream_hb_origin *hb = malloc(STREAM_HB_MAX * sizeof(*hb));
	size_t bl, n;
	int err, rc;
	struct stream_rx *rx;

	if (!hb)
		abort();
	rc = stream_hb_decode(data, size, hb, STREAM_HB_MAX, &n);
	if (rc != TIP_OK && rc != TIP_ETRUNCATED && rc != TIP_EDECODE)
		abort();
	free(hb);
	if (size < 1)
		return;
	bl = 21 + 4 * (size_t)data[0];
	data++;
	size--;
	memset(&w, 0, sizeof(w));
	if (!(rx = stream_rx_new(&o, on_record, &w, &err)))
		abort();
	for (uint64_t b = 0; size > 0; b++) {
		size_t len = size < bl ? size : bl;

		rc = stream_rx_block(rx, b, data, len);
		if (rc != TIP_OK && rc != TIP_EDECODE)
			abort();
		if (data[0] & 0x80)
			stream_rx_settle(rx, b);
		stream_rx_stats(rx, &st);
		if (st.pending_bytes > o.mem_cap || st.pending > o.max_pending)
			abort();
		data += len;
		size -= len;
	}
	stream_rx_free(rx);
}

static void round_trip(const uint8_t *data, size_t size)
{
	static struct want w;
	size_t bl, nblocks = 0, cap = 1;
	uint8_t *out;
	int err;
	struct stream_packer *p;
	struct stream_rx *rx;

	if (size < 1)
		return;
	bl = 21 + (size_t)data[0];
	data++;
	size--;
	memset(&w, 0, sizeof(w));
	while (size > 0 && w.n < RECORDS_MAX) {
		size_t len = (size_t)data[0] * 7;

		data++;
		size--;
		if (len > size)
			len = size;
		w.data[w.n] = data;
		w.len[w.n++] = len;
		data += len;
		size -= len;
	}
	/* Room for every block the records can take: a piece carries at least bl - 20 bytes. */
	for (size_t t = 0; t < w.n; t++)
		cap += w.len[t] / (bl - STREAM_PIECE_HEADER) + 2;
	if (!(p = stream_packer_new(bl, &err)) || !(out = malloc(cap * bl)))
		abort();
	for (size_t t = 0; t < w.n; t++) {
		if (!stream_packer_is_open(p))
			stream_packer_begin(p, out + nblocks++ * bl);
		if (stream_packer_put(p, t, w.data[t], w.len[t]) != TIP_OK)
			abort();
		while (stream_packer_pending(p) || stream_packer_full(p)) {
			stream_packer_end(p);
			if (!stream_packer_pending(p))
				break;
			stream_packer_begin(p, out + nblocks++ * bl);
		}
		if (nblocks > cap)
			abort();
	}
	stream_packer_end(p);
	stream_packer_free(p);
	w.check = 1;
	{
		struct stream_rx_opts o = {.max_record = 4096, .mem_cap = 1 << 20, .max_pending = 16};

		if (!(rx = stream_rx_new(&o, on_record, &w, &err)))
			abort();
	}
	for (size_t b = 0; b < nblocks; b++) {
		if (stream_rx_block(rx, b, out + b * bl, bl) != TIP_OK)
			abort();
		stream_rx_settle(rx, b + 1);
	}
	if (w.got != w.n)
		abort();
	stream_rx_free(rx);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		round_trip(data + 1, size - 1);
	else
		blocks(data + 1, size - 1);
	return 0;
}
