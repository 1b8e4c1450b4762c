/*
 * The cost of casemgrd's password hashes: Argon2id at the default cost (3 passes, 64 MiB, one lane), a
 * hash as user_create and user_password_reset make it and a check as every login makes it, ten of each;
 * the median and the slowest. Each holds a hash thread (setting hash_threads) and its memory that long.
 */
#include "common/err.h"
#include "internal/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RUNS 10

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(void)
{
	static const char password[] = "correct horse battery staple";
	struct auth_cost cost = {AUTH_COST_DEFAULT_TIME, AUTH_COST_DEFAULT_MEMORY, 1};
	char hash[AUTH_HASH_MAX];
	double h[RUNS], v[RUNS];

	for (int i = 0; i < RUNS; i++) {
		double t0 = now_ms();
		if (auth_hash_password(password, strlen(password), &cost, hash) != TIP_OK)
			return 1;
		double t1 = now_ms();
		if (auth_verify_password(hash, password, strlen(password)) != TIP_OK)
			return 1;
		h[i] = t1 - t0;
		v[i] = now_ms() - t1;
	}
	qsort(h, RUNS, sizeof(h[0]), cmp);
	qsort(v, RUNS, sizeof(v[0]), cmp);
	printf("Argon2id t=%u m=%u KiB p=1: hash median %.0f ms (slowest %.0f), check median %.0f ms "
	       "(slowest %.0f)\n",
	       cost.time, cost.memory_kib, h[RUNS / 2], h[RUNS - 1], v[RUNS / 2], v[RUNS - 1]);
	printf("bench password_hash: hash_ms=%.0f hash_max_ms=%.0f check_ms=%.0f check_max_ms=%.0f\n",
	       h[RUNS / 2], h[RUNS - 1], v[RUNS / 2], v[RUNS - 1]);
	return 0;
}
