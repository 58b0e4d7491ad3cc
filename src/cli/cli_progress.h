/* The progress bar of long CLI runs: on stderr, only when it is a terminal, after the first second, at most ten
 * redraws a second, cleared at the end. */
#ifndef QS_CLI_PROGRESS_H
#define QS_CLI_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "cli.h"

struct qs_cli_progress {
	bool on;                /* stderr is a terminal and progress was not turned off */
	bool shown;             /* a line is on the screen */
	struct timespec start, last;
	double total_values;    /* 0: unknown (no bar, no ETA) */
	size_t total_tensors;
};

/* Starts the clock; `on` false makes every other call a no-op. */
void qs_cli_progress_start(struct qs_cli_progress *p, bool on);
/* Counts the values and tensors the inputs will give (reading them once); totals stay unknown on any error,
 * which the real pass then reports. */
void qs_cli_progress_count(struct qs_cli_progress *p, const struct qs_inputs *in, const struct qs_load_opts *load,
			   const struct qs_filter *filter);
/* Redraws the line for `done_values` values and `done_tensors` tensors (throttled). */
void qs_cli_progress_update(struct qs_cli_progress *p, double done_values, size_t done_tensors);
/* Clears the line (before other stderr output, and at the end). */
void qs_cli_progress_clear(struct qs_cli_progress *p);

#endif
