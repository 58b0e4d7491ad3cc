/* The per-model charts: tensors ranked by error, SQNR per tensor in input order. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/qs_error.h"
#include "plots_gp.h"

static int cmp_worst_first(const void *va, const void *vb)
{
	const struct qs_rec_config *a = *(const struct qs_rec_config *const *)va;
	const struct qs_rec_config *b = *(const struct qs_rec_config *const *)vb;
	if (a->best->rel != b->best->rel)
		return a->best->rel > b->best->rel ? -1 : 1;
	return (a->tensor_rank > b->tensor_rank) - (a->tensor_rank < b->tensor_rank);
}

/* (4) tensors ranked by rel at the recommended setting, worst first (top of the chart), at most 40. */
int qs_plots_ranked(struct qs_stage *st, const struct qs_plots_view *tv, size_t n_t, const struct qs_rec_config **ch)
{
	for (size_t i = 0; i < n_t; i++)
		ch[i] = tv[i].chosen;
	qsort(ch, n_t, sizeof *ch, cmp_worst_first);
	size_t k = n_t < QS_PLOTS_RANKED_MAX ? n_t : QS_PLOTS_RANKED_MAX;
	struct qs_gp_log_range xr = {0, 0};
	for (size_t i = 0; i < k; i++)
		qs_gp_log_range_add(&xr, ch[i]->best->rel);
	double lo = xr.lo > 0.0 ? pow(10.0, floor(log10(xr.lo))) : 1e-3;
	FILE *fs[2];
	int rc = qs_gp_open_pair(st, "model.ranked_error", ".dat", &fs[0], &fs[1]);
	if (rc)
		return qs_gp_close_files(st, fs, 2, rc);
	FILE *dat = fs[0], *gp = fs[1];
	fprintf(dat, "# qscope: tensors ranked by rel at their recommended setting, worst first (%zu of %zu)\n"
		     "# y rel bar_start meets_target \"label\" \"tensor\" bits eff_bits\n", k, n_t);
	for (size_t i = 0; i < k; i++) {
		const struct qs_rec_point *p = ch[i]->best;
		char cl[200], label[LABEL_MAX];
		qs_gp_config_label(p, cl, sizeof cl);
		snprintf(label, sizeof label, "%s  [%s]", p->tensor, cl);
		fprintf(dat, "%zu ", k - i);
		qs_gp_put_num(dat, p->rel);
		fprintf(dat, " %.6g %d ", lo, ch[i]->meets_target ? 1 : 0);
		qs_gp_dat_quote(dat, label);
		fputc(' ', dat);
		qs_gp_dat_quote(dat, p->tensor);
		fprintf(dat, " %d ", p->bits);
		qs_gp_put_num(dat, p->eff_bits);
		fputc('\n', dat);
	}
	qs_gp_header(gp, "model.ranked_error", 1100, (int)(k * 22 + 160 > 600 ? k * 22 + 160 : 600));
	char buf[LABEL_MAX];
	snprintf(buf, sizeof buf, "tensors ranked by error at their recommended setting (worst first, %zu of %zu)", k,
		 n_t);
	fputs("set title ", gp);
	qs_gp_quote(gp, buf);
	fputs("\nset xlabel 'relative error ‖X−X̂‖/‖X‖ at the recommended setting'\nunset ylabel\n"
	      "set key outside top center horizontal\nset grid noytics xtics mxtics\nset ytics scale 0 font ',9'\n", gp);
	if (k == 0 || !qs_gp_log_range_set(&xr, gp, 'x', 1.8)) {
		qs_gp_nothing(gp, k ? "every error is 0" : "no tensors");
	} else {
		fprintf(gp, "set yrange [0.4:%zu.6]\n", k);
		fprintf(gp, "plot 'model.ranked_error.dat' using ($2>$3?$2:$3):1:3:($2>$3?$2:$3):($1-0.38):($1+0.38):"
			    "($4==1?0x%s:0x%s):ytic(5) with boxxyerror fs solid 0.75 noborder lc rgb variable notitle, \\\n"
			    "  '' using ($2>$3?$2:$3):1:(sprintf('%%.3g', $2)) with labels left offset char 0.5,0 font ',9' "
			    "notitle, \\\n"
			    "  keyentry with boxes fs solid 0.75 lc rgb '%s' title 'meets the target', \\\n"
			    "  keyentry with boxes fs solid 0.75 lc rgb '%s' title 'misses the target'\n",
			COLOUR_MET + 1, COLOUR_MISSED + 1, COLOUR_MET, COLOUR_MISSED);
	}
	return qs_gp_close_files(st, fs, 2, QS_OK);
}

