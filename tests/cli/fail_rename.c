/* LD_PRELOAD shim for the CLI tests: chosen renames fail as on a full disk, hard links as where there are none.
 *
 * A staged commit renames every result into OUT; making the k-th of them fail is how the tests reach the commit's
 * rollback. Permission tricks do not work for root (CI runs as root) and a full or read-only file system needs a
 * mount, so the tests preload this instead.
 *
 * QS_FAIL_RENAME="SUFFIX[@N],..." fails, with ENOSPC, the Nth rename (the first without @N) whose target is SUFFIX or
 * ends with "/SUFFIX". Every other rename goes to the C library's. With QS_FAIL_LINK set, every link and linkat fails
 * with EPERM, as on a file system without hard links. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_RULES 8

/* The C library's function called `name`, as the type of `fn`. */
static void real(void *fn, size_t size, const char *name)
{
	void *sym = dlsym(RTLD_NEXT, name);
	memcpy(fn, &sym, size); /* ISO C has no object-to-function pointer cast; POSIX makes them alike */
}

int rename(const char *from, const char *to)
{
	static unsigned seen[MAX_RULES]; /* renames to each rule's target so far (one thread renames: the commit) */
	const char *s = getenv("QS_FAIL_RENAME");
	size_t lt = strlen(to);
	for (unsigned k = 0; s && *s && k < MAX_RULES; k++) {
		size_t len = strcspn(s, ",");
		const char *at = memchr(s, '@', len);
		size_t ls = at ? (size_t)(at - s) : len;
		unsigned long nth = at ? strtoul(at + 1, NULL, 10) : 1;
		bool ends = ls <= lt && memcmp(to + lt - ls, s, ls) == 0 && (ls == lt || to[lt - ls - 1] == '/');
		if (ends && ++seen[k] == nth) {
			errno = ENOSPC;
			return -1;
		}
		s += len + (s[len] == ',');
	}
	int (*fn)(const char *, const char *);
	real(&fn, sizeof fn, "rename");
	return fn(from, to);
}

int linkat(int fromfd, const char *from, int tofd, const char *to, int flags)
{
	if (getenv("QS_FAIL_LINK")) {
		errno = EPERM;
		return -1;
	}
	int (*fn)(int, const char *, int, const char *, int);
	real(&fn, sizeof fn, "linkat");
	return fn(fromfd, from, tofd, to, flags);
}

int link(const char *from, const char *to)
{
	if (getenv("QS_FAIL_LINK")) {
		errno = EPERM;
		return -1;
	}
	int (*fn)(const char *, const char *);
	real(&fn, sizeof fn, "link");
	return fn(from, to);
}
