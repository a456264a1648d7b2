/*
 * maplebench host harness: runs one will-it-scale testcase on the running kernel as
 * will-it-scale's main.c does (one process or thread per task, each task's counter alone on
 * its cache line in shared memory, a start barrier, round-robin CPU binding), while the
 * sampling is done by maplebench's runner reading the same shared memory.
 *
 * Usage: maplebench-wis -t TESTCASE [-m processes|threads] [-n TASKS] [-a AREA_FD]
 *                       [-g GO_FD] [-b CPUSETS] [-p PARENT_PID] [-i PASSES] | -l
 *   -a  a file descriptor (a memfd from the runner) to map MAP_SHARED as the counter area:
 *       256-byte slots, slot 0 is the runner's control slot, task i's counter is the first
 *       word of slot i + 1 and its "ready" flag the second (maple.bench.sampling._Area); without -a the
 *       harness maps an anonymous shared area of its own.
 *   -g  the read end of the start-barrier pipe: each task, once set up, sets its ready flag and
 *       polls it; one byte written by the runner wakes every task at once. Without -g the
 *       tasks start as soon as they are set up.
 *   -b  CPU sets for round-robin binding, ':'-separated, CPUs within a set ','-separated
 *       (e.g. "0,2:1,3", one set per core as will-it-scale's hwloc core mode); task i is bound
 *       to set i mod count. Without -b nothing is bound.
 *   -p  the runner's pid: the harness dies with it (PR_SET_PDEATHSIG) and ignores SIGINT
 *       (the runner handles Ctrl-C and stops the harness with SIGTERM).
 *   -i  run PASSES passes of the testcase's loop per task, then print "task I ops N" for every
 *       task and exit 0 (for syscall counting); without -i tasks loop until stopped.
 *   -l  list the testcases ("name<TAB>description") and exit.
 * Exit status: 0 done or stopped by SIGTERM, 1 a task failed (its message is on stderr),
 * 2 bad usage.
 */
#include "harness.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CACHELINE 256 /* will-it-scale's MAX_CACHELINE_SIZE; runner.CACHELINE */
#define MAX_TASKS 2048 /* will-it-scale's MAX_TASKS */
#define EXIT_FAILED 1
#define EXIT_USAGE 2

static const struct wis_testcase *const testcases[] = {
	&wis_brk1, &wis_brk2, &wis_malloc1, &wis_mmap1, &wis_mmap2,
	&wis_page_fault1, &wis_page_fault2, &wis_page_fault3,
};
#define NR_TESTCASES (sizeof(testcases) / sizeof(testcases[0]))

static const struct wis_testcase *tc;
static char *area;
static char *scratch; /* WIS_SCRATCH bytes per task, allocated before any task exists */
static int go_fd = -1;
static long passes; /* 0: loop until stopped */
static int threads_mode;
static cpu_set_t *cpusets;
static int nr_cpusets;
static pthread_mutex_t setup_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread long current_task = -1;

static pid_t pids[MAX_TASKS];
static long nr_pids;
static volatile sig_atomic_t stopping;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One write() per message, so that messages of concurrent tasks never interleave. */
static void say(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	if (write(STDERR_FILENO, buf, n) < 0)
		return;
}

static void usage_error(const char *fmt, const char *value) __attribute__((noreturn));

static void usage_error(const char *fmt, const char *value)
{
	say("maplebench-wis: ");
	say(fmt, value);
	say("\n");
	_exit(EXIT_USAGE);
}

void wis_fail(const char *what)
{
	int err = errno;

	if (current_task >= 0)
		say("task %ld: %s: %s: %s\n", current_task, tc ? tc->name : "?", what, strerror(err));
	else
		say("harness: %s: %s\n", what, strerror(err));
	_exit(EXIT_FAILED);
}

static wis_counter *counter_of(long task)
{
	return (wis_counter *)(area + (task + 1) * CACHELINE);
}

static long parse_long(const char *s, const char *what, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < min || v > max)
		usage_error(what, s);
	return v;
}

