/*
 * Argon2id off the event loop. At the configured cost a password hash or check takes tens to hundreds of
 * milliseconds and its memory, which would stall every other request on casemgrd's single loop thread; a
 * small pool of threads does the work instead, and each result comes back to a callback on the loop's
 * thread (event_active on an event of the loop: libevent's pthread locking must be on).
 *
 * Jobs copy what they need (the password is wiped after use). The submitting functions and hasher_busy run
 * on the loop's thread only.
 */
#ifndef TIP_INTERNAL_HASHER_H
#define TIP_INTERNAL_HASHER_H

#include <event2/event.h>
#include <stddef.h>

#include "internal/auth.h"

struct hasher;

/* rc: what auth_verify_password or auth_hash_password returned. */
typedef void (*hasher_cb)(int rc, void *arg);

/* threads workers (1 to 64); at most queue_max jobs waiting or running. NULL on failure. */
struct hasher *hasher_new(struct event_base *base, size_t threads, size_t queue_max);
/* Waits for the jobs running, then frees everything; callbacks still due are not called. */
void hasher_free(struct hasher *h);
/*
 * auth_verify_password(hash, password) on a worker (hash NULL: an unknown user, the dummy's cost); cb(rc,
 * arg) on the loop. TIP_OK, TIP_EFULL (queue full: nothing will be called), TIP_ENOMEM.
 */
int hasher_verify(struct hasher *h, const char *hash, const char *password, size_t len, hasher_cb cb,
                  void *arg);
/* auth_hash_password on a worker; out is written before cb runs. As hasher_verify. */
int hasher_hash(struct hasher *h, const char *password, size_t len, const struct auth_cost *cost,
                char out[AUTH_HASH_MAX], hasher_cb cb, void *arg);
/* Jobs waiting or running (a gauge). */
size_t hasher_busy(const struct hasher *h);

#endif
