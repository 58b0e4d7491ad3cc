/* The uniform affine quantizer of SPEC §1 and the clip-range -> (scale, zero-point) rules of SPEC §3. */
#ifndef QS_QUANTIZER_H
#define QS_QUANTIZER_H

#include <stdbool.h>

#include <gsl/gsl_rng.h>

enum qs_rounding {
	QS_ROUND_EVEN,       /* round half to even (numpy, torch) */
	QS_ROUND_AWAY,       /* round half away from zero (C round()) */
	QS_ROUND_STOCHASTIC, /* floor(v) + Bernoulli(frac(v)): unbiased, needs an RNG */
};

enum qs_profile {
	QS_PROFILE_DEFAULT, /* SPEC §3: symmetric s = T / (2^(b-1) - 1) */
	QS_PROFILE_TORCH,   /* torch.ao MinMaxObserver: s = T / ((qmax - qmin) / 2), eps floor, float32 arithmetic */
};

struct qs_quantizer {
	int bits;             /* 2..16 */
	bool is_signed;
	bool narrow;          /* narrow range: qmin raised by one */
	bool asym;            /* asymmetric (affine) instead of symmetric */
	bool pow2;            /* scale rounded up to a power of two */
	enum qs_rounding rounding;
	enum qs_profile profile;
};

struct qs_qparams {
	double scale;         /* > 0 */
	long zero_point;
	bool dead;            /* degenerate clip range (all zero): s = 1, z = 0 (qmin if 0 < qmin) by default */
};

#define QS_BITS_MIN 2
#define QS_BITS_MAX 16
#define QS_TORCH_EPS 1.1920928955078125e-07 /* torch.finfo(torch.float32).eps */

/* Integer range [qmin, qmax] of the quantizer. */
void qs_quant_range(const struct qs_quantizer *q, long *qmin, long *qmax);

/* (scale, zero-point) for the clip range [lo, hi] (lo <= hi) under q's scheme, profile and scale constraint. */
void qs_quant_params(const struct qs_quantizer *q, double lo, double hi, struct qs_qparams *out);

/* QS_OK, or QS_ENONFINITE naming the tensor `name` and the multiplier when a scale from qs_quant_params is not
 * finite. Only the torch profile gets there: its float32 arithmetic overflows for a clip range (times the
 * multiplier) beyond FLT_MAX, as torch's own would, and every error measured with that scale would be NaN. */
int qs_quant_scale_check(double scale, const char *name, double multiplier);

/* Rounds v to an integer-valued double. rng is used (and required) only for stochastic rounding. */
double qs_quant_round(double v, enum qs_rounding mode, gsl_rng *rng);

/* Fake-quantizes one value: returns x̂ = (clamp(round(x/s) + z) - z) * s and sets *clipped. */
double qs_quant_fake(const struct qs_quantizer *q, const struct qs_qparams *p, double x, gsl_rng *rng, bool *clipped);

/* Names used on the command line and in CSV files. */
const char *qs_rounding_name(enum qs_rounding mode);
const char *qs_profile_name(enum qs_profile profile);
int qs_rounding_parse(const char *s, enum qs_rounding *out);
int qs_profile_parse(const char *s, enum qs_profile *out);

#endif
