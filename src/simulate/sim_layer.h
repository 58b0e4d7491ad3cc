/* The float layers a simulation runs: Linear (Y = X·Wᵀ + b) and Conv2d (NCHW, im2col + GEMM through CBLAS). */
#ifndef QS_SIM_LAYER_H
#define QS_SIM_LAYER_H

#include <stdbool.h>
#include <stddef.h>

#include "../tensor/tensor.h"

enum qs_sim_op { QS_SIM_LINEAR, QS_SIM_CONV2D };

struct qs_sim_layer {
	enum qs_sim_op op;
	const struct qs_tensor *weight;  /* Linear [out, in]; Conv2d [out, in/groups, kh, kw] */
	const struct qs_tensor *bias;    /* [out], or NULL */
	size_t stride[2], padding[2], dilation[2]; /* Conv2d: (height, width); stride, dilation >= 1 */
	size_t groups;                   /* Conv2d: >= 1, divides in and out channels (in = out = groups: depthwise) */
};

/* Checks the layer's own shapes (weight rank, bias length, groups, stride, dilation); errors name the tensor. */
int qs_sim_layer_check(const struct qs_sim_layer *l);

/* Checks the layer's own shapes and those of an input of shape xshape (Linear: [..., in]; Conv2d: [N, C, H, W])
 * and gives the output shape (Linear [..., out]; Conv2d [N, out, OH, OW]). Errors name the offending tensor. */
int qs_sim_layer_shape(const struct qs_sim_layer *l, int xrank, const size_t *xshape, int *yrank, size_t *yshape);

/* y = layer(x) with weights w (the layer's weight shape; its own data or a quantized copy). Shapes must have
 * passed qs_sim_layer_shape. Allocates only the im2col workspace (freed before returning). */
int qs_sim_layer_forward(const struct qs_sim_layer *l, const double *w, int xrank, const size_t *xshape,
			 const double *x, double *y);

/* The same by plain loops (direct convolution, no BLAS): the oracle the fast path is tested against. */
void qs_sim_layer_forward_ref(const struct qs_sim_layer *l, const double *w, int xrank, const size_t *xshape,
			      const double *x, double *y);

/* Conv2d: the input index read by output index o and kernel tap k along one axis, or -1 in the padding. */
long qs_sim_conv_in_pos(size_t o, size_t k, size_t stride, size_t dilation, size_t padding, size_t len);

/* Name of an op ("linear", "conv2d") and its parser. */
const char *qs_sim_op_name(enum qs_sim_op op);
int qs_sim_op_parse(const char *s, enum qs_sim_op *out);

#endif
