/*
 * maplebench-micro: host microbenchmarks that separate kernel costs for `maplebench calibrate`,
 * and the will-it-scale testcases timed one task at a time in CPU time. Written for this
 * project; built by maple/host/compiler.py from this file plus the testcase files (not the
 * task harness, harness.c, whose helpers it provides itself).
 *
 * Usage: maplebench-micro -b BENCH [-r REPS] [-m MIN_NS] [-c CPU] [-T] | -l
 *   BENCH is a microbenchmark name (-l lists them) or wis:TESTCASE:MODE (MODE processes or
 *   threads, one task, set up as the harness does: a forked child, or a thread of the main
 *   process whose main thread waits in pthread_join).
 *   Each of REPS repetitions (default 7) runs the benchmark's operation until at least MIN_NS
 *   (default 20 ms) of the measuring thread's CPU time (CLOCK_THREAD_CPUTIME_ID: time the
 *   thread ran, user + kernel, so preemption by other processes on a shared machine is not
 *   counted) has passed, then prints "rep R ops N cpu_ns T wall_ns W minflt F" on stdout
 *   (F: the minor page faults the thread took meanwhile, RUSAGE_THREAD).
 *   -c binds the measuring task to one CPU.
 *   -b shootdown: unmap_touched on CPU 0 while a peer thread of the same mm spins on CPU 1
 *   (each munmap's TLB flush then interrupts CPU 1; CPU time of the main thread).
 *   Scheduler benchmarks (-b cacheline | wakeup | switch; wall time, so use the fastest
 *   repetition): a cache line bounced between threads on CPUs 0 and 1; a futex wake-up
 *   ping-pong between threads on CPUs 0 and 1; the same ping-pong with both on CPU 0 (two
 *   context switches per round trip). An op is one way of a round trip. -T runs a microbenchmark in a second thread while
 *   the main thread waits in pthread_join (a multi-threaded mm, as threads mode's tasks).
 * Exit status: 0 done, 1 a syscall failed (message on stderr), 2 bad usage.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/futex.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MICRO_PAGES 256 /* 1 MiB regions: below the 2 MiB THP size, one page-table page */

static const struct wis_testcase *const testcases[] = {
	&wis_brk1, &wis_brk2, &wis_malloc1, &wis_mmap1, &wis_mmap2,
	&wis_page_fault1, &wis_page_fault2, &wis_page_fault3,
};
#define NR_TESTCASES (sizeof(testcases) / sizeof(testcases[0]))

static const char *bench_name = "?";

void wis_fail(const char *what)
{
	int err = errno;
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "maplebench-micro: %s: %s: %s\n", bench_name, what,
			 strerror(err));

	if (n > 0 && write(STDERR_FILENO, buf, (size_t)n) < 0)
		_exit(1);
	_exit(1);
}

static unsigned long long now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

/* -- the microbenchmarks: state, then one operation (returns the ops it did) -------------- */

struct micro_state {
	unsigned long page;
	char *low;      /* brk: the break */
	int fd;         /* file faults: a cached 1 MiB file */
	char *region;   /* mprotect: three pages */
};

static unsigned long op_getppid(struct micro_state *s)
{
	(void)s;
	if (getppid() < 0)
		wis_fail("getppid");
	return 1;
}

/* brk grow + shrink by one page on the process's own heap (expanded in place, not a fork) */
static unsigned long op_brk(struct micro_state *s)
{
	if (brk(s->low + s->page) != 0)
		wis_fail("brk (grow)");
	if (brk(s->low) != 0)
		wis_fail("brk (shrink)");
	return 1;
}

