/*
 * mmap1, will-it-scale tests/mmap1.c: "Anonymous memory mmap/munmap of 128MB".
 * Each pass maps 128 MiB of private anonymous memory, never touches it, and unmaps it; one
 * op per pass.
 */
#include "harness.h"

#include <sys/mman.h>

static void mmap1_setup(unsigned long task, void *p)
{
	(void)task;
	(void)p;
}

static void mmap1_pass(void *p, wis_counter *counter)
{
	void *m = mmap(NULL, WIS_MEMSIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)p;
	if (m == MAP_FAILED)
		wis_fail("mmap(128 MiB, anonymous)");
	if (munmap(m, WIS_MEMSIZE) != 0)
		wis_fail("munmap(128 MiB)");
	*counter += 1;
}

const struct wis_testcase wis_mmap1 = {
	"mmap1", "Anonymous memory mmap/munmap of 128MB", mmap1_setup, mmap1_pass,
};
