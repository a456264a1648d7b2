/*
 * malloc1, will-it-scale tests/malloc1.c: "malloc/free of 128MB".
 * 128 MiB is above glibc's largest dynamic mmap threshold, so each pass is one mmap (with a
 * write to the chunk header) and one munmap inside the C library; one op per pass.
 */
#include "harness.h"

#include <stdlib.h>

static void malloc1_setup(unsigned long task, void *p)
{
	(void)task;
	(void)p;
}

static void malloc1_pass(void *p, wis_counter *counter)
{
	void *m = malloc(WIS_MEMSIZE);

	(void)p;
	if (m == NULL)
		wis_fail("malloc(128 MiB)");
	/* the pointer escapes, so the compiler cannot drop the malloc/free pair */
	__asm__ __volatile__("" : : "r"(m) : "memory");
	free(m);
	*counter += 1;
}

const struct wis_testcase wis_malloc1 = {
	"malloc1", "malloc/free of 128MB", malloc1_setup, malloc1_pass,
};