/* mmap + munmap of one anonymous page, never touched */
static unsigned long op_mmap_page(struct micro_state *s)
{
	char *m = mmap(NULL, s->page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		wis_fail("mmap(1 page)");
	if (munmap(m, s->page) != 0)
		wis_fail("munmap(1 page)");
	return 1;
}

static void touch(char *m, unsigned long pages, unsigned long page)
{
	for (unsigned long i = 0; i < pages; i++)
		((volatile char *)m)[i * page] = 1;
}

/* mmap 1 MiB anonymous, write-fault each of its 256 pages (zeroed pages), munmap */
static unsigned long op_anon_fault(struct micro_state *s)
{
	unsigned long size = MICRO_PAGES * s->page;
	char *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		wis_fail("mmap(1 MiB)");
	touch(m, MICRO_PAGES, s->page);
	if (munmap(m, size) != 0)
		wis_fail("munmap(1 MiB)");
	return MICRO_PAGES;
}

/* mmap 1 MiB of a cached file (shared or private), write-fault each page, munmap */
static unsigned long file_fault(struct micro_state *s, int flags)
{
	unsigned long size = MICRO_PAGES * s->page;
	char *m = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, s->fd, 0);

	if (m == MAP_FAILED)
		wis_fail("mmap(1 MiB file)");
	touch(m, MICRO_PAGES, s->page);
	if (munmap(m, size) != 0)
		wis_fail("munmap(1 MiB file)");
	return MICRO_PAGES;
}

static unsigned long op_file_shared_fault(struct micro_state *s)
{
	return file_fault(s, MAP_SHARED);
}

static unsigned long op_file_private_fault(struct micro_state *s)
{
	return file_fault(s, MAP_PRIVATE);
}

/* mmap one anonymous page, write it (one first-touch fault), munmap it (one PTE zapped, one
 * TLB flush: with -b shootdown, an IPI to the other CPU running the mm) */
