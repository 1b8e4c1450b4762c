#include "common/sandbox.h"

#include "common/err.h"
#include "common/log.h"

#include <errno.h>
#include <linux/futex.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_SANITIZER 1
#endif
#endif

struct sandbox {
	scmp_filter_ctx ctx;
};

/* What every role does: memory (never executable), time, locks between threads, signals' return, exit. */
static const int base_calls[] = {
        SCMP_SYS(read),          SCMP_SYS(write),           SCMP_SYS(close),      SCMP_SYS(brk),
        SCMP_SYS(munmap),        SCMP_SYS(madvise),         SCMP_SYS(mremap),     SCMP_SYS(futex),
        SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday),    SCMP_SYS(getpid),     SCMP_SYS(gettid),
        SCMP_SYS(rt_sigreturn),  SCMP_SYS(rt_sigprocmask),  SCMP_SYS(exit),       SCMP_SYS(exit_group),
        SCMP_SYS(getrandom),     SCMP_SYS(restart_syscall), SCMP_SYS(newfstatat), SCMP_SYS(fstat),
};

/* Logging to syslog: glibc reconnects to /dev/log with an AF_UNIX datagram socket when the link drops. */
static const int syslog_calls[] = {SCMP_SYS(connect), SCMP_SYS(sendto)};

/* A daemon on an event loop with threads, sockets and spools. */
static const int daemon_calls[] = {
        SCMP_SYS(readv),
        SCMP_SYS(writev),
        SCMP_SYS(pread64),
        SCMP_SYS(pwrite64),
        SCMP_SYS(preadv),
        SCMP_SYS(pwritev),
        SCMP_SYS(preadv2),
        SCMP_SYS(pwritev2),
        SCMP_SYS(lseek),
        SCMP_SYS(epoll_wait),
        SCMP_SYS(epoll_pwait),
        SCMP_SYS(epoll_ctl),
        SCMP_SYS(poll),
        SCMP_SYS(ppoll),
        SCMP_SYS(accept4),
        SCMP_SYS(accept),
        SCMP_SYS(recvfrom),
        SCMP_SYS(recvmsg),
        SCMP_SYS(recvmmsg),
        SCMP_SYS(sendmsg),
        SCMP_SYS(shutdown),
        SCMP_SYS(setsockopt),
        SCMP_SYS(getsockopt),
        SCMP_SYS(getsockname),
        SCMP_SYS(getpeername),
        SCMP_SYS(openat),
        SCMP_SYS(statx),
        SCMP_SYS(fdatasync),
        SCMP_SYS(fsync),
        SCMP_SYS(rename),
        SCMP_SYS(renameat),
        SCMP_SYS(renameat2),
        SCMP_SYS(unlink),
        SCMP_SYS(unlinkat),
        SCMP_SYS(ftruncate),
        SCMP_SYS(fallocate),
        SCMP_SYS(mkdir),
        SCMP_SYS(mkdirat),
        SCMP_SYS(getdents64),
        SCMP_SYS(flock),
        SCMP_SYS(fcntl),
        SCMP_SYS(dup),
        SCMP_SYS(clock_nanosleep),
        SCMP_SYS(nanosleep),
        SCMP_SYS(sched_yield),
        SCMP_SYS(set_robust_list),
        SCMP_SYS(rseq),
        SCMP_SYS(timerfd_settime),
        SCMP_SYS(rt_sigaction),
        SCMP_SYS(tgkill),
        SCMP_SYS(sched_getaffinity),
};

#ifdef SANDBOX_SANITIZER
/*
 * AddressSanitizer's run time: it reads /proc/self/maps and /proc/self/task with open and getdents, and
 * LeakSanitizer's check at exit stops the threads from a helper task (clone) that attaches with ptrace.
 * Allowed in sanitizer builds only; release builds never get these. mmap and mprotect keep their rule.
 */
static const int sanitizer_calls[] = {
        SCMP_SYS(sigaltstack),  SCMP_SYS(prctl),          SCMP_SYS(open),      SCMP_SYS(getdents),
        SCMP_SYS(clone),        SCMP_SYS(clone3),         SCMP_SYS(ptrace),    SCMP_SYS(wait4),
        SCMP_SYS(readlink),     SCMP_SYS(readlinkat),     SCMP_SYS(openat),    SCMP_SYS(sched_yield),
        SCMP_SYS(lseek),        SCMP_SYS(getdents64),     SCMP_SYS(getppid),   SCMP_SYS(sched_getaffinity),
        SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask), SCMP_SYS(pipe2),     SCMP_SYS(tgkill),
        SCMP_SYS(getrlimit),    SCMP_SYS(prlimit64),      SCMP_SYS(setrlimit), SCMP_SYS(uname),
};
#endif

