/* Granularity parsing and gathering a tensor's values into contiguous groups (one per channel or block). */
#include "groups.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/qs_alloc.h"
#include "../util/qs_error.h"

static int parse_size(const char *s, size_t *out)
{
	char *end;
	errno = 0;
	if (!*s || *s == '-' || *s == '+')
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v == 0)
		return -1;
	*out = (size_t)v;
	return 0;
}

static int parse_axis(const char *s, int *out)
{
	char *end;
	errno = 0;
	if (!*s)
		return -1;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < -QS_MAX_RANK || v >= QS_MAX_RANK)
		return -1;
	*out = (int)v;
	return 0;
}

int qs_gran_parse(const char *s, struct qs_granularity *out)
{
	out->axis = QS_AXIS_DEFAULT;
	out->group_size = 0;
	if (strcmp(s, "tensor") == 0) {
		out->kind = QS_GRAN_TENSOR;
		return QS_OK;
	}
	if (strcmp(s, "channel") == 0) {
		out->kind = QS_GRAN_CHANNEL;
		return QS_OK;
	}
	if (strcmp(s, "token") == 0) {
		out->kind = QS_GRAN_TOKEN;
		return QS_OK;
	}
	if (strncmp(s, "channel:", 8) == 0 && parse_axis(s + 8, &out->axis) == 0) {
		out->kind = QS_GRAN_CHANNEL;
		return QS_OK;
	}
	if (strncmp(s, "group:", 6) == 0) {
		char buf[64];
		snprintf(buf, sizeof buf, "%s", s + 6);
		char *colon = strchr(buf, ':');
		if (colon)
			*colon = '\0';
		if (strlen(s + 6) < sizeof buf && parse_size(buf, &out->group_size) == 0 &&
		    (!colon || parse_axis(colon + 1, &out->axis) == 0)) {
			out->kind = QS_GRAN_GROUP;
			return QS_OK;
		}
	}
	return qs_error_set(QS_EUSAGE, "bad granularity '%s' (use tensor, channel[:AXIS], group:G[:AXIS] or token)", s);
}

void qs_gran_format(const struct qs_granularity *g, char *buf, size_t len)
{
	switch (g->kind) {
	case QS_GRAN_TENSOR:
		snprintf(buf, len, "tensor");
		break;
	case QS_GRAN_CHANNEL:
		if (g->axis == QS_AXIS_DEFAULT)
			snprintf(buf, len, "channel");
		else
			snprintf(buf, len, "channel:%d", g->axis);
		break;
	case QS_GRAN_GROUP:
		if (g->axis == QS_AXIS_DEFAULT)
			snprintf(buf, len, "group:%zu", g->group_size);
		else
			snprintf(buf, len, "group:%zu:%d", g->group_size, g->axis);
		break;
	case QS_GRAN_TOKEN:
		snprintf(buf, len, "token");
		break;
	}
}

void qs_groups_free(struct qs_groups *gr)
{
	if (!gr)
		return;
	free(gr->offset);
	if (gr->owns_values)
		free(gr->values);
	memset(gr, 0, sizeof *gr);
}

/* The tensor seen as [outer, len, inner] around `axis`; element (o, a, i) is at (o * len + a) * inner + i. */
struct axis_view {
	size_t outer, len, inner;
};

static struct axis_view view_around(const struct qs_tensor *t, int axis)
{
	struct axis_view v = {1, t->shape[axis], 1};
	for (int d = 0; d < axis; d++)
		v.outer *= t->shape[d];
	for (int d = axis + 1; d < t->rank; d++)
		v.inner *= t->shape[d];
	return v;
}

/* From this many values the check for NaN/Inf runs on all threads. */
#define PARALLEL_CHECK_N ((size_t)1 << 20)

static bool all_measurable(const struct qs_tensor *t)
{
	size_t bad = 0;
	#pragma omp parallel for schedule(static) reduction(+ : bad) if (t->n >= PARALLEL_CHECK_N)
	for (size_t i = 0; i < t->n; i++)
		bad += !(fabs(t->data[i]) < QS_VALUE_LIMIT); /* NaN too */
	return bad == 0;
}

/* Appends x to the gather buffer, or counts/rejects it when not finite or too large. */
static int take(const struct qs_tensor *t, double x, bool skip_nonfinite, struct qs_groups *gr)
{
	if (fabs(x) < QS_VALUE_LIMIT) {
		gr->values[gr->n++] = x;
		return QS_OK;
	}
	if (isfinite(x))
		return qs_error_set(QS_ENONFINITE, "'%s': tensor has a value of %g; qscope measures values below 2^400 "
				    "(%.3g) in magnitude, whose squared errors stay finite", t->name, x, QS_VALUE_LIMIT);
	if (!skip_nonfinite)
		return qs_error_set(QS_ENONFINITE, "'%s': tensor contains non-finite values (NaN/Inf); "
				    "use --skip-nonfinite to drop them", t->name);
	gr->n_nonfinite++;
	return QS_OK;
}

