/*
 * brk1, will-it-scale tests/brk1.c: "brk increase/decrease of one page".
 * The task reads its break once; each pass grows it by one page and puts it back: two brk
 * calls, two ops. In processes mode the heap VMA was inherited over fork, so the grown page
 * becomes a VMA of its own each time (the reason brk2 exists).
 */
#include "harness.h"

#include <unistd.h>

struct brk1_state {
	char *low;
	char *high;
};

static void brk1_setup(unsigned long task, void *p)
{
	struct brk1_state *s = p;
	void *now = sbrk(0);

	(void)task;
	if (now == (void *)-1)
		wis_fail("sbrk(0)");
	s->low = now;
	s->high = s->low + wis_page_size();
}

static void brk1_pass(void *p, wis_counter *counter)
{
	struct brk1_state *s = p;

	if (brk(s->high) != 0)
		wis_fail("brk (grow one page)");
	if (brk(s->low) != 0)
		wis_fail("brk (shrink one page)");
	*counter += 2;
}

const struct wis_testcase wis_brk1 = {
	"brk1", "brk increase/decrease of one page", brk1_setup, brk1_pass,
};