/* (5) SQNR per tensor in input order at the recommended setting. */
int qs_plots_sqnr(struct qs_stage *st, const struct qs_plots_view *tv, size_t n_t)
{
	FILE *fs[2];
	int rc = qs_gp_open_pair(st, "model.sqnr_by_layer", ".dat", &fs[0], &fs[1]);
	if (rc)
		return qs_gp_close_files(st, fs, 2, rc);
	FILE *dat = fs[0], *gp = fs[1];
	fputs("# qscope: SQNR (dB) at the recommended setting, tensors in input order (NaN: no error, SQNR infinite)\n"
	      "# index sqnr_db meets_target bits \"tensor\" rel eff_bits\n", dat);
	double lo = 0.0, hi = -INFINITY;
	size_t n_finite = 0;
	for (size_t i = 0; i < n_t; i++) {
		const struct qs_rec_config *c = tv[i].chosen;
		fprintf(dat, "%zu ", i);
		qs_gp_put_num(dat, c->best->sqnr_db);
		fprintf(dat, " %d %d ", c->meets_target ? 1 : 0, c->best->bits);
		qs_gp_dat_quote(dat, c->best->tensor);
		fputc(' ', dat);
		qs_gp_put_num(dat, c->best->rel);
		fputc(' ', dat);
		qs_gp_put_num(dat, c->best->eff_bits);
		fputc('\n', dat);
		if (isfinite(c->best->sqnr_db)) {
			lo = fmin(lo, c->best->sqnr_db);
			hi = fmax(hi, c->best->sqnr_db);
			n_finite++;
		}
	}
	int w = (int)(n_t * 16 + 250 > 1000 ? n_t * 16 + 250 : 1000);
	qs_gp_header(gp, "model.sqnr_by_layer", w, 700);
	fputs("set title ", gp);
	char buf[LABEL_MAX];
	snprintf(buf, sizeof buf, "SQNR per tensor at its recommended setting (input order; bar label: bits)");
	qs_gp_quote(gp, buf);
	fputs("\nset ylabel 'SQNR (dB)'\nunset xlabel\nset key outside top center horizontal\n"
	      "set grid noxtics ytics\nset xtics rotate by 90 right scale 0 font ',8'\nset style fill solid 0.75 noborder\n"
	      "set boxwidth 0.75\n", gp);
	if (n_finite == 0) {
		qs_gp_nothing(gp, n_t ? "no finite SQNR (every error is 0)" : "no tensors");
	} else {
		fprintf(gp, "set xrange [-0.6:%g]\nset yrange [%.6g:%.6g]\n", (double)n_t - 0.4, lo < 0.0 ? lo * 1.1 - 1.0 : 0.0,
			hi * 1.12 + 1.0);
		fprintf(gp, "plot 'model.sqnr_by_layer.dat' using 1:2:($3==1?0x%s:0x%s):xtic(5) with boxes lc rgb variable "
			    "notitle, \\\n"
			    "  '' using 1:2:(sprintf('%%db', int($4))) with labels offset 0,0.6 font ',8' notitle, \\\n"
			    "  keyentry with boxes lc rgb '%s' title 'meets the target', \\\n"
			    "  keyentry with boxes lc rgb '%s' title 'misses the target'\n",
			COLOUR_MET + 1, COLOUR_MISSED + 1, COLOUR_MET, COLOUR_MISSED);
	}
	return qs_gp_close_files(st, fs, 2, QS_OK);
}