static int allow(scmp_filter_ctx ctx, const int *calls, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (calls[i] >= 0 && seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0) != 0)
			return -1;
	return 0;
}

#define ALLOW(ctx, list) allow(ctx, list, sizeof(list) / sizeof(list[0]))

/* mmap and mprotect without PROT_EXEC: no new executable memory once the filter is on. */
static int allow_memory(scmp_filter_ctx ctx)
{
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
	                        SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)) != 0 ||
	                       seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
	                                        SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)) != 0
	               ? -1
	               : 0;
}

/*
 * New sockets only of the AF_UNIX kind (syslog's). For daemons also: ioctl only FIONREAD (libevent sizes
 * its reads with it) and prctl only PR_SET_NAME (threads name themselves as they start).
 */
static int allow_narrow(scmp_filter_ctx ctx, int daemon)
{
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, AF_UNIX)) != 0)
		return -1;
	if (daemon &&
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_EQ, FIONREAD)) != 0)
		return -1;
#ifndef SANDBOX_SANITIZER /* sanitizer builds allow every prctl (sanitizer_calls) */
	if (daemon &&
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1, SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME)) != 0)
		return -1;
#endif
	return 0;
}

void sandbox_free(struct sandbox *s)
{
	if (!s)
		return;
	seccomp_release(s->ctx);
	free(s);
}

struct sandbox *sandbox_init(enum sandbox_role role)
{
	const char *mode = getenv("TIP_SANDBOX");
	uint32_t action = SCMP_ACT_KILL_PROCESS;
	struct sandbox *s;

	if (mode && strcmp(mode, "log") == 0) {
		action = SCMP_ACT_LOG;
	} else if (mode && *mode && strcmp(mode, "kill") != 0) {
		log_err("TIP_SANDBOX: expected kill or log, not %s", mode);
		return NULL;
	}
	if (!(s = calloc(1, sizeof(*s))) || !(s->ctx = seccomp_init(action)))
		goto fail;
	if (seccomp_attr_set(s->ctx, SCMP_FLTATR_CTL_TSYNC, 1) != 0 || ALLOW(s->ctx, base_calls) != 0 ||
	    ALLOW(s->ctx, syslog_calls) != 0 || allow_memory(s->ctx) != 0 ||
	    allow_narrow(s->ctx, role != SANDBOX_INTAKE_SIGNER) != 0)
		goto fail;
	switch (role) {
	case SANDBOX_INTAKE_SIGNER:
		/* Requests and the next worker's socket (SCM_RIGHTS) come with recvmsg. */
		if (seccomp_rule_add(s->ctx, SCMP_ACT_ALLOW, SCMP_SYS(recvmsg), 0) != 0)
			goto fail;
		break;
	case SANDBOX_INTAKE_WORKER:
	case SANDBOX_DIODE_RECV:
		if (ALLOW(s->ctx, daemon_calls) != 0)
			goto fail;
		break;
	}
#ifdef SANDBOX_SANITIZER
	if (ALLOW(s->ctx, sanitizer_calls) != 0)
		goto fail;
#endif
	return s;
fail:
	log_err("sandbox: cannot build the system call filter");
	sandbox_free(s);
	return NULL;
}

static void selftest(int sig)
{
	(void)sig;
	/* Harmless without the filter ("/" is not a program); with it, the process dies here. */
	syscall(SYS_execve, "/", NULL, NULL);
}

int sandbox_apply(struct sandbox *s)
{
	const char *test = getenv("TIP_SANDBOX_SELFTEST");
	int rc = TIP_OK;

	if (test && strcmp(test, "1") == 0) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = selftest;
		sigaction(SIGUSR2, &sa, NULL);
		log_warn("sandbox self-test armed: SIGUSR2 makes a forbidden system call");
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || seccomp_load(s->ctx) != 0) {
		log_err("sandbox: the kernel refused the system call filter: %s", strerror(errno));
		rc = TIP_EIO;
	}
	sandbox_free(s);
	return rc;
}
