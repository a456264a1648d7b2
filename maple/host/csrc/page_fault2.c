/*
 * page_fault2, will-it-scale tests/page_fault2.c: "Separate file private mapping page fault".
 * Each task owns an unlinked 128 MiB sparse file; each pass maps it private, writes one byte
 * to every page (copy-on-write faults of page-cache pages; one op per page) and unmaps it.
 */
#include "harness.h"

#include <sys/mman.h>

struct page_fault2_state {
	int fd;
};

static void page_fault2_setup(unsigned long task, void *p)
{
	struct page_fault2_state *s = p;

	(void)task;
	s->fd = wis_task_file(WIS_MEMSIZE);
}

static void page_fault2_pass(void *p, wis_counter *counter)
{
	struct page_fault2_state *s = p;
	char *m = mmap(NULL, WIS_MEMSIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, s->fd, 0);

	if (m == MAP_FAILED)
		wis_fail("mmap(128 MiB, private file)");
	wis_touch_pages(m, WIS_MEMSIZE, wis_page_size(), counter);
	if (munmap(m, WIS_MEMSIZE) != 0)
		wis_fail("munmap(128 MiB)");
}

const struct wis_testcase wis_page_fault2 = {
	"page_fault2", "Separate file private mapping page fault", page_fault2_setup, page_fault2_pass,
};
