/* The OpenMP queries the engine needs, with their one-thread answers when built without OpenMP. */
#ifndef QS_THREADS_H
#define QS_THREADS_H

#include <stdbool.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* Threads a parallel region opened here would get (--jobs). */
static inline int qs_max_threads(void)
{
#ifdef _OPENMP
	return omp_get_max_threads();
#else
	return 1;
#endif
}

/* This thread's number inside its parallel region (0 outside one). */
static inline int qs_thread_num(void)
{
#ifdef _OPENMP
	return omp_get_thread_num();
#else
	return 0;
#endif
}

/* Whether the caller already runs inside an active parallel region (where a nested one gets one thread). */
static inline bool qs_in_parallel(void)
{
#ifdef _OPENMP
	return omp_in_parallel();
#else
	return false;
#endif
}

#endif