static unsigned long op_unmap_touched(struct micro_state *s)
{
	char *m = mmap(NULL, s->page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		wis_fail("mmap(1 page)");
	((volatile char *)m)[0] = 1;
	if (munmap(m, s->page) != 0)
		wis_fail("munmap(1 touched page)");
	return 1;
}

/* mprotect the middle of three pages read-only (a split into three VMAs), then back (a merge
 * into one) */
static unsigned long op_mprotect(struct micro_state *s)
{
	if (mprotect(s->region + s->page, s->page, PROT_READ) != 0)
		wis_fail("mprotect (split)");
	if (mprotect(s->region + s->page, s->page, PROT_READ | PROT_WRITE) != 0)
		wis_fail("mprotect (merge)");
	return 1;
}

struct micro {
	const char *name;
	const char *description;
	unsigned long (*op)(struct micro_state *);
};

static const struct micro micros[] = {
	{ "getppid", "getppid(): one syscall entry and exit", op_getppid },
	{ "brk", "brk grow + shrink of one page on the own heap (in place)", op_brk },
	{ "mmap_page", "mmap + munmap of one anonymous page, untouched", op_mmap_page },
	{ "anon_fault", "mmap 1 MiB anonymous, write each page (first-touch faults), munmap; op = page",
	  op_anon_fault },
	{ "file_shared_fault", "mmap 1 MiB of a cached file shared, write each page, munmap; op = page",
	  op_file_shared_fault },
	{ "file_private_fault", "mmap 1 MiB of a cached file private, write each page (COW), munmap; op = page",
	  op_file_private_fault },
	{ "mprotect", "mprotect split of one page out of three and merge back", op_mprotect },
	{ "unmap_touched", "mmap + write + munmap of one anonymous page (one fault, one zap, one TLB flush)",
	  op_unmap_touched },
};
#define NR_MICROS (sizeof(micros) / sizeof(micros[0]))

static void micro_setup(struct micro_state *s)
{
	s->page = wis_page_size();
	s->low = sbrk(0);
	if (s->low == (void *)-1)
		wis_fail("sbrk(0)");
	s->fd = wis_task_file(MICRO_PAGES * s->page);
	{
		/* bring the file's pages into the page cache once */
		char *m = mmap(NULL, MICRO_PAGES * s->page, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);

		if (m == MAP_FAILED)
			wis_fail("mmap(file, populate)");
		touch(m, MICRO_PAGES, s->page);
		if (munmap(m, MICRO_PAGES * s->page) != 0)
			wis_fail("munmap(file, populate)");
	}
	s->region = mmap(NULL, 3 * s->page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->region == MAP_FAILED)
		wis_fail("mmap(3 pages)");
}

/* -- scheduler parameters: two threads on two CPUs (or one), timed in wall time ---------- */

static unsigned long word __attribute__((aligned(256)));

static long futex(unsigned long *addr, int op, unsigned long val)
{
	return syscall(SYS_futex, (unsigned int *)addr, op, (unsigned int)val, NULL, NULL, 0);
}

struct peer {
	int kind;          /* 0: cache-line ping-pong, 1: futex ping-pong */
	long cpu;
	unsigned long n;
};

static void bind_cpu(long cpu);

/* the peer: answers each of the main thread's n moves */
static void *peer_main(void *arg)
{
	struct peer *p = arg;

	bind_cpu(p->cpu);
	for (unsigned long i = 0; i < p->n; i++) {
		if (p->kind == 0) {
			while (__atomic_load_n(&word, __ATOMIC_ACQUIRE) != 2 * i + 1)
				__asm__ __volatile__("" ::: "memory");
			__atomic_store_n(&word, 2 * i + 2, __ATOMIC_RELEASE);
		} else {
			while (__atomic_load_n(&word, __ATOMIC_ACQUIRE) == 0)
				futex(&word, FUTEX_WAIT_PRIVATE, 0);
			__atomic_store_n(&word, 0, __ATOMIC_RELEASE);
			futex(&word, FUTEX_WAKE_PRIVATE, 1);
		}
	}
	return NULL;
}

/* One repetition of n round trips: the cache line (kind 0) or a futex wake-up (kind 1) goes
 * to the peer and back; an op is one way (ops = 2n). */
static void pingpong(int kind, long cpu_main, long cpu_peer, unsigned long n, long rep)
{
	struct peer p = { kind, cpu_peer, n };
	pthread_t t;
	unsigned long long w0, c0;
	int err;

	__atomic_store_n(&word, 0, __ATOMIC_RELEASE);
	bind_cpu(cpu_main);
	err = pthread_create(&t, NULL, peer_main, &p);
	if (err) {
		errno = err;
		wis_fail("pthread_create");
	}
	w0 = now_ns(CLOCK_MONOTONIC);
	c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
	for (unsigned long i = 0; i < n; i++) {
		if (kind == 0) {
			while (__atomic_load_n(&word, __ATOMIC_ACQUIRE) != 2 * i)
				__asm__ __volatile__("" ::: "memory");
			__atomic_store_n(&word, 2 * i + 1, __ATOMIC_RELEASE);
		} else {
			__atomic_store_n(&word, 1, __ATOMIC_RELEASE);
			futex(&word, FUTEX_WAKE_PRIVATE, 1);
			while (__atomic_load_n(&word, __ATOMIC_ACQUIRE) == 1)
				futex(&word, FUTEX_WAIT_PRIVATE, 1);
		}
	}
	if (kind == 0)
		while (__atomic_load_n(&word, __ATOMIC_ACQUIRE) != 2 * n)
			__asm__ __volatile__("" ::: "memory");
	{
		unsigned long long c = now_ns(CLOCK_THREAD_CPUTIME_ID), w = now_ns(CLOCK_MONOTONIC);

		pthread_join(t, NULL);
		printf("rep %ld ops %lu cpu_ns %llu wall_ns %llu minflt 0\n", rep, 2 * n, c - c0, w - w0);
		fflush(stdout);
	}
}

/* -b shootdown: a peer thread of the same mm spins in user space on CPU 1 while the main
 * thread, on CPU 0, runs unmap_touched: every munmap's TLB flush must reach CPU 1 (an IPI,
 * flush_tlb_multi). Timed in the main thread's CPU time, as the microbenchmarks. */
static int spin_stop;

static void *spinner_main(void *arg)
{
	bind_cpu((long)arg);
	while (!__atomic_load_n(&spin_stop, __ATOMIC_ACQUIRE))
		__asm__ __volatile__("" ::: "memory");
	return NULL;
}

/* -- running and timing --------------------------------------------------------------- */

static long reps = 7;
static unsigned long long min_ns = 20000000ULL;

static long minflt(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_THREAD, &ru) != 0)
		wis_fail("getrusage");
	return ru.ru_minflt;
}

