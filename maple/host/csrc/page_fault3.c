/*
 * page_fault3, will-it-scale tests/page_fault3.c: "Separate file shared mapping page fault".
 * Each task owns an unlinked 128 MiB sparse file; each pass maps it shared, writes one byte to
 * every page (shared write faults that dirty the file's page cache, which survives from pass
 * to pass because the file stays open; one op per page) and unmaps it.
 */
#include "harness.h"

#include <sys/mman.h>

struct page_fault3_state {
	int fd;
};

static void page_fault3_setup(unsigned long task, void *p)
{
	struct page_fault3_state *s = p;

	(void)task;
	s->fd = wis_task_file(WIS_MEMSIZE);
}

static void page_fault3_pass(void *p, wis_counter *counter)
{
	struct page_fault3_state *s = p;
	char *m = mmap(NULL, WIS_MEMSIZE, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);

	if (m == MAP_FAILED)
		wis_fail("mmap(128 MiB, shared file)");
	wis_touch_pages(m, WIS_MEMSIZE, wis_page_size(), counter);
	if (munmap(m, WIS_MEMSIZE) != 0)
		wis_fail("munmap(128 MiB)");
}

const struct wis_testcase wis_page_fault3 = {
	"page_fault3", "Separate file shared mapping page fault", page_fault3_setup, page_fault3_pass,
};
