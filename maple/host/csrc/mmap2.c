/*
 * mmap2, will-it-scale tests/mmap2.c: "Separate file mmap/munmap of 128MB".
 * Each task owns an unlinked 128 MiB sparse file; each pass maps it private, never touches
 * it, and unmaps it; one op per pass.
 */
#include "harness.h"

#include <sys/mman.h>

struct mmap2_state {
	int fd;
};

static void mmap2_setup(unsigned long task, void *p)
{
	struct mmap2_state *s = p;

	(void)task;
	s->fd = wis_task_file(WIS_MEMSIZE);
}

static void mmap2_pass(void *p, wis_counter *counter)
{
	struct mmap2_state *s = p;
	void *m = mmap(NULL, WIS_MEMSIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, s->fd, 0);

	if (m == MAP_FAILED)
		wis_fail("mmap(128 MiB, private file)");
	if (munmap(m, WIS_MEMSIZE) != 0)
		wis_fail("munmap(128 MiB)");
	*counter += 1;
}

const struct wis_testcase wis_mmap2 = {
	"mmap2", "Separate file mmap/munmap of 128MB", mmap2_setup, mmap2_pass,
};