/* "0,2:1,3" -> two sets, {0,2} and {1,3} */
static void parse_cpusets(const char *spec)
{
	const char *p = spec;

	nr_cpusets = 1;
	for (const char *q = spec; *q; q++)
		if (*q == ':')
			nr_cpusets++;
	cpusets = calloc(nr_cpusets, sizeof(cpu_set_t));
	if (cpusets == NULL)
		wis_fail("calloc");
	for (int set = 0; set < nr_cpusets; set++) {
		int any = 0;

		CPU_ZERO(&cpusets[set]);
		while (*p && *p != ':') {
			char *end;
			long cpu;

			errno = 0;
			cpu = strtol(p, &end, 10);
			if (errno || end == p || cpu < 0 || cpu >= CPU_SETSIZE)
				usage_error("-b '%s': bad CPU set list", spec);
			CPU_SET(cpu, &cpusets[set]);
			any = 1;
			p = end;
			if (*p == ',')
				p++;
			else if (*p && *p != ':')
				usage_error("-b '%s': bad CPU set list", spec);
		}
		if (!any)
			usage_error("-b '%s': empty CPU set", spec);
		if (*p == ':')
			p++;
	}
}

static void map_area(int fd, long tasks)
{
	unsigned long page = wis_page_size();
	unsigned long need = (unsigned long)(tasks + 1) * CACHELINE;
	unsigned long size = (need + page - 1) / page * page;

	if (fd >= 0) {
		struct stat st;

		if (fstat(fd, &st) != 0)
			wis_fail("fstat(area)");
		if ((unsigned long)st.st_size < need) {
			errno = EINVAL;
			wis_fail("the counter area is smaller than (tasks + 1) * 256 bytes");
		}
		size = st.st_size;
		area = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	} else {
		area = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	}
	if (area == MAP_FAILED)
		wis_fail("mmap(counter area)");
	if (fd >= 0)
		close(fd);
}

/* A task: bind, set up (one task at a time in threads mode: they share one break and one
 * C library), mark ready, wait at the barrier, loop. */
static void run_task(long task)
{
	wis_counter *counter = counter_of(task);
	void *state = scratch + task * WIS_SCRATCH;

	current_task = task;
	if (nr_cpusets &&
	    sched_setaffinity(0, sizeof(cpu_set_t), &cpusets[task % nr_cpusets]) != 0)
		wis_fail("sched_setaffinity");
	if (threads_mode)
		pthread_mutex_lock(&setup_lock);
	tc->setup((unsigned long)task, state);
	if (threads_mode)
		pthread_mutex_unlock(&setup_lock);
	counter[1] = 1; /* ready */
	if (go_fd >= 0) {
		struct pollfd pfd = { .fd = go_fd, .events = POLLIN };

		while (poll(&pfd, 1, -1) < 0)
			if (errno != EINTR)
				wis_fail("poll(start barrier)");
	}
	if (passes) {
		for (long k = 0; k < passes; k++)
			tc->pass(state, counter);
	} else {
		for (;;)
			tc->pass(state, counter);
	}
}

static void print_counts(long tasks)
{
	for (long i = 0; i < tasks; i++)
		printf("task %ld ops %llu\n", i, *counter_of(i));
	fflush(stdout);
}

/* SIGTERM in processes mode: kill every task; the main loop reaps them and exits 0. */
static void on_sigterm(int sig)
{
	(void)sig;
	stopping = 1;
	for (long i = 0; i < nr_pids; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
}

static void kill_all(void)
{
	for (long i = 0; i < nr_pids; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
}

static int run_processes(long tasks)
{
	struct sigaction sa;
	sigset_t term, old;
	pid_t self = getpid();
	long live;
	int failed = 0;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &old);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigterm; /* no SA_RESTART: waitpid returns to see `stopping` */
	sigaction(SIGTERM, &sa, NULL);
	for (long i = 0; i < tasks; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			kill_all();
			wis_fail("fork");
		}
		if (pid == 0) {
			signal(SIGTERM, SIG_DFL);
			sigprocmask(SIG_SETMASK, &old, NULL);
			/* a task never outlives the harness (will-it-scale: the SIGALRM watchdog) */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != self)
				_exit(EXIT_FAILED);
			run_task(i);
			_exit(0);
		}
		pids[nr_pids++] = pid;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	for (live = tasks; live > 0;) {
		int status;
		pid_t pid = waitpid(-1, &status, 0);
		long i;

		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		sigprocmask(SIG_BLOCK, &term, NULL);
		for (i = 0; i < nr_pids && pids[i] != pid; i++)
			;
		if (i < nr_pids)
			pids[i] = -pid;
		sigprocmask(SIG_SETMASK, &old, NULL);
		live--;
		if (stopping || failed)
			continue;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && passes)
			continue;
		if (WIFSIGNALED(status))
			say("task %ld (pid %d): %s: killed by signal %d (%s)\n", i, (int)pid, tc->name,
			    WTERMSIG(status), strsignal(WTERMSIG(status)));
		else if (!(WIFEXITED(status) && WEXITSTATUS(status) == EXIT_FAILED))
			say("task %ld (pid %d): %s: exited with status %d\n", i, (int)pid, tc->name,
			    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		failed = 1;
		sigprocmask(SIG_BLOCK, &term, NULL);
		kill_all();
		sigprocmask(SIG_SETMASK, &old, NULL);
	}
	if (failed)
		return EXIT_FAILED;
	if (!stopping && passes)
		print_counts(tasks);
	return 0;
}

