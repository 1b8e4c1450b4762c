#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "diode/udp_batch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define D 300

struct got {
	size_t n, len[64];
	uint8_t first[64];
};

static void collect(void *arg, const uint8_t *dg, size_t len)
{
	struct got *g = arg;

	if (g->n < 64) {
		g->len[g->n] = len;
		g->first[g->n] = len ? dg[0] : 0;
	}
	g->n++;
}

/* Receives until want datagrams arrived or nothing more comes for a second. */
static void receive(struct udpb_rx *rx, int fd, struct got *g, size_t want)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	int more;

	while (g->n < want && poll(&p, 1, 1000) == 1)
		assert_true(udpb_recv(rx, fd, collect, g, &more) > 0);
}

static void test_segmented_round_trip(void **state)
{
	(void)state;
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	int in = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0), out = socket(AF_INET, SOCK_DGRAM, 0);
	uint8_t buf[10 * D + D + 2];
	struct got g = {0};

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(bind(in, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(in, (struct sockaddr *)&a, &alen), 0);
	assert_int_equal(connect(out, (struct sockaddr *)&a, sizeof(a)), 0);
	struct udpb_rx *rx = udpb_rx_new(in, 8);
	assert_non_null(rx);

	/* Ten datagrams, three to a message: each arrives whole, in order, with its own size. */
	size_t per = udpb_gso_enable(out, D);
	assert_true(per > 1);
	for (size_t i = 0; i < 10; i++)
		memset(buf + i * D, (int)i + 1, D);
	assert_int_equal(udpb_send(out, buf, 10, D, per < 3 ? per : 3), 10);
	receive(rx, in, &g, 10);
	assert_int_equal(g.n, 10);
	for (size_t i = 0; i < 10; i++) {
		assert_int_equal(g.len[i], D);
		assert_int_equal(g.first[i], i + 1);
	}

	/* Datagrams of other sizes stay what they were, so the link still sees them as too long or short. */
	udpb_gso_disable(out);
	assert_int_equal(send(out, buf, D + 1, 0), D + 1);
	assert_int_equal(send(out, buf, D - 1, 0), D - 1);
	assert_int_equal(send(out, buf, 0, 0), 0);
	receive(rx, in, &g, 13);
	assert_int_equal(g.n, 13);
	assert_int_equal(g.len[10], D + 1);
	assert_int_equal(g.len[11], D - 1);
	assert_int_equal(g.len[12], 0);
	udpb_rx_free(rx);
	close(in);
	close(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_segmented_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
