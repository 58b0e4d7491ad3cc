/* The calibrator table and its lookup by name. */
#include "calib.h"

#include <stdio.h>
#include <string.h>

#include "../util/qs_error.h"

static const struct qs_calib_type *const calib_table[] = {
	&qs_calib_minmax,
	&qs_calib_percentile, &qs_calib_entropy, &qs_calib_aciq, &qs_calib_mse,
};

#define CALIB_COUNT (sizeof calib_table / sizeof *calib_table)

int qs_calib_parse(const char *spec, struct qs_calib *out)
{
	const char *colon = strchr(spec, ':');
	size_t name_len = colon ? (size_t)(colon - spec) : strlen(spec);
	for (size_t i = 0; i < CALIB_COUNT; i++) {
		const struct qs_calib_type *type = calib_table[i];
		if (strlen(type->name) != name_len || strncmp(spec, type->name, name_len) != 0)
			continue;
		out->type = type;
		out->param = 0.0;
		snprintf(out->label, sizeof out->label, "%s", spec);
		return type->parse_param(colon ? colon + 1 : NULL, &out->param);
	}
	return qs_error_set(QS_EUSAGE, "unknown calibrator '%s' (available: %s)", spec, qs_calib_names());
}

int qs_calib_clip_range_group(const struct qs_calib *c, const struct qs_calib_group *g, const struct qs_quantizer *q,
			      double *lo, double *hi)
{
	return c->type->clip_range(g, q, c->param, lo, hi);
}

int qs_calib_clip_range(const struct qs_calib *c, const double *x, size_t n, const struct qs_quantizer *q,
			double *lo, double *hi)
{
	const struct qs_calib_group g = {.x = x, .n = n, .sorted = NULL};
	return c->type->clip_range(&g, q, c->param, lo, hi);
}

const char *qs_calib_names(void)
{
	static char names[256];
	if (!names[0]) {
		size_t used = 0;
		for (size_t i = 0; i < CALIB_COUNT && used < sizeof names; i++)
			used += (size_t)snprintf(names + used, sizeof names - used, i ? ", %s" : "%s",
						 calib_table[i]->name);
	}
	return names;
}
