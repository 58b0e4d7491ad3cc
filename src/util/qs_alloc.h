/* Allocation of large buffers (tensor data, sorted copies) backed by transparent huge pages where the kernel offers
 * them: first-touch page faults otherwise cost more than sorting 16M values. */
#ifndef QS_ALLOC_H
#define QS_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

/* Like malloc(size); the result is released with free(). Buffers of 8 MiB or more are 2 MiB aligned and advised
 * as huge-page candidates (madvise MADV_HUGEPAGE). */
void *qs_alloc_large(size_t size);

/* Room for element n of a growing array: when n == *cap, the array whose address is `items` (elements of `elem`
 * bytes) is reallocated to twice its capacity (`first` elements at first). False when out of memory, with the array
 * and *cap unchanged. Every list that grows by appending uses this. */
bool qs_grow(void *items, size_t *cap, size_t n, size_t elem, size_t first);

#endif
