/* Large allocations advised for transparent huge pages and faulted in from all threads. */
#include "qs_alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "qs_threads.h"

#define HUGE_PAGE ((size_t)2 << 20)
#define LARGE_MIN ((size_t)8 << 20)
#define SMALL_PAGE ((size_t)4096)

/* Writes one byte of every page so the kernel maps (and zeroes) them now, split across the OpenMP threads: zeroing
 * fresh pages is otherwise paid on one core by whichever loop first writes the buffer. Inside an active parallel
 * region nothing is done (a thread's scratch may be touched only in part). */
static void fault_in(unsigned char *p, size_t size)
{
	if (qs_in_parallel())
		return;
	size_t pages = (size + SMALL_PAGE - 1) / SMALL_PAGE;
	#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < pages; i++)
		p[i * SMALL_PAGE] = 0;
}

void *qs_alloc_large(size_t size)
{
	if (size < LARGE_MIN || size > SIZE_MAX - HUGE_PAGE)
		return malloc(size ? size : 1);
	size_t rounded = (size + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
	void *p = aligned_alloc(HUGE_PAGE, rounded);
	if (!p)
		return NULL;
#ifdef MADV_HUGEPAGE
	madvise(p, rounded, MADV_HUGEPAGE); /* advice only: failure changes nothing but speed */
#endif
	fault_in(p, size);
	return p;
}

bool qs_grow(void *items, size_t *cap, size_t n, size_t elem, size_t first)
{
	if (n < *cap)
		return true;
	size_t ncap = *cap ? 2 * *cap : first;
	if (ncap < n + 1)
		ncap = n + 1;
	void *old;
	memcpy(&old, items, sizeof old); /* items is the address of a T* for some element type T */
	void *grown = ncap <= SIZE_MAX / elem ? realloc(old, ncap * elem) : NULL;
	if (!grown)
		return false;
	memcpy(items, &grown, sizeof grown);
	*cap = ncap;
	return true;
}
