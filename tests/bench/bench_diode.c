/*
 * Goodput of the one-way link over loopback: diode-send → (lossy-relay) → diode-recv, configured for 1
 * Gbit/s of datagrams, at 0% and 5% random loss (and photo records at 0% once more with 4% repair, as a
 * clean link allows), and Debian's udpcast (udp-sender --async with FEC,
 * udp-receiver) moving the same bytes in the same run, through the same relay with the same loss.
 *
 * Our goodput counts record payload bytes that reached the inbox, intact and once, per second from the
 * sender's start. udpcast's counts the bytes of the received file (the records' exact bytes, a little more
 * than their payload) from its sender's start to the file's last byte; a file that is short or differs
 * counts as 0. CPU is both ends' user+system time per Gbit of goodput (the relay's is not counted for
 * either). Prints one "bench diode:" line of key=value figures.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/err.h"
#include "daemon.h"
#include "diode/link.h"
#include "diode/spool.h"
#include "httpc.h"
#include "proto/keyfile.h"
#include "proto/record.h"
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define POLL_US   20000
#define TIMEOUT_S 120
#define LOSS      0.05

/* Two record mixes: reports without attachments (about 4 KiB) and with a photo (about 64 KiB). */
struct mix {
	const char *name;
	int records;
	size_t spread;
};
static const struct mix mixes[] = {{"small", 60000, 8000}, {"photo", 4000, 128000}};

/* udpcast's FEC: the setting, and the lightest 8-stripe one that survives 5% random loss. */
static const char *const udpcast_fec[] = {"8x8/64", "8x16/64"};
#define N_FEC (sizeof(udpcast_fec) / sizeof(udpcast_fec[0]))

struct result {
	double mbit, cpu_per_gbit;
	double overhead_pct; /* ours: datagram bytes sent per payload byte, minus 1 */
	uint64_t replays;    /* ours: records sent again by the carousel */
	uint64_t intact;     /* udpcast: bytes of the received file equal to the sent one */
};

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

/* Starts argv[0] (a path, or a name looked up in PATH) with stdout and stderr to log. */
static pid_t spawn(const char *const *argv, const char *log)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		prctl(PR_SET_PDEATHSIG, SIGTERM); /* as tdaemon_start: nothing outlives a failed run */

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	assert_true(pid > 0);
	return pid;
}

/* Stops a child (sig 0: waits for it to end) and returns its CPU seconds. */
static double reap(pid_t pid, int sig)
{
	struct rusage ru;
	int status;

	if (sig)
		kill(pid, sig);
	if (wait4(pid, &status, 0, &ru) != pid)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

/* lossy-relay from listen to forward (sending from `from` if given), dropping datagrams at random. */
static pid_t start_relay(const char *dir, const char *listen, const char *forward, const char *from)
{
	char prog[600], loss[16], log[600];
	const char *argv[12] = {prog, "-l", listen, "-f", forward, "-p", loss, "-s", "3"};

	snprintf(prog, sizeof(prog), "%s/tests/lossy-relay", getenv("TIP_BINARY_DIR"));
	snprintf(loss, sizeof(loss), "%.3f", LOSS);
	snprintf(log, sizeof(log), "%s/relay.log", dir);
	if (from) {
		argv[9] = "-o";
		argv[10] = from;
	}
	pid_t pid = spawn(argv, log);
	usleep(200000);
	return pid;
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

/* A counter from a Prometheus text page ("name value" on a line of its own); 0 if absent. */
static uint64_t metric_value(const char *page, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = page; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, name, n) == 0 && p[n] == ' ')
			return strtoull(p + n + 1, NULL, 10);
	return 0;
}

