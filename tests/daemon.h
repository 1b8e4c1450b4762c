/* Starting and stopping the project's daemons from integration tests. */
#ifndef TIP_TESTS_DAEMON_H
#define TIP_TESTS_DAEMON_H

#include <sys/types.h>

struct tdaemon {
	pid_t pid;
	int port; /* the port the daemon reported in "listening on ADDR:PORT" */
	char log[512];
};

/*
 * Runs $TIP_BINARY_DIR/<program> -c conf with stdout and stderr to log, and
 * waits (up to 20 s) for its "listening on ADDR:PORT" line (port kept in
 * d->port) or, for a daemon without a listener, a line with " started". 0, or
 * -1 if it exited or never said so (its log is printed then).
 */
int tdaemon_start(struct tdaemon *d, const char *program, const char *conf, const char *log);
/* The same inside network namespace netns (ip netns exec). */
int tdaemon_start_in(struct tdaemon *d, const char *netns, const char *program, const char *conf,
                     const char *log);
/* Sends sig (SIGKILL: to the daemon's whole process group) and waits for the daemon and any children it
 * left; returns the daemon's exit status (128+signal if killed), or -1. With TIP_SHOW_LOG set in the
 * environment, the daemon's log is printed. */
int tdaemon_stop(struct tdaemon *d, int sig);
/* Runs $TIP_BINARY_DIR/<program> with the given arguments (NULL-terminated) and returns its exit status. */
int trun(const char *program, const char *const *args);
/*
 * The same with its standard output kept in *out (heap, NUL-terminated, at most 1 MiB; standard
 * error is discarded). Returns the exit status, or -1.
 */
int trun_output(const char *program, const char *const *args, char **out);
/* The same with its standard output and error in the file log (created or truncated). */
int trun_log(const char *program, const char *const *args, const char *log);
/* A free TCP port on 127.0.0.1 (bound and released: good enough for tests). */
int tfree_port(void);

#endif
