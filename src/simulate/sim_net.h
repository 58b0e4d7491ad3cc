/* A small sequential network (Linear, Conv2d, ReLU/ReLU6, MaxPool/AvgPool, Flatten) read from an INI file and run
 * on input batches in float and quantized, with the error after every layer and the top-1 agreement. */
#ifndef QS_SIM_NET_H
#define QS_SIM_NET_H

#include <stdbool.h>
#include <stddef.h>

#include "sim_run.h"

enum qs_net_kind {
	QS_NET_LINEAR, QS_NET_CONV2D, QS_NET_RELU, QS_NET_RELU6, QS_NET_MAXPOOL, QS_NET_AVGPOOL, QS_NET_FLATTEN,
};

struct qs_net_layer {
	char name[64];                  /* the INI section */
	enum qs_net_kind kind;
	struct qs_sim_layer op;         /* linear/conv2d; op.weight and op.bias are owned */
	size_t kernel[2], stride[2], padding[2]; /* pools (stride defaults to the kernel) */
	bool quantize;                  /* INI `quantize = no` keeps a linear/conv2d layer float */
};

struct qs_net {
	char path[1024];
	struct qs_net_layer *layers;
	size_t n_layers;
	char **inputs;                  /* `input = FILE` entries of [network], resolved against the INI's folder */
	size_t n_inputs;
};

/* Reads the INI file and every weight it names. Errors name the file (and line, or the weight file). */
int qs_net_load(const char *path, struct qs_net **out);
void qs_net_free(struct qs_net *net);

const char *qs_net_kind_name(enum qs_net_kind kind);

/* Shape after every layer for a batch of shape (rank, shape); errors name the layer. shapes: n_layers entries. */
int qs_net_shapes(const struct qs_net *net, int rank, const size_t *shape, int *ranks, size_t (*shapes)[QS_MAX_RANK]);

/* One float forward pass; *out is a new tensor (the last layer's output). */
int qs_net_forward_float(const struct qs_net *net, const struct qs_tensor *x, struct qs_tensor **out);

/* Which layers are quantized: bits of (1 << QS_NET_LINEAR) | (1 << QS_NET_CONV2D). */
#define QS_NET_QUANT_ALL ((1u << QS_NET_LINEAR) | (1u << QS_NET_CONV2D))

struct qs_net_result {
	size_t n_layers;
	struct qs_sim_err *err;      /* per layer: the quantized network's activation vs the float network's */
	struct qs_sim_err *w_err;    /* per layer: weight error (zeroed for layers without quantized weights) */
	size_t *n_overflow;          /* per layer, integer pipeline */
	bool *quantized;             /* per layer */
	size_t samples, top1_agree;  /* rows of the final output and how many keep the float model's argmax */
	double **outputs_float, **outputs_quant; /* per batch: the final outputs (for saving) */
	size_t out_n;                /* values per batch output is n of batch b: out_count[b] */
	size_t *out_count;
	size_t n_batches;
};

/* Runs every batch in float and under config c (weights, activations and the output quantizer of every
 * quantized layer; static activation and output ranges calibrated on the float activations of all batches). */
int qs_net_run(const struct qs_net *net, const struct qs_sim_config *c, unsigned quant_mask,
	       struct qs_tensor *const *batches, size_t n_batches, struct qs_net_result *out);
void qs_net_result_free(struct qs_net_result *r);

#endif
