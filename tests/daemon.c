#include "daemon.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void program_path(const char *program, char *out, size_t cap)
{
	const char *dir = getenv("TIP_BINARY_DIR");

	snprintf(out, cap, "%s/%s", dir ? dir : ".", program);
}

static void print_log(const char *log)
{
	char line[1024];
	FILE *f = fopen(log, "r");

	fprintf(stderr, "---- %s\n", log);
	while (f && fgets(line, sizeof(line), f))
		fputs(line, stderr);
	if (f)
		fclose(f);
}

int tdaemon_start(struct tdaemon *d, const char *program, const char *conf, const char *log)
{
	return tdaemon_start_in(d, NULL, program, conf, log);
}

int tdaemon_start_in(struct tdaemon *d, const char *netns, const char *program, const char *conf,
                     const char *log)
{
	char path[512];

	memset(d, 0, sizeof(*d));
	snprintf(d->log, sizeof(d->log), "%s", log);
	program_path(program, path, sizeof(path));
	/* Emptied before the child starts, so an earlier run's "listening on" is never read. */
	int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	d->pid = fork();
	if (d->pid < 0) {
		close(fd);
		return -1;
	}
	if (d->pid == 0) {
		/* A test that fails midway (a cmocka assertion ends it) leaves no daemon running behind it.
		 */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		setpgid(0, 0); /* the daemon and its children: one group, killed together by tdaemon_stop */
		dup2(fd, 1);
		dup2(fd, 2);
		if (netns)
			execlp("ip", "ip", "netns", "exec", netns, path, "-c", conf, (char *)NULL);
		else
			execl(path, program, "-c", conf, (char *)NULL);
		_exit(127);
	}
	close(fd);
	for (int i = 0; i < 2000; i++) {
		char line[1024];
		FILE *f = fopen(log, "r");
		int status;

		while (f && fgets(line, sizeof(line), f)) {
			const char *p = strstr(line, "listening on ");
			const char *colon = p ? strchr(p + 13, ' ') : NULL;

			/* "listening on 127.0.0.1:8443 ..." : the port follows the last ':' before the space.
			 */
			if (p && colon) {
				const char *q = colon;

				while (q > p && *q != ':')
					q--;
				d->port = atoi(q + 1);
				fclose(f);
				return 0;
			}
			/* A daemon that listens on nothing says it has started. */
			if (strstr(line, " started")) {
				fclose(f);
				return 0;
			}
		}
		if (f)
			fclose(f);
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			d->pid = 0;
			print_log(log);
			return -1;
		}
		usleep(10000);
	}
	print_log(log);
	tdaemon_stop(d, SIGKILL);
	return -1;
}

int tdaemon_stop(struct tdaemon *d, int sig)
{
	int status;

	if (d->pid <= 0)
		return -1;
	/*
	 * SIGKILL cannot be passed on by the daemon: the whole group gets it (as systemd kills a unit's
	 * control group), and its children (intaked's signer and worker), orphaned, come to this process
	 * while it is a subreaper, so they are gone, listeners and spool locks with them, before the next
	 * start.
	 */
	if (sig == SIGKILL)
		prctl(PR_SET_CHILD_SUBREAPER, 1);
	kill(sig == SIGKILL ? -d->pid : d->pid, sig);
	if (waitpid(d->pid, &status, 0) != d->pid)
		return -1;
	if (sig == SIGKILL) {
		while (waitpid(-d->pid, NULL, 0) > 0)
			;
		prctl(PR_SET_CHILD_SUBREAPER, 0);
	}
	d->pid = 0;
	char *log = tu_read_file(d->log, NULL);
	/* A sanitizer's report (in the ASan tree) is shown whether or not the test looks at the exit status.
	 */
	if (getenv("TIP_SHOW_LOG") || (log && (strstr(log, "Sanitizer") || strstr(log, "runtime error:"))))
		fprintf(stderr, "---- %s\n%s", d->log, log ? log : "");
	free(log);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/*
 * Runs program with args to its exit. Its standard output goes to out_fd, or else to the file log, or
 * else to /dev/null; its standard error to log, or /dev/null.
 */
static int run_program(const char *program, const char *const *args, int out_fd, const char *log)
{
	char path[512];
	const char *argv[32];
	int status;
	pid_t pid;
	size_t i = 0;

	program_path(program, path, sizeof(path));
	argv[0] = program;
	for (; args && args[i] && i < 30; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	if ((pid = fork()) == 0) {
		int fd = log ? open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644) : open("/dev/null", O_WRONLY);

		dup2(out_fd >= 0 ? out_fd : fd, 1);
		dup2(fd, 2);
		execv(path, (char *const *)argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int trun(const char *program, const char *const *args)
{
	return run_program(program, args, -1, NULL);
}

int trun_log(const char *program, const char *const *args, const char *log)
{
	return run_program(program, args, -1, log);
}

int trun_output(const char *program, const char *const *args, char **out)
{
	FILE *f = tmpfile();
	size_t cap = 1 << 20, n;
	int rc;

	*out = NULL;
	if (!f)
		return -1;
	rc = run_program(program, args, fileno(f), NULL);
	rewind(f);
	if (!(*out = malloc(cap + 1))) {
		fclose(f);
		return -1;
	}
	n = fread(*out, 1, cap, f);
	(*out)[n] = 0;
	fclose(f);
	return rc;
}

int tfree_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0)
		port = -1;
	else
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}
