/* The tensor model: a named, shaped array of values converted once to double, row-major (C order). */
#ifndef QS_TENSOR_H
#define QS_TENSOR_H

#include <stdbool.h>
#include <stddef.h>

#define QS_MAX_RANK 8

/* Values qscope measures are finite and below this in magnitude: the errors are sums of squares, which must stay
 * finite (and the fast evaluator's double-double products too). Far beyond any float32, float16 or bfloat16 value. */
#define QS_VALUE_LIMIT 0x1p400

struct qs_tensor {
	char *name;                 /* file stem or container key; owned */
	char dtype[8];              /* dtype it was stored in: "f32", "f64", "f16", "bf16" */
	int rank;                   /* 0..QS_MAX_RANK */
	size_t shape[QS_MAX_RANK];
	size_t n;                   /* product of shape (1 for rank 0) */
	double *data;               /* n values, C order */
	bool owns_data;             /* true: data is freed with the tensor */
	char consumer[32];          /* op type of the node that consumes it in a model ("Conv"), "" if unknown */
	int channel_axis;           /* its output-channel axis for that op (Conv 0, MatMul B 1, ...), -1 if unknown */
};

/* Allocates a tensor with room for its n values (uninitialised). Returns NULL on allocation failure or when the
 * element count overflows size_t. */
struct qs_tensor *qs_tensor_alloc(const char *name, const char *dtype, int rank, const size_t *shape);
void qs_tensor_free(struct qs_tensor *t);

/* Writes the shape as "8x3x3x3" ("scalar" for rank 0) into buf. */
void qs_tensor_format_shape(const struct qs_tensor *t, char *buf, size_t len);

/* Product of shape[0..rank-1]; false if it overflows size_t. */
bool qs_shape_count(int rank, const size_t *shape, size_t *n);

#endif