static void report(long rep, unsigned long long ops, unsigned long long cpu, unsigned long long wall,
		   long faults)
{
	printf("rep %ld ops %llu cpu_ns %llu wall_ns %llu minflt %ld\n", rep, ops, cpu, wall, faults);
	fflush(stdout);
}

static void run_micro(const struct micro *m)
{
	struct micro_state s;

	micro_setup(&s);
	for (int k = 0; k < 1000; k++)
		m->op(&s); /* warm-up */
	for (long r = 0; r < reps; r++) {
		long f0 = minflt();
		unsigned long long ops = 0, c0 = now_ns(CLOCK_THREAD_CPUTIME_ID), w0 = now_ns(CLOCK_MONOTONIC), c;

		do {
			for (int k = 0; k < 64; k++)
				ops += m->op(&s);
			c = now_ns(CLOCK_THREAD_CPUTIME_ID);
		} while (c - c0 < min_ns);
		report(r, ops, c - c0, now_ns(CLOCK_MONOTONIC) - w0, minflt() - f0);
	}
}

static const struct wis_testcase *wis_tc;

static void run_testcase(void)
{
	long scratch[WIS_SCRATCH / sizeof(long)];
	wis_counter counter = 0;

	memset(scratch, 0, sizeof(scratch));
	wis_tc->setup(0, scratch);
	wis_tc->pass(scratch, &counter); /* warm-up: one pass */
	for (long r = 0; r < reps; r++) {
		long f0 = minflt();
		unsigned long long c0 = now_ns(CLOCK_THREAD_CPUTIME_ID), w0 = now_ns(CLOCK_MONOTONIC), c;
		unsigned long long before = counter;

		do {
			wis_tc->pass(scratch, &counter);
			c = now_ns(CLOCK_THREAD_CPUTIME_ID);
		} while (c - c0 < min_ns);
		report(r, counter - before, c - c0, now_ns(CLOCK_MONOTONIC) - w0, minflt() - f0);
	}
}

static void *thread_main(void *arg)
{
	(void)arg;
	run_testcase();
	return NULL;
}

static void *micro_thread_main(void *arg)
{
	run_micro(arg);
	return NULL;
}

