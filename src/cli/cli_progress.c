/* The sweep's progress bar on a terminal: fraction of the values done, elapsed time, ETA. */
#include "cli_progress.h"

#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util/qs_error.h"
#include "util/qs_progress.h"

static double seconds_since(const struct timespec *t0, const struct timespec *t1)
{
	return (double)(t1->tv_sec - t0->tv_sec) + 1e-9 * (double)(t1->tv_nsec - t0->tv_nsec);
}

void qs_cli_progress_start(struct qs_cli_progress *p, bool on)
{
	*p = (struct qs_cli_progress){.on = on};
	clock_gettime(CLOCK_MONOTONIC, &p->start);
	p->last = p->start;
}

void qs_cli_progress_count(struct qs_cli_progress *p, const struct qs_inputs *in, const struct qs_load_opts *load,
			   const struct qs_filter *filter)
{
	if (!p->on)
		return;
	double values = 0.0;
	size_t tensors = 0;
	int rc = QS_OK;
	for (size_t i = 0; i < in->paths.n && rc == QS_OK; i++) {
		struct qs_source *src = NULL;
		rc = qs_source_open(in->paths.items[i], load, &src);
		while (rc == QS_OK) {
			struct qs_tensor *t;
			rc = qs_source_next(src, &t);
			if (rc || !t)
				break;
			if (qs_cli_selected(filter, t->name)) {
				values += (double)t->n;
				tensors++;
			}
			qs_tensor_free(t);
		}
		if (src)
			qs_source_close(src);
	}
	if (rc == QS_OK) {
		p->total_values = values;
		p->total_tensors = tensors;
	}
}

void qs_cli_progress_update(struct qs_cli_progress *p, double done_values, size_t done_tensors)
{
	if (!p->on)
		return;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (seconds_since(&p->start, &now) < 1.0 || (p->shown && seconds_since(&p->last, &now) < 0.1))
		return;
	p->last = now;
	struct winsize ws;
	int width = ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
	char line[512];
	double frac = p->total_values > 0.0 ? done_values / p->total_values : -1.0;
	qs_progress_format(line, sizeof line, width, "sweep", frac, done_tensors, p->total_tensors,
			   seconds_since(&p->start, &now));
	fprintf(stderr, "\r\033[K%s", line);
	fflush(stderr);
	p->shown = true;
}

void qs_cli_progress_clear(struct qs_cli_progress *p)
{
	if (!p->shown)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	p->shown = false;
}
