/* Sweep rows as CSV. */
#include "csv.h"

#include <stdlib.h>
#include <string.h>

static const char *const csv_columns =
	"tensor,shape,n,bits,signed,range,scheme,granularity,calib,multiplier,scale,zero_point,sse_clip,sse_round,"
	"sse,signal,rel,rel_clip,rel_round,sqnr_db,clip_frac,n_clipped,max_abs,worst_group_rel,eff_bits,profile,"
	"rounding,pow2,seed,ngroups,dead_groups,nonfinite,qparams,qparams_row,mode,calib_batches,eval_batches,eval_n,"
	"eval_rel,eval_rel_clip,eval_rel_round,eval_sqnr_db,eval_clip_frac,eval_max_abs";

void qs_csv_write_header(FILE *f)
{
	fprintf(f, "%s\n", csv_columns);
}

void qs_csv_write_field(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\n\r")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* The shortest of %.15g, %.16g, %.17g that reads back as exactly v (so 0.77 prints as 0.77). */
void qs_csv_put_num(FILE *f, double v)
{
	char buf[40];
	for (int digits = 15; digits <= 17; digits++) {
		snprintf(buf, sizeof buf, "%.*g", digits, v);
		if (digits == 17 || strtod(buf, NULL) == v)
			break;
	}
	fputc(',', f);
	fputs(buf, f);
}

void qs_csv_write_row(FILE *f, const struct qs_sweep_row *r, const char *qparams_ref, const struct qs_csv_act *act)
{
	char shape[128], gran[64];
	const struct qs_quantizer *q = r->quant;
	const struct qs_err *e = &r->err;
	qs_tensor_format_shape(r->tensor, shape, sizeof shape);
	qs_gran_format(r->gran, gran, sizeof gran);
	qs_csv_write_field(f, r->tensor->name);
	fprintf(f, ",%s,%zu,%d,%d,%s,%s,%s,", shape, e->n, q->bits, q->is_signed, q->narrow ? "narrow" : "full",
		q->asym ? "asym" : "sym", gran);
	qs_csv_write_field(f, r->calib->label);
	const double nums[] = {r->multiplier, r->scale, r->zero_point, e->sse_clip, e->sse_round, qs_err_sse(e),
			       e->signal, qs_err_rel(e), qs_err_rel_clip(e), qs_err_rel_round(e), qs_err_sqnr_db(e),
			       qs_err_clip_frac(e)};
	for (size_t i = 0; i < sizeof nums / sizeof *nums; i++)
		qs_csv_put_num(f, nums[i]);
	fprintf(f, ",%zu", e->n_clipped);
	qs_csv_put_num(f, e->max_abs);
	qs_csv_put_num(f, r->worst_group_rel);
	qs_csv_put_num(f, r->eff_bits);
	fprintf(f, ",%s,%s,%d,%lu,%zu,%zu,%zu,", qs_profile_name(q->profile), qs_rounding_name(q->rounding), q->pow2,
		r->seed, r->n_groups, r->n_dead, r->n_nonfinite);
	qs_csv_write_field(f, qparams_ref);
	fprintf(f, ",%zu,%s,%s,%s", r->multiplier_index, act ? act->mode : "static", act ? act->calib_batches : "",
		act ? act->eval_batches : "");
	if (act && act->eval) {
		const struct qs_err *v = act->eval;
		fprintf(f, ",%zu", v->n);
		const double ev[] = {qs_err_rel(v), qs_err_rel_clip(v), qs_err_rel_round(v), qs_err_sqnr_db(v),
				     qs_err_clip_frac(v), v->max_abs};
		for (size_t i = 0; i < sizeof ev / sizeof *ev; i++)
			qs_csv_put_num(f, ev[i]);
		fputc('\n', f);
	} else {
		fputs(",,,,,,,\n", f);
	}
}
