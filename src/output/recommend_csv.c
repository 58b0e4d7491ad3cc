/* Writes the recommendation table. */
#include "recommend_csv.h"

#include <math.h>

#include "csv.h"

const char *qs_rec_dominant(const struct qs_rec_point *p)
{
	return p->rel_clip > p->rel_round ? "clip" : "round";
}

void qs_recommend_csv_write(FILE *f, const struct qs_recommendation *rec)
{
	fputs("tensor,shape,n,bits,granularity,scheme,signed,range,pow2,profile,rounding,calib,multiplier,scale,"
	      "zero_point,rel,rel_clip,rel_round,sqnr_db,eff_bits,worst_group_rel,dominant,flat_lo,flat_hi,"
	      "meets_target,recommended,qparams,qparams_row,mode,eval_rel\n", f);
	for (size_t i = 0; i < rec->n_configs; i++) {
		const struct qs_rec_config *c = &rec->configs[i];
		const struct qs_rec_point *p = c->best;
		qs_csv_write_field(f, p->tensor);
		fprintf(f, ",%s,%zu,%d,%s,%s,%d,%s,%d,%s,%s,", p->shape, p->n, p->bits, p->granularity, p->scheme,
			p->is_signed, p->range, p->pow2, p->profile, p->rounding);
		qs_csv_write_field(f, p->calib);
		const double nums[] = {p->multiplier, p->scale, p->zero_point, p->rel, p->rel_clip, p->rel_round,
				       p->sqnr_db, p->eff_bits, p->worst_group_rel};
		for (size_t k = 0; k < sizeof nums / sizeof *nums; k++)
			qs_csv_put_num(f, nums[k]);
		fprintf(f, ",%s", qs_rec_dominant(p));
		qs_csv_put_num(f, c->flat_lo);
		qs_csv_put_num(f, c->flat_hi);
		fprintf(f, ",%d,%d,", c->meets_target, c->recommended);
		qs_csv_write_field(f, p->qparams);
		fprintf(f, ",%zu,%s", p->qparams_row, p->mode);
		if (!isnan(p->eval_rel))
			qs_csv_put_num(f, p->eval_rel);
		else
			fputc(',', f);
		fputc('\n', f);
	}
}
