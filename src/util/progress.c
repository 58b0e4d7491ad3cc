/* Progress line text: bar, percentage, items, elapsed time and ETA. */
#include "qs_progress.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define BAR_MAX 40
#define BAR_MIN 10

void qs_progress_time(char *buf, size_t len, double seconds)
{
	if (!(seconds >= 0.0) || !isfinite(seconds) || seconds > 359999.0) {
		snprintf(buf, len, "--:--");
		return;
	}
	unsigned long s = (unsigned long)seconds;
	if (s < 3600)
		snprintf(buf, len, "%lu:%02lu", s / 60, s % 60);
	else
		snprintf(buf, len, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
}

void qs_progress_format(char *buf, size_t len, int width, const char *what, double frac, size_t n_done,
			size_t n_total, double elapsed)
{
	char el[16], eta[16], items[64], tail[160];
	qs_progress_time(el, sizeof el, elapsed);
	if (n_total)
		snprintf(items, sizeof items, "%zu/%zu tensors", n_done, n_total);
	else
		snprintf(items, sizeof items, "%zu tensors", n_done);
	if (frac < 0.0 || isnan(frac)) {
		snprintf(buf, len, "%s  %s  %s elapsed", what, items, el);
	} else {
		frac = frac > 1.0 ? 1.0 : frac;
		qs_progress_time(eta, sizeof eta, frac > 0.0 ? elapsed * (1.0 - frac) / frac : -1.0);
		snprintf(tail, sizeof tail, "%3d%%  %s  %s elapsed, ETA %s", (int)floor(100.0 * frac), items, el, eta);
		int bar = width - (int)strlen(what) - (int)strlen(tail) - 5; /* "what [" + "] " + room for the cursor */
		bar = bar > BAR_MAX ? BAR_MAX : bar;
		if (bar < BAR_MIN) {
			snprintf(buf, len, "%s  %s", what, tail);
		} else {
			char b[BAR_MAX + 1];
			int full = (int)floor(frac * bar);
			memset(b, '#', (size_t)full);
			memset(b + full, '-', (size_t)(bar - full));
			b[bar] = '\0';
			snprintf(buf, len, "%s [%s] %s", what, b, tail);
		}
	}
	if (width > 0 && strlen(buf) >= (size_t)width && (size_t)width < len)
		buf[width - 1] = '\0';
}
