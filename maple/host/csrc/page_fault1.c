/*
 * page_fault1, will-it-scale tests/page_fault1.c: "Anonymous memory page fault".
 * Each pass maps 128 MiB of private anonymous memory, writes one byte to every page (one op
 * per page: 32768 with 4 KiB pages) and unmaps it.
 */
#include "harness.h"

#include <sys/mman.h>

static void page_fault1_setup(unsigned long task, void *p)
{
	(void)task;
	(void)p;
}

static void page_fault1_pass(void *p, wis_counter *counter)
{
	char *m = mmap(NULL, WIS_MEMSIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)p;
	if (m == MAP_FAILED)
		wis_fail("mmap(128 MiB, private anonymous memory)");
	wis_touch_pages(m, WIS_MEMSIZE, wis_page_size(), counter);
	if (munmap(m, WIS_MEMSIZE) != 0)
		wis_fail("munmap(128 MiB)");
}

const struct wis_testcase wis_page_fault1 = {
	"page_fault1", "Anonymous memory page fault", page_fault1_setup, page_fault1_pass,
};
