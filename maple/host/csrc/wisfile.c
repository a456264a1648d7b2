/*
 * maplebench host testcases: the helpers every program links (the harness and the
 * microbenchmarks): the page size, and a task's own file for the file-backed testcases
 * (will-it-scale's tests make one with mkstemp, size it with ftruncate and unlink it at once).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

unsigned long wis_page_size(void)
{
	return (unsigned long)sysconf(_SC_PAGESIZE);
}

int wis_task_file(unsigned long size)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	int fd;

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	if ((size_t)snprintf(path, sizeof(path), "%s/willitscale.XXXXXX", dir) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		wis_fail("mkstemp");
	}
	fd = mkstemp(path);
	if (fd < 0)
		wis_fail("mkstemp");
	if (ftruncate(fd, (off_t)size) != 0)
		wis_fail("ftruncate");
	unlink(path);
	return fd;
}