/* The outbox's records, their exact bytes one after another: what udpcast is given to move. */
static uint64_t write_records_file(const char *dir, const char *path)
{
	char spool[600];
	struct spool_fault fault;
	const uint8_t *rec;
	size_t len;
	uint64_t index, total = 0;
	int err;
	FILE *f = fopen(path, "w");

	snprintf(spool, sizeof(spool), "%s/outbox", dir);
	struct spool_reader *r = spool_reader_open(spool, "bench-file", NULL, &fault, &err);
	assert_non_null(f);
	assert_non_null(r);
	while (spool_reader_next(r, &rec, &len, &index, &fault) == 1) {
		assert_int_equal(fwrite(rec, 1, len, f), len);
		total += len;
	}
	spool_reader_close(r);
	assert_int_equal(fclose(f), 0);
	return total;
}

/* Bytes from the start of both files that are equal. */
static uint64_t intact_prefix(const char *a, const char *b)
{
	FILE *fa = fopen(a, "r"), *fb = fopen(b, "r");
	static uint8_t ba[1 << 16], bb[1 << 16];
	uint64_t same = 0;
	size_t na, nb;

	while (fa && fb && (na = fread(ba, 1, sizeof(ba), fa)) > 0) {
		nb = fread(bb, 1, na, fb);
		for (size_t i = 0; i < nb; i++, same++)
			if (ba[i] != bb[i])
				goto out;
		if (nb < na)
			break;
	}
out:
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

/* tuning: sender settings beyond the defaults ("" or lines such as "fec_m 8\n"). */
static void run_ours(const char *dir, const struct mix *mx, uint64_t payload, double loss, const char *tuning,
                     struct result *res)
{
	char conf_send[600], conf_recv[600], log[600], listen[64], forward[64], spools[700], extra[160];
	struct tdaemon recv_d, send_d;
	struct httpc_response page;
	int recv_port = tfree_port(), relay_port = tfree_port(), metrics_port = tfree_port();
	pid_t relay_pid = 0;

	tu_diode_recv_conf(conf_recv, dir, "127.0.0.1", recv_port, "rcvbuf 256M\n");
	snprintf(spools, sizeof(spools), "bench=%s/outbox", dir);
	snprintf(extra, sizeof(extra), "replay 2s 6s\nrate_mbit 1000\nmetrics_port %d\n%s", metrics_port,
	         tuning);
	tu_diode_send_conf(conf_send, dir, loss > 0 ? relay_port : recv_port, spools, extra);
	snprintf(log, sizeof(log), "%s/recv.log", dir);
	assert_int_equal(tdaemon_start(&recv_d, "diode-recv", conf_recv, log), 0);
	if (loss > 0) {
		snprintf(listen, sizeof(listen), "127.0.0.1:%d", relay_port);
		snprintf(forward, sizeof(forward), "127.0.0.1:%d", recv_port);
		relay_pid = start_relay(dir, listen, forward, NULL);
	}
	double t0 = now_s();
	snprintf(log, sizeof(log), "%s/send.log", dir);
	assert_int_equal(tdaemon_start(&send_d, "diode-send", conf_send, log), 0);
	while (inbox_head(dir) < (uint64_t)mx->records && now_s() - t0 < TIMEOUT_S)
		usleep(POLL_US);
	double elapsed = now_s() - t0;
	double cpu = cpu_seconds(send_d.pid) + cpu_seconds(recv_d.pid);
	assert_int_equal(inbox_head(dir), mx->records);
	assert_int_equal(httpc_request("127.0.0.1", metrics_port, 0, "GET", "/metrics", NULL, NULL, 0, &page),
	                 0);
	res->overhead_pct = ((double)metric_value(page.body, "diode_send_datagrams_total") *
	                             (double)DG_SIZE_DEFAULT / (double)payload -
	                     1) *
	                    100;
	res->replays = metric_value(page.body, "diode_send_replays_total");
	httpc_free(&page);
	tdaemon_stop(&send_d, SIGTERM);
	tdaemon_stop(&recv_d, SIGTERM);
	if (relay_pid)
		reap(relay_pid, SIGTERM);
	res->mbit = (double)payload * 8 / elapsed / 1e6;
	res->cpu_per_gbit = cpu / ((double)payload * 8 / 1e9);
	printf("ours %s%s%.*s, loss %.0f%%: %.2f s, %.0f Mbit/s goodput, %.2f CPU s per Gbit, %.1f%% of the "
	       "payload again on the wire, %llu replays\n",
	       mx->name, *tuning ? " with " : "", (int)strcspn(tuning, "\n"), tuning, loss * 100, elapsed,
	       res->mbit, res->cpu_per_gbit, res->overhead_pct, (unsigned long long)res->replays);
}

/*
 * udp-sender --async on loopback without multicast: the data and rendez-vous address is a unicast one,
 * which the receiver then takes as its own and reads without joining a group. With loss, the sender
 * sends to the relay on 127.0.0.3 and the receiver, on the next port pair, gets the relay's datagrams
 * from 127.0.0.2 and its own sender port (it takes nothing from other ports).
 */
static void run_udpcast(const char *dir, const char *file, uint64_t bytes, double loss, const char *fec,
                        struct result *res)
{
	char out[600], log[600], base_s[16], base_r[16], rate[32], listen[64], forward[64], from[64];
	const char *addr = loss > 0 ? "127.0.0.3" : "127.0.0.1";
	int base = tfree_port() & ~1, recv_base = loss > 0 ? base + 2 : base;
	struct stat st;
	pid_t relay_pid = 0;

	/* The same datagram rate as ours: 1 Gbit/s of UDP payload. */
	snprintf(rate, sizeof(rate), "1000m");
	snprintf(base_s, sizeof(base_s), "%d", base);
	snprintf(base_r, sizeof(base_r), "%d", recv_base);
	snprintf(out, sizeof(out), "%s/udpcast.out", dir);
	unlink(out);
	if (loss > 0) {
		snprintf(listen, sizeof(listen), "%s:%d", addr, base);
		snprintf(forward, sizeof(forward), "127.0.0.1:%d", recv_base);
		snprintf(from, sizeof(from), "127.0.0.2:%d", recv_base + 1);
		relay_pid = start_relay(dir, listen, forward, from);
	}
	const char *recv_argv[] = {"udp-receiver",
	                           "--file",
	                           out,
	                           "--interface",
	                           "lo",
	                           "--portbase",
	                           base_r,
	                           "--mcast-rdv-address",
	                           addr,
	                           "--nokbd",
	                           "--no-progress",
	                           "--rcvbuf",
	                           "268435456",
	                           "--exit-wait",
	                           "10",
	                           "--start-timeout",
	                           "20",
	                           "--receive-timeout",
	                           "5",
	                           NULL};
	const char *send_argv[] = {"udp-sender",
	                           "--file",
	                           file,
	                           "--interface",
	                           "lo",
	                           "--portbase",
	                           base_s,
	                           "--mcast-rdv-address",
	                           addr,
	                           "--mcast-data-address",
	                           addr,
	                           "--async",
	                           "--fec",
	                           fec,
	                           "--max-bitrate",
	                           rate,
	                           "--autostart",
	                           "3",
	                           "--rexmit-hello-interval",
	                           "10",
	                           "--nokbd",
	                           "--no-progress",
	                           NULL};
	snprintf(log, sizeof(log), "%s/udp-receiver.log", dir);
	pid_t recv_pid = spawn(recv_argv, log);
	usleep(200000);
	double t0 = now_s();
	snprintf(log, sizeof(log), "%s/udp-sender.log", dir);
	pid_t send_pid = spawn(send_argv, log);
	/* Done when the file has all its bytes, or the receiver gave up. */
	while ((stat(out, &st) != 0 || (uint64_t)st.st_size < bytes) &&
	       waitpid(recv_pid, NULL, WNOHANG) == 0 && now_s() - t0 < TIMEOUT_S)
		usleep(POLL_US);
	double elapsed = now_s() - t0;
	double cpu = reap(send_pid, 0) + reap(recv_pid, 0);
	if (relay_pid)
		reap(relay_pid, SIGTERM);
	res->intact = intact_prefix(file, out);
	res->mbit = res->intact == bytes ? (double)bytes * 8 / elapsed / 1e6 : 0;
	res->cpu_per_gbit = res->mbit > 0 ? cpu / ((double)bytes * 8 / 1e9) : 0;
	printf("udpcast --fec %s, loss %.0f%%: %.2f s, %llu of %llu bytes intact: %.0f Mbit/s goodput, %.2f "
	       "CPU "
	       "s per Gbit\n",
	       fec, loss * 100, elapsed, (unsigned long long)res->intact, (unsigned long long)bytes,
	       res->mbit, res->cpu_per_gbit);
}

static void bench_diode(void **state)
{
	struct result ours[2][2], uc[2][2][N_FEC], clean;
	char line[2048];
	size_t used = 0;
	(void)state;

	for (int m = 0; m < 2; m++)
		for (int l = 0; l < 2; l++) {
			char *dir = tu_mkdtemp(), path[600], file[600];
			struct key origin;
			struct rec_chain chain;

			tu_diode_keys(dir, "bench", &origin);
			rec_chain_init(&chain, "bench");
			snprintf(path, sizeof(path), "%s/outbox", dir);
			uint64_t payload =
			        tu_fill_spool(path, &origin, &chain, mixes[m].records, mixes[m].spread);
			snprintf(file, sizeof(file), "%s/records", dir);
			uint64_t bytes = write_records_file(dir, file);

			printf("%s: %d records, %.1f MB of payload, %.1f MB of records\n", mixes[m].name,
			       mixes[m].records, (double)payload / 1e6, (double)bytes / 1e6);
			run_ours(dir, &mixes[m], payload, l ? LOSS : 0, "", &ours[m][l]);
			/* A clean link can do with less repair: photo records at 0% with 4% instead of
			 * 15%, both ends starting afresh on the same outbox. */
			if (m == 1 && l == 0) {
				snprintf(path, sizeof(path),
				         "cd %s && rm -rf inbox quarantine recv-log send-log outbox/cursor.*",
				         dir);
				assert_int_equal(system(path), 0);
				run_ours(dir, &mixes[m], payload, 0, "fec_m 8\n", &clean);
			}
			for (size_t f = 0; f < N_FEC; f++)
				run_udpcast(dir, file, bytes, l ? LOSS : 0, udpcast_fec[f], &uc[m][l][f]);
			tu_rmtree(dir);
			free(dir);
		}
	used += (size_t)snprintf(line + used, sizeof(line) - used, "bench diode:");
	for (int m = 0; m < 2; m++)
		for (int l = 0; l < 2; l++) {
			const char *n = mixes[m].name;
			int pct = l ? (int)(LOSS * 100) : 0;
			double best = 0;

			used += (size_t)snprintf(
			        line + used, sizeof(line) - used,
			        " %s%d_mbit=%.0f %s%d_cpu_s_per_gbit=%.2f %s%d_overhead_pct=%.1f", n, pct,
			        ours[m][l].mbit, n, pct, ours[m][l].cpu_per_gbit, n, pct,
			        ours[m][l].overhead_pct);
			for (size_t f = 0; f < N_FEC; f++) {
				char key[32];

				snprintf(key, sizeof(key), "udpcast_%.*s", (int)strcspn(udpcast_fec[f], "/"),
				         udpcast_fec[f]);
				used += (size_t)snprintf(line + used, sizeof(line) - used,
				                         " %s_%s%d_mbit=%.0f", key, n, pct, uc[m][l][f].mbit);
				if (uc[m][l][f].mbit > best)
					best = uc[m][l][f].mbit;
			}
			/* Against udpcast's best result; none when every udpcast run failed. */
			if (best > 0)
				used += (size_t)snprintf(line + used, sizeof(line) - used,
				                         " %s%d_vs_udpcast=%.2f", n, pct,
				                         ours[m][l].mbit / best);
			else
				used += (size_t)snprintf(line + used, sizeof(line) - used,
				                         " %s%d_vs_udpcast=failed", n, pct);
		}
	printf("%s photo0_fec_m8_mbit=%.0f photo0_fec_m8_cpu_s_per_gbit=%.2f\n", line, clean.mbit,
	       clean.cpu_per_gbit);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(bench_diode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
