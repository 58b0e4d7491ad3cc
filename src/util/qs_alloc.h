/* Allocation of large buffers (tensor data, sorted copies) backed by transparent huge pages where the kernel offers
 * them: first-touch page faults otherwise cost more than sorting 16M values. */
#ifndef QS_ALLOC_H
#define QS_ALLOC_H

#include <stddef.h>

/* Like malloc(size); the result is released with free(). Buffers of 8 MiB or more are 2 MiB aligned and advised
 * as huge-page candidates (madvise MADV_HUGEPAGE). */
void *qs_alloc_large(size_t size);

#endif