static void bind_cpu(long cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET((int)cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		wis_fail("sched_setaffinity");
}

static void usage(const char *what, const char *value) __attribute__((noreturn));

static void usage(const char *what, const char *value)
{
	fprintf(stderr, "maplebench-micro: %s '%s'\n", what, value);
	exit(2);
}

int main(int argc, char *argv[])
{
	static char outbuf[4096];
	const char *bench = NULL;
	long cpu = -1;
	int opt, in_thread = 0;

	/* stdout's buffer is static: a lazily malloc'ed one could move the break under brk */
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));

	while ((opt = getopt(argc, argv, "b:r:m:c:lT")) != -1) {
		char *end;

		switch (opt) {
		case 'b':
			bench = optarg;
			break;
		case 'r':
			reps = strtol(optarg, &end, 10);
			if (*end || reps < 1 || reps > 1000)
				usage("-r: repetitions must be 1..1000, not", optarg);
			break;
		case 'm':
			min_ns = strtoull(optarg, &end, 10);
			if (*end || min_ns < 1)
				usage("-m: minimum CPU ns per repetition must be positive, not", optarg);
			break;
		case 'c':
			cpu = strtol(optarg, &end, 10);
			if (*end || cpu < 0 || cpu >= CPU_SETSIZE)
				usage("-c: not a CPU number:", optarg);
			break;
		case 'T':
			in_thread = 1;
			break;
		case 'l':
			for (size_t i = 0; i < NR_MICROS; i++)
				printf("%s\t%s\n", micros[i].name, micros[i].description);
			return 0;
		default:
			exit(2);
		}
	}
	if (bench == NULL)
		usage("-b: a benchmark is required, got", "");
	bench_name = bench;
	if (strcmp(bench, "cacheline") == 0 || strcmp(bench, "wakeup") == 0 || strcmp(bench, "switch") == 0) {
		int kind = strcmp(bench, "cacheline") == 0 ? 0 : 1;
		long peer_cpu = strcmp(bench, "switch") == 0 ? 0 : 1;
		unsigned long n = kind == 0 ? 10000 : 500;

		if (sysconf(_SC_NPROCESSORS_ONLN) < 2 && peer_cpu == 1)
			usage("-b: needs two CPUs:", bench);
		for (int k = 0; k < 2; k++)
			pingpong(kind, 0, peer_cpu, n / 10, -1 - k); /* warm-up (rep < 0: ignored) */
		for (long r = 0; r < reps; r++)
			pingpong(kind, 0, peer_cpu, n, r);
		return 0;
	}
	if (strcmp(bench, "shootdown") == 0) {
		pthread_t t;
		int err;

		if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
			usage("-b: needs two CPUs:", bench);
		bind_cpu(0);
		err = pthread_create(&t, NULL, spinner_main, (void *)1L);
		if (err) {
			errno = err;
			wis_fail("pthread_create");
		}
		for (size_t i = 0; i < NR_MICROS; i++)
			if (strcmp(micros[i].name, "unmap_touched") == 0)
				run_micro(&micros[i]);
		__atomic_store_n(&spin_stop, 1, __ATOMIC_RELEASE);
		pthread_join(t, NULL);
		return 0;
	}
	bind_cpu(cpu);
	if (strncmp(bench, "wis:", 4) == 0) {
		char name[64];
		const char *mode = strchr(bench + 4, ':');
		size_t len = mode ? (size_t)(mode - bench - 4) : 0;

		if (mode == NULL || len == 0 || len >= sizeof(name))
			usage("-b: expected wis:TESTCASE:MODE, got", bench);
		memcpy(name, bench + 4, len);
		name[len] = '\0';
		mode++;
		for (size_t i = 0; i < NR_TESTCASES; i++)
			if (strcmp(testcases[i]->name, name) == 0)
				wis_tc = testcases[i];
		if (wis_tc == NULL)
			usage("-b: unknown testcase in", bench);
		if (strcmp(mode, "processes") == 0) {
			/* one task: a forked child (its heap VMA inherited, as the harness's tasks) */
			int status;
			pid_t pid = fork();

			if (pid < 0)
				wis_fail("fork");
			if (pid == 0) {
				run_testcase();
				fflush(stdout);
				_exit(0);
			}
			if (waitpid(pid, &status, 0) != pid)
				wis_fail("waitpid");
			return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
		}
		if (strcmp(mode, "threads") == 0) {
			/* one task: a thread; the main thread waits, as the harness's main thread */
			pthread_t t;
			int err = pthread_create(&t, NULL, thread_main, NULL);

			if (err) {
				errno = err;
				wis_fail("pthread_create");
			}
			pthread_join(t, NULL);
			return 0;
		}
		usage("-b: mode must be processes or threads in", bench);
	}
	for (size_t i = 0; i < NR_MICROS; i++)
		if (strcmp(micros[i].name, bench) == 0) {
			if (in_thread) {
				pthread_t t;
				int err = pthread_create(&t, NULL, micro_thread_main, (void *)&micros[i]);

				if (err) {
					errno = err;
					wis_fail("pthread_create");
				}
				pthread_join(t, NULL);
			} else {
				run_micro(&micros[i]);
			}
			return 0;
		}
	usage("-b: unknown benchmark", bench);
}
