/*
 * Goodput of the one-way link over loopback: diode-send → (lossy-relay) → diode-recv, configured for 1
 * Gbit/s, at 0% and 5% random loss. Goodput counts record payload bytes that reached the inbox, intact and
 * once, per second from the sender's start; CPU is both daemons' user+system time per Gbit of goodput.
 * Prints: bench diode: small0_mbit=N small5_mbit=N photo0_mbit=N photo5_mbit=N small0_cpu_s_per_gbit=X ...
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/err.h"
#include "daemon.h"
#include "diode/spool.h"
#include "proto/keyfile.h"
#include "proto/record.h"
#include "testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Two record mixes: reports without attachments (about 4 KiB) and with a photo (about 64 KiB). */
struct mix {
	const char *name;
	int records;
	size_t spread;
};
static const struct mix mixes[] = {{"small", 60000, 8000}, {"photo", 4000, 128000}};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_seconds(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long utime = 0, stime = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "r")))
		return 0;
	if (fgets(buf, sizeof(buf), f)) {
		char *p = strrchr(buf, ')');

		/* Fields after the command: state is 3rd; utime and stime are the 14th and 15th. */
		if (p)
			sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime);
	}
	fclose(f);
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static uint64_t inbox_head(const char *dir)
{
	char path[600];
	struct spool_fault f;
	uint64_t head = 0;
	int err;

	snprintf(path, sizeof(path), "%s/inbox/bench", dir);
	struct spool_reader *r = spool_reader_open(path, "bench", NULL, &f, &err);
	if (!r)
		return 0;
	spool_reader_head(r, &head, &f);
	spool_reader_close(r);
	return head;
}

static void run(const struct mix *mx, double loss, double *goodput_mbit, double *cpu_per_gbit)
{
	char *dir = tu_mkdtemp(), path[600], conf_send[600], conf_recv[600], log[600], relay[800],
	     spools[700];
	struct key origin, link;
	struct rec_chain chain;
	struct tdaemon recv_d, send_d;
	int recv_port = tfree_port(), relay_port = tfree_port();
	pid_t relay_pid = 0;

	snprintf(path, sizeof(path), "%s/keys", dir);
	mkdir(path, 0700);
	assert_int_equal(key_generate(KEY_ED25519, "bench", &origin), TIP_OK);
	assert_int_equal(key_generate(KEY_LINK, "link", &link), TIP_OK);
	snprintf(path, sizeof(path), "%s/keys/bench.pub", dir);
	assert_int_equal(key_write_public(path, &origin), TIP_OK);
	snprintf(path, sizeof(path), "%s/link.key", dir);
	assert_int_equal(key_write_private(path, &link), TIP_OK);
	tu_transfer_log_keys(dir);
	rec_chain_init(&chain, "bench");
	snprintf(path, sizeof(path), "%s/outbox", dir);
	uint64_t payload = tu_fill_spool(path, &origin, &chain, mx->records, mx->spread);

	tu_diode_recv_conf(conf_recv, dir, "127.0.0.1", recv_port, "rcvbuf 256M\n");
	snprintf(spools, sizeof(spools), "bench=%s/outbox", dir);
	tu_diode_send_conf(conf_send, dir, loss > 0 ? relay_port : recv_port, spools,
	                   "replay 2s 6s\nrate_mbit 1000\n");
	snprintf(log, sizeof(log), "%s/recv.log", dir);
	assert_int_equal(tdaemon_start(&recv_d, "diode-recv", conf_recv, log), 0);
	if (loss > 0) {
		snprintf(relay, sizeof(relay),
		         "exec %s/tests/lossy-relay -l 127.0.0.1:%d -f 127.0.0.1:%d -p %.3f -s 3 >/dev/null",
		         getenv("TIP_BINARY_DIR"), relay_port, recv_port, loss);
		if ((relay_pid = fork()) == 0) {
			execl("/bin/sh", "sh", "-c", relay, (char *)NULL);
			_exit(127);
		}
		usleep(200000);
	}
	double t0 = now_s();
	snprintf(log, sizeof(log), "%s/send.log", dir);
	assert_int_equal(tdaemon_start(&send_d, "diode-send", conf_send, log), 0);
	while (inbox_head(dir) < (uint64_t)mx->records && now_s() - t0 < 120)
		usleep(20000);
	double elapsed = now_s() - t0;
	double cpu = cpu_seconds(send_d.pid) + cpu_seconds(recv_d.pid);
	assert_int_equal(inbox_head(dir), mx->records);
	tdaemon_stop(&send_d, SIGTERM);
	tdaemon_stop(&recv_d, SIGTERM);
	if (relay_pid) {
		kill(relay_pid, SIGTERM);
		waitpid(relay_pid, NULL, 0);
	}
	*goodput_mbit = (double)payload * 8 / elapsed / 1e6;
	*cpu_per_gbit = cpu / ((double)payload * 8 / 1e9);
	printf("%s records, loss %.0f%%: %d records, %.1f MB of payload in %.2f s: %.0f Mbit/s goodput, %.2f "
	       "CPU s per "
	       "Gbit\n",
	       mx->name, loss * 100, mx->records, (double)payload / 1e6, elapsed, *goodput_mbit,
	       *cpu_per_gbit);
	tu_rmtree(dir);
	free(dir);
}

static void bench_diode(void **state)
{
	(void)state;
	double g[2][2], c[2][2];

	for (int m = 0; m < 2; m++)
		for (int l = 0; l < 2; l++)
			run(&mixes[m], l ? 0.05 : 0, &g[m][l], &c[m][l]);
	printf("bench diode: small0_mbit=%.0f small5_mbit=%.0f photo0_mbit=%.0f photo5_mbit=%.0f "
	       "small0_cpu_s_per_gbit=%.2f photo0_cpu_s_per_gbit=%.2f\n",
	       g[0][0], g[0][1], g[1][0], g[1][1], c[0][0], c[1][0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(bench_diode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
