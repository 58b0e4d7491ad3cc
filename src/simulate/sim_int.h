/* The integer pipeline of a quantized layer: b-bit codes multiplied and summed in an accumulator of a given width
 * (overflow detected), then dequantized with the product of the scales: y = acc·s_x·s_w + b. */
#ifndef QS_SIM_INT_H
#define QS_SIM_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "sim_fq.h"
#include "sim_layer.h"

#define QS_ACC_BITS_MIN 8
#define QS_ACC_BITS_MAX 62

struct qs_sim_int_spec {
	int acc_bits;          /* accumulator width, QS_ACC_BITS_MIN..QS_ACC_BITS_MAX */
	bool overflow_error;   /* true: the first overflow is an error; false: count them, the accumulator wraps
				* (two's complement, as int32 hardware does) */
};

/* y = layer(x) from the codes of w and x: acc = Σ (q_x − z_x)(q_w − z_w) over the reduction in index order
 * (Linear: k; Conv2d: c, ky, kx; padding contributes 0), each partial sum checked against the accumulator's
 * range; an output whose partial sums left it counts once in *n_overflow. Needs one weight (s, z) per output
 * channel (granularity tensor or channel:0) and one activation (s, z) per sample (tensor, or channel:0 =
 * per row/token); anything else is QS_EINVAL. */
int qs_sim_int_forward(const struct qs_sim_layer *l, const struct qs_sim_fq *w, const struct qs_sim_fq *x, int xrank,
		       const size_t *xshape, const struct qs_sim_int_spec *spec, double *y, size_t *n_overflow);

#endif