/* Group k of a channel granularity: all (o, k, i) in C order. */
static int gather_channels(const struct qs_tensor *t, struct axis_view v, bool skip, struct qs_groups *gr)
{
	for (size_t a = 0; a < v.len; a++) {
		gr->offset[a] = gr->n;
		for (size_t o = 0; o < v.outer; o++)
			for (size_t i = 0; i < v.inner; i++) {
				int rc = take(t, t->data[(o * v.len + a) * v.inner + i], skip, gr);
				if (rc)
					return rc;
			}
	}
	gr->offset[v.len] = gr->n;
	return QS_OK;
}

/* Groups of G consecutive elements along the axis, fibre by fibre (fibres in C order of (o, i)). */
static int gather_blocks(const struct qs_tensor *t, struct axis_view v, size_t g, bool skip, struct qs_groups *gr)
{
	size_t k = 0;
	for (size_t o = 0; o < v.outer; o++)
		for (size_t i = 0; i < v.inner; i++)
			for (size_t a = 0; a < v.len; a++) {
				if (a % g == 0)
					gr->offset[k++] = gr->n;
				int rc = take(t, t->data[(o * v.len + a) * v.inner + i], skip, gr);
				if (rc)
					return rc;
			}
	gr->offset[k] = gr->n;
	return QS_OK;
}

int qs_gran_axis(const struct qs_tensor *t, const struct qs_granularity *g, int *axis)
{
	int channel_default = t->channel_axis >= 0 ? t->channel_axis : 0; /* the consumer's, when a model says */
	int a = g->axis == QS_AXIS_DEFAULT || g->kind == QS_GRAN_TOKEN
			? (g->kind == QS_GRAN_CHANNEL ? channel_default : t->rank - 1) : g->axis;
	if (a < 0)
		a += t->rank;
	if (a < 0 || a >= t->rank) {
		char gbuf[64];
		qs_gran_format(g, gbuf, sizeof gbuf);
		return qs_error_set(QS_EINVAL, "'%s': granularity %s needs an axis the rank-%d tensor does not have",
				    t->name, gbuf, t->rank);
	}
	*axis = a;
	return QS_OK;
}

int qs_groups_build(const struct qs_tensor *t, const struct qs_granularity *g, bool skip_nonfinite,
		    struct qs_groups *out)
{
	memset(out, 0, sizeof *out);
	int axis = 0;
	if (g->kind != QS_GRAN_TENSOR) {
		int rc = qs_gran_axis(t, g, &axis);
		if (rc)
			return rc;
	}
	struct axis_view v = {1, t->n, 1};
	size_t count = 1;
	if (g->kind == QS_GRAN_CHANNEL) {
		v = view_around(t, axis);
		count = v.len;
	} else if (g->kind == QS_GRAN_GROUP) {
		v = view_around(t, axis);
		count = v.outer * v.inner * ((v.len + g->group_size - 1) / g->group_size);
	} else if (g->kind == QS_GRAN_TOKEN) {
		v = view_around(t, axis); /* the last axis: inner = 1, one block of len values per token */
		count = v.outer;
	}
	out->count = count;
	out->offset = malloc((count + 1) * sizeof *out->offset);
	if (out->offset && g->kind == QS_GRAN_TENSOR && all_measurable(t)) {
		/* one group in storage order: the tensor's data serve as they are */
		out->values = t->data;
		out->n = t->n;
		out->offset[0] = 0;
		out->offset[1] = t->n;
		return QS_OK;
	}
	out->owns_values = true;
	out->values = qs_alloc_large((t->n ? t->n : 1) * sizeof *out->values);
	if (!out->offset || !out->values) {
		qs_groups_free(out);
		return qs_error_set(QS_ENOMEM, "'%s': out of memory gathering %zu values", t->name, t->n);
	}
	int rc;
	if (g->kind == QS_GRAN_CHANNEL) {
		rc = gather_channels(t, v, skip_nonfinite, out);
	} else if (g->kind == QS_GRAN_GROUP) {
		rc = gather_blocks(t, v, g->group_size, skip_nonfinite, out);
	} else if (g->kind == QS_GRAN_TOKEN) {
		rc = gather_blocks(t, v, v.len, skip_nonfinite, out);
	} else {
		out->offset[0] = 0;
		rc = QS_OK;
		for (size_t i = 0; i < t->n && rc == QS_OK; i++)
			rc = take(t, t->data[i], skip_nonfinite, out);
		out->offset[1] = out->n;
	}
	if (rc)
		qs_groups_free(out);
	return rc;
}
