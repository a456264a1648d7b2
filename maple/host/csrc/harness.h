/*
 * maplebench host harness: the interface between the task harness (harness.c) and the
 * will-it-scale testcases (one C file each), written for this project.
 *
 * A testcase is a per-task prologue (`setup`, run inside the task before the start barrier)
 * and one pass of its measured loop (`pass`), which adds the ops it completed to the task's
 * counter as it goes. The semantics follow will-it-scale's tests/<name>.c (a34a85cc1e9b).
 */
#ifndef MAPLEBENCH_HARNESS_H
#define MAPLEBENCH_HARNESS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stddef.h>

/* will-it-scale's MEMSIZE: the 128 MiB region of malloc1, mmap1/2 and page_fault1/2/3 */
#define WIS_MEMSIZE (128UL * 1024 * 1024)

/* A task's counter: written only by its task, read by the sampler without locks. */
typedef volatile unsigned long long wis_counter;

struct wis_testcase {
	const char *name;        /* maplebench workload name, e.g. "brk1" */
	const char *description; /* will-it-scale's testcase_description */
	/* Per-task prologue, inside the task, before the start barrier: fills the task's
	 * scratch state (WIS_SCRATCH bytes, allocated by the harness before any task exists,
	 * so that a testcase allocates nothing itself); calls wis_fail on error. */
	void (*setup)(unsigned long task, void *state);
	/* One pass of the testcase's loop; bumps *counter by the ops it completed. */
	void (*pass)(void *state, wis_counter *counter);
};

/* Bytes of per-task state a testcase may use. */
#define WIS_SCRATCH 64

/* The page-fault testcases' loop body: write one byte per page of [m, m + size), one op per
 * page written (tests/page_fault1.c counts pages touched, not faults taken). */
static inline void wis_touch_pages(char *m, unsigned long size, unsigned long page,
				   wis_counter *counter)
{
	for (unsigned long off = 0; off < size; off += page) {
		m[off] = 0;
		(*counter)++;
	}
}

extern const struct wis_testcase wis_brk1, wis_brk2, wis_malloc1, wis_mmap1, wis_mmap2,
	wis_page_fault1, wis_page_fault2, wis_page_fault3;

/* Report "task N: <testcase>: <what>: <strerror(errno)>" on stderr in one write, then end the
 * whole harness (a failing task ends the run, as an assert would in will-it-scale). */
void wis_fail(const char *what) __attribute__((noreturn));

/* The system page size (getpagesize()). */
unsigned long wis_page_size(void);

/* A per-task temporary file of `size` bytes: mkstemp("$TMPDIR/willitscale.XXXXXX"),
 * ftruncate, unlink; returns the open descriptor (as tests/page_fault2.c and mmap2.c do). */
int wis_task_file(unsigned long size);

#endif
