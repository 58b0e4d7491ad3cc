/* Tensor allocation and shape helpers. */
#include "tensor.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/qs_alloc.h"

bool qs_shape_count(int rank, const size_t *shape, size_t *n)
{
	size_t count = 1;
	for (int i = 0; i < rank; i++) {
		if (shape[i] != 0 && count > SIZE_MAX / shape[i])
			return false;
		count *= shape[i];
	}
	*n = count;
	return true;
}

struct qs_tensor *qs_tensor_alloc(const char *name, const char *dtype, int rank, const size_t *shape)
{
	size_t n;
	if (rank < 0 || rank > QS_MAX_RANK || !qs_shape_count(rank, shape, &n) || n > SIZE_MAX / sizeof(double))
		return NULL;
	struct qs_tensor *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->name = strdup(name);
	t->data = qs_alloc_large((n ? n : 1) * sizeof(double));
	if (!t->name || !t->data) {
		free(t->name);
		free(t->data);
		free(t);
		return NULL;
	}
	snprintf(t->dtype, sizeof t->dtype, "%s", dtype);
	t->rank = rank;
	for (int i = 0; i < rank; i++)
		t->shape[i] = shape[i];
	t->n = n;
	t->owns_data = true;
	t->channel_axis = -1;
	return t;
}

void qs_tensor_free(struct qs_tensor *t)
{
	if (!t)
		return;
	if (t->owns_data)
		free(t->data);
	free(t->name);
	free(t);
}

void qs_tensor_format_shape(const struct qs_tensor *t, char *buf, size_t len)
{
	if (t->rank == 0) {
		snprintf(buf, len, "scalar");
		return;
	}
	size_t used = 0;
	buf[0] = '\0';
	for (int i = 0; i < t->rank && used < len; i++) {
		int w = snprintf(buf + used, len - used, i ? "x%zu" : "%zu", t->shape[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}
