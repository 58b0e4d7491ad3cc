/* Large allocations advised for transparent huge pages. */
#include "qs_alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)
#define LARGE_MIN ((size_t)8 << 20)

void *qs_alloc_large(size_t size)
{
	if (size < LARGE_MIN || size > SIZE_MAX - HUGE_PAGE)
		return malloc(size ? size : 1);
	size_t rounded = (size + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
	void *p = aligned_alloc(HUGE_PAGE, rounded);
#ifdef MADV_HUGEPAGE
	if (p)
		madvise(p, rounded, MADV_HUGEPAGE); /* advice only: failure changes nothing but speed */
#endif
	return p;
}
