/* The uniform affine quantizer: integer ranges, clip range -> (scale, zero-point), rounding, fake quantization. */
#include "quantizer.h"

#include <math.h>
#include <string.h>

#include "../util/qs_error.h"
#include "../util/qs_names.h"

void qs_quant_range(const struct qs_quantizer *q, long *qmin, long *qmax)
{
	if (q->is_signed) {
		*qmin = -(1L << (q->bits - 1));
		*qmax = (1L << (q->bits - 1)) - 1;
	} else {
		*qmin = 0;
		*qmax = (1L << q->bits) - 1;
	}
	if (q->narrow)
		*qmin += 1;
}

/* 2^ceil(log2 s), exactly: powers of two are kept. */
static double pow2_ceil(double s)
{
	int e;
	double m = frexp(s, &e); /* s = m * 2^e, m in [0.5, 1) */
	return ldexp(1.0, m == 0.5 ? e - 1 : e);
}

static long clamp_long(double v, long lo, long hi)
{
	if (v < (double)lo)
		return lo;
	if (v > (double)hi)
		return hi;
	return (long)v;
}

static void params_default(const struct qs_quantizer *q, double lo, double hi, long qmin, long qmax,
			   struct qs_qparams *out)
{
	if (q->asym) {
		lo = fmin(lo, 0.0);
		hi = fmax(hi, 0.0);
		out->dead = !(hi - lo > 0.0);
		if (out->dead)
			return;
		out->scale = (hi - lo) / (double)(qmax - qmin);
		if (q->pow2)
			out->scale = pow2_ceil(out->scale);
		out->zero_point = clamp_long(nearbyint((double)qmin - lo / out->scale), qmin, qmax);
		return;
	}
	double t = fmax(fabs(lo), fabs(hi));
	out->dead = !(t > 0.0);
	if (out->dead)
		return;
	out->scale = t / (double)((1L << (q->bits - 1)) - 1);
	if (q->pow2)
		out->scale = pow2_ceil(out->scale);
	out->zero_point = q->is_signed ? 0 : 1L << (q->bits - 1);
}

/* torch.ao.quantization.observer MinMaxObserver._calculate_qparams, in float32 as torch computes it. */
static void params_torch(const struct qs_quantizer *q, double lo, double hi, long qmin, long qmax,
			 struct qs_qparams *out)
{
	const float eps = (float)QS_TORCH_EPS;
	float min_neg = fminf((float)lo, 0.0f);
	float max_pos = fmaxf((float)hi, 0.0f);
	float s;
	long z;
	if (q->asym) {
		out->dead = !(max_pos - min_neg > 0.0f);
		s = fmaxf((max_pos - min_neg) / (float)(qmax - qmin), eps);
		if (q->pow2)
			s = (float)pow2_ceil(s);
		float r = min_neg / s; /* NaN only for a range beyond float32 (-inf / inf), which torch cannot hold either */
		z = isnan(r) ? qmin : clamp_long((double)qmin - nearbyintf(r), qmin, qmax);
	} else {
		float t = fmaxf(-min_neg, max_pos);
		out->dead = !(t > 0.0f);
		s = fmaxf(t / ((float)(qmax - qmin) / 2.0f), eps);
		if (q->pow2)
			s = (float)pow2_ceil(s);
		z = q->is_signed ? 0 : 1L << (q->bits - 1);
	}
	out->scale = s;
	out->zero_point = z;
}

void qs_quant_params(const struct qs_quantizer *q, double lo, double hi, struct qs_qparams *out)
{
	long qmin, qmax;
	qs_quant_range(q, &qmin, &qmax);
	/* dead groups: s = 1 and z = 0, or qmin where 0 is not an integer of the range (unsigned narrow), so that
	 * zeros still reconstruct as zero */
	out->scale = 1.0;
	out->zero_point = qmin > 0 ? qmin : 0;
	out->dead = false;
	if (q->profile == QS_PROFILE_TORCH)
		params_torch(q, lo, hi, qmin, qmax, out);
	else
		params_default(q, lo, hi, qmin, qmax, out);
}

int qs_quant_scale_check(double scale, const char *name, double multiplier)
{
	if (isfinite(scale))
		return QS_OK;
	return qs_error_set(QS_ENONFINITE, "'%s': at multiplier %g the clip range is beyond float32, in which the torch "
			    "profile computes its scale (torch's would be infinite); use smaller multipliers or the default "
			    "profile", name, multiplier);
}

double qs_quant_round(double v, enum qs_rounding mode, gsl_rng *rng)
{
	switch (mode) {
	case QS_ROUND_AWAY:
		return round(v);
	case QS_ROUND_STOCHASTIC: {
		double f = floor(v);
		return f + (gsl_rng_uniform(rng) < v - f ? 1.0 : 0.0);
	}
	case QS_ROUND_EVEN:
	default:
		return nearbyint(v); /* the default FE_TONEAREST mode rounds half to even */
	}
}

double qs_quant_fake(const struct qs_quantizer *q, const struct qs_qparams *p, double x, gsl_rng *rng, bool *clipped)
{
	long qmin, qmax;
	qs_quant_range(q, &qmin, &qmax);
	double v = qs_quant_round(x / p->scale, q->rounding, rng) + (double)p->zero_point;
	double c = v;
	*clipped = false;
	if (v < (double)qmin) {
		c = (double)qmin;
		*clipped = true;
	} else if (v > (double)qmax) {
		c = (double)qmax;
		*clipped = true;
	}
	return (c - (double)p->zero_point) * p->scale;
}

static const char *const rounding_names[] = {"even", "away", "stochastic"};
static const char *const profile_names[] = {"default", "torch"};

const char *qs_rounding_name(enum qs_rounding mode)
{
	return rounding_names[mode];
}

const char *qs_profile_name(enum qs_profile profile)
{
	return profile_names[profile];
}

int qs_rounding_parse(const char *s, enum qs_rounding *out)
{
	int i = qs_name_index(rounding_names, sizeof rounding_names / sizeof *rounding_names, s);
	if (i < 0)
		return qs_error_set(QS_EUSAGE, "unknown rounding '%s' (use even, away or stochastic)", s);
	*out = (enum qs_rounding)i;
	return QS_OK;
}

int qs_profile_parse(const char *s, enum qs_profile *out)
{
	int i = qs_name_index(profile_names, sizeof profile_names / sizeof *profile_names, s);
	if (i < 0)
		return qs_error_set(QS_EUSAGE, "unknown profile '%s' (use default or torch)", s);
	*out = (enum qs_profile)i;
	return QS_OK;
}
