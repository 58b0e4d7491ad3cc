/* Granularity (SPEC §4) and the gathering of a tensor's values into contiguous quantization groups. */
#ifndef QS_GROUPS_H
#define QS_GROUPS_H

#include <stdbool.h>
#include <stddef.h>

#include "tensor.h"

enum qs_gran_kind {
	QS_GRAN_TENSOR,  /* one group */
	QS_GRAN_CHANNEL, /* one group per index along axis (default 0) */
	QS_GRAN_GROUP,   /* blocks of group_size consecutive elements along axis (default last), inside each fibre */
	QS_GRAN_TOKEN,   /* one group per row of the last axis: each token of [tokens, hidden] (or [batch, seq, hidden]) */
};

#define QS_AXIS_DEFAULT (-1000) /* axis not given: 0 for channel, last for group */

struct qs_granularity {
	enum qs_gran_kind kind;
	int axis;           /* QS_AXIS_DEFAULT or an axis; negative counts from the end (-1 = last) */
	size_t group_size;  /* QS_GRAN_GROUP only */
};

/* Parses "tensor", "channel[:AXIS]", "group:G[:AXIS]", "token". */
int qs_gran_parse(const char *s, struct qs_granularity *out);
/* Canonical text form, as parsed ("channel", "channel:1", "group:128", "group:32:0"). */
void qs_gran_format(const struct qs_granularity *g, char *buf, size_t len);

/* The axis a channel/group/token granularity splits t along (the consumer's output-channel axis for a plain
 * `channel`, else 0; the last axis for group and token), counted from 0. QS_EINVAL naming the tensor when t has no
 * such axis. */
int qs_gran_axis(const struct qs_tensor *t, const struct qs_granularity *g, int *axis);

/* A tensor's values regrouped: group k is values[offset[k] .. offset[k+1]). */
struct qs_groups {
	size_t count;
	size_t *offset;        /* count + 1 entries */
	double *values;        /* n values, finite; the tensor's own data when nothing had to move (see owns_values) */
	bool owns_values;
	size_t n;              /* values kept */
	size_t n_nonfinite;    /* NaN/Inf values dropped (only with skip_nonfinite) */
};

/* Gathers t's values by granularity. A NaN/Inf value is an error naming the tensor unless skip_nonfinite, when it
 * is dropped and counted; a finite value of magnitude QS_VALUE_LIMIT or more is always an error (QS_ENONFINITE). An
 * axis the tensor does not have gives QS_EINVAL. */
int qs_groups_build(const struct qs_tensor *t, const struct qs_granularity *g, bool skip_nonfinite,
		    struct qs_groups *out);
void qs_groups_free(struct qs_groups *gr);

#endif
