/* How far a simulated output is from the float reference: rel, SQNR, max_abs, cosine similarity. */
#ifndef QS_SIM_METRICS_H
#define QS_SIM_METRICS_H

#include <stddef.h>

struct qs_sim_err {
	double sse;      /* Σ (y − ref)² */
	double signal;   /* Σ ref² */
	double dot, norm_y2; /* Σ y·ref, Σ y² (for the cosine) */
	double max_abs;  /* max |y − ref| */
	size_t n;
};

/* Adds the comparison of y against ref (n values) to *e (start from a zeroed struct; batches accumulate). */
void qs_sim_err_add(struct qs_sim_err *e, const double *ref, const double *y, size_t n);

/* ‖y − ref‖/‖ref‖ (0 when both are 0, inf when only ref is 0). */
double qs_sim_err_rel(const struct qs_sim_err *e);
/* 10·log10(signal/sse); inf when sse = 0. */
double qs_sim_err_sqnr_db(const struct qs_sim_err *e);
/* Σ y·ref / (‖y‖‖ref‖); 1 when both are 0, 0 when only one is. */
double qs_sim_err_cosine(const struct qs_sim_err *e);

#endif
