/*
 * brk2, will-it-scale tests/brk2.c: "brk unshared increase/decrease of one page".
 * The task first grows the heap by a page of its own (sbrk), so that its loop resizes a VMA
 * that is private to it instead of creating one: each pass moves the break from base to
 * base + page and back, two brk calls, two ops.
 */
#include "harness.h"

#include <unistd.h>

struct brk2_state {
	char *low;
	char *high;
};

static void brk2_setup(unsigned long task, void *p)
{
	struct brk2_state *s = p;
	unsigned long page = wis_page_size();
	void *old = sbrk(page);

	(void)task;
	if (old == (void *)-1)
		wis_fail("sbrk(one page)");
	s->low = (char *)old + page;
	s->high = s->low + page;
}

static void brk2_pass(void *p, wis_counter *counter)
{
	struct brk2_state *s = p;

	if (brk(s->high) != 0)
		wis_fail("brk (grow one page)");
	if (brk(s->low) != 0)
		wis_fail("brk (shrink one page)");
	*counter += 2;
}

const struct wis_testcase wis_brk2 = {
	"brk2", "brk unshared increase/decrease of one page", brk2_setup, brk2_pass,
};
