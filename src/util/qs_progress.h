/* The text of a progress line (the CLI decides when and where to print it). */
#ifndef QS_PROGRESS_H
#define QS_PROGRESS_H

#include <stddef.h>

/* Seconds as "m:ss" (under an hour) or "h:mm:ss"; negative or non-finite as "--:--". */
void qs_progress_time(char *buf, size_t len, double seconds);

/* One progress line of at most `width` columns (ASCII):
 *   "sweep [########------------]  34%  12/221 tensors  0:07 elapsed, ETA 0:14"
 * frac is the fraction done in [0, 1] (clamped), or negative when the total is unknown: then
 *   "sweep  12 tensors  0:07 elapsed"
 * n_total is the number of items (0: unknown). The ETA is elapsed·(1 − frac)/frac ("--:--" before any progress).
 * The bar takes what the width leaves (at most 40 columns) and is left out below 10. */
void qs_progress_format(char *buf, size_t len, int width, const char *what, double frac, size_t n_done,
			size_t n_total, double elapsed);

#endif
