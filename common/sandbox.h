/*
 * A seccomp allow-list per process role, in two calls (the shape of OpenSSH's sandbox):
 * sandbox_init builds the filter while the process may still open and allocate freely;
 * sandbox_apply, once the listening sockets, spools and keys are open, sets no_new_privs and
 * loads the filter on every thread of the process (TSYNC). From then on a system call outside
 * the role's list kills the whole process with SIGSYS.
 *
 * The environment variable TIP_SANDBOX chooses the action for a call outside the list:
 * "kill" (the default) or "log" (the call is allowed and the kernel's audit log records it:
 * for finding what a list lacks). TIP_SANDBOX_SELFTEST=1, read by sandbox_apply, makes
 * SIGUSR2 run a call no role allows (execve), so tests can watch the filter kill the process;
 * it needs both the environment and the right to signal the process, never the network.
 */
#ifndef TIP_COMMON_SANDBOX_H
#define TIP_COMMON_SANDBOX_H

enum sandbox_role {
	SANDBOX_INTAKE_WORKER, /* intaked's HTTP worker: sockets, TLS, threads, the outbox spool */
	SANDBOX_INTAKE_SIGNER, /* intaked's signer: reads requests, writes signatures, nothing else */
	SANDBOX_DIODE_RECV,    /* diode-recv: UDP reads, verifier threads, inbox and log spools */
};

struct sandbox;

/* The filter for role, not yet loaded. NULL (logged) on a bad TIP_SANDBOX value or a library failure. */
struct sandbox *sandbox_init(enum sandbox_role role);

/* Loads the filter and frees s. TIP_OK, or TIP_EIO (logged) if the kernel refused it. */
int sandbox_apply(struct sandbox *s);

/* Frees a filter that was never applied (NULL accepted). */
void sandbox_free(struct sandbox *s);

#endif