static void *thread_main(void *arg)
{
	run_task((long)arg);
	return NULL;
}

static int run_threads(long tasks)
{
	pthread_t *threads = calloc(tasks, sizeof(pthread_t));
	int err;

	if (threads == NULL)
		wis_fail("calloc");
	for (long i = 0; i < tasks; i++) {
		err = pthread_create(&threads[i], NULL, thread_main, (void *)i);
		if (err) {
			errno = err;
			wis_fail("pthread_create");
		}
	}
	if (!passes)
		for (;;)
			pause(); /* SIGTERM (default action) ends the process and every task */
	for (long i = 0; i < tasks; i++)
		pthread_join(threads[i], NULL);
	print_counts(tasks);
	return 0;
}

int main(int argc, char *argv[])
{
	const char *name = NULL, *mode = "processes";
	long tasks = 1;
	int area_fd = -1;
	long parent = 0;
	int opt;

	while ((opt = getopt(argc, argv, "t:m:n:a:g:b:p:i:l")) != -1) {
		switch (opt) {
		case 't':
			name = optarg;
			break;
		case 'm':
			mode = optarg;
			break;
		case 'n':
			tasks = parse_long(optarg, "-n '%s': tasks must be 1..2048", 1, MAX_TASKS);
			break;
		case 'a':
			area_fd = (int)parse_long(optarg, "-a '%s': not a file descriptor", 0, 1 << 20);
			break;
		case 'g':
			go_fd = (int)parse_long(optarg, "-g '%s': not a file descriptor", 0, 1 << 20);
			break;
		case 'b':
			parse_cpusets(optarg);
			break;
		case 'p':
			parent = parse_long(optarg, "-p '%s': not a pid", 1, 1L << 30);
			break;
		case 'i':
			passes = parse_long(optarg, "-i '%s': passes must be positive", 1, 1L << 62);
			break;
		case 'l':
			for (size_t k = 0; k < NR_TESTCASES; k++)
				printf("%s\t%s\n", testcases[k]->name, testcases[k]->description);
			return 0;
		default:
			usage_error("%s", "usage: maplebench-wis -t TESTCASE [-m processes|threads] "
				    "[-n TASKS] [-a AREA_FD] [-g GO_FD] [-b CPUSETS] [-p PID] [-i PASSES] | -l");
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (name == NULL)
		usage_error("%s", "no testcase given (-t)");
	for (size_t k = 0; k < NR_TESTCASES; k++)
		if (strcmp(testcases[k]->name, name) == 0)
			tc = testcases[k];
	if (tc == NULL)
		usage_error("-t '%s': unknown testcase", name);
	if (strcmp(mode, "threads") == 0)
		threads_mode = 1;
	else if (strcmp(mode, "processes") != 0)
		usage_error("-m '%s': mode must be processes or threads", mode);

	if (parent) {
		signal(SIGINT, SIG_IGN);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != (pid_t)parent)
			return EXIT_FAILED; /* the runner is already gone */
	}
	map_area(area_fd, tasks);
	/* Allocated before any task exists, as will-it-scale's main.c allocates its per-task
	 * arguments: in processes mode the tasks inherit this heap over fork. */
	scratch = calloc(tasks, WIS_SCRATCH);
	if (scratch == NULL)
		wis_fail("calloc");
	return threads_mode ? run_threads(tasks) : run_processes(tasks);
}
