/* The per-tensor charts built from sweep points: error vs scale, error vs bits, Pareto. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/qs_error.h"
#include "plots_gp.h"

static size_t calib_index(const char *const *calibs, size_t n, const char *c)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(calibs[i], c) == 0)
			return i;
	return n;
}

static int cmp_config_family_bits(const void *va, const void *vb)
{
	const struct qs_rec_config *a = *(const struct qs_rec_config *const *)va;
	const struct qs_rec_config *b = *(const struct qs_rec_config *const *)vb;
	int c = qs_rec_cmp_family(a->best, b->best);
	if (c)
		return c;
	return (a->best->bits > b->best->bits) - (a->best->bits < b->best->bits);
}

static int cmp_config_pareto(const void *va, const void *vb)
{
	const struct qs_rec_config *a = *(const struct qs_rec_config *const *)va;
	const struct qs_rec_config *b = *(const struct qs_rec_config *const *)vb;
	if (a->best->eff_bits != b->best->eff_bits)
		return a->best->eff_bits < b->best->eff_bits ? -1 : 1;
	return (a->best->rel > b->best->rel) - (a->best->rel < b->best->rel);
}

/* (1) error vs multiplier, one panel per bit width, for the recommended configuration's family. */
int qs_plots_err_vs_scale(struct qs_stage *st, const struct qs_plots_view *t)
{
	const struct qs_rec_point *rp = t->chosen->best;
	size_t a = 0;
	while (a < t->n_pts && qs_rec_cmp_family(t->pts[a], rp) != 0)
		a++;
	size_t b = a;
	while (b < t->n_pts && qs_rec_cmp_family(t->pts[b], rp) == 0)
		b++;
	const char **calibs = malloc((b - a + 1) * sizeof *calibs);
	if (!calibs)
		return qs_error_set(QS_ENOMEM, "out of memory writing charts");
	size_t n_calibs = 0, n_bits = 0;
	for (size_t i = a; i < b; i++) {
		if (calib_index(calibs, n_calibs, t->pts[i]->calib) == n_calibs)
			calibs[n_calibs++] = t->pts[i]->calib;
		n_bits += i == a || t->pts[i]->bits != t->pts[i - 1]->bits;
	}
	for (size_t i = 1; i < n_calibs; i++) /* colour order: calibrator names sorted */
		for (size_t j = i; j > 0 && strcmp(calibs[j - 1], calibs[j]) > 0; j--) {
			const char *x = calibs[j];
			calibs[j] = calibs[j - 1];
			calibs[j - 1] = x;
		}

	char stem[STEM_MAX + 64], fam[160], buf[LABEL_MAX];
	snprintf(stem, sizeof stem, "%s.err_vs_scale", t->stem);
	FILE *fs[3] = {NULL, NULL, NULL}; /* dat, gp, best */
	int rc = qs_gp_open_pair(st, stem, ".dat", &fs[0], &fs[1]);
	if (rc == QS_OK) {
		snprintf(buf, sizeof buf, "plots/%s.best.dat", stem);
		rc = qs_stage_fopen(st, buf, &fs[2]);
	}
	if (rc) {
		free(calibs);
		return qs_gp_close_files(st, fs, 3, rc);
	}
	FILE *dat = fs[0], *gp = fs[1], *best = fs[2];
	qs_gp_family_label(rp, fam, sizeof fam);

	fprintf(dat, "# qscope: error against the multiplier m, tensor ");
	qs_gp_dat_quote(dat, t->name);
	fprintf(dat, ", %s\n# one block (gnuplot index) per bit width and calibrator, in the order of the comments\n"
		     "# multiplier scale rel_clip rel_round rel\n", fam);
	fprintf(best, "# qscope: per bit width one block: each calibrator's best point (lowest rel), then the optimum\n"
		      "# multiplier scale rel rel_clip rel_round calib\n");

	size_t cols = n_bits > 1 ? 2 : 1, rows = (n_bits + cols - 1) / cols;
	int pw = 1000, ph = cols > 1 ? 560 : 600;
	qs_gp_header(gp, stem, (int)cols * pw, (int)rows * ph + 40);
	snprintf(buf, sizeof buf, "tensor %s (%s): error against the clip-range multiplier, %s (recommended: %d-bit)",
		 t->name, rp->shape, fam, rp->bits);
	fputs("set multiplot layout ", gp);
	fprintf(gp, "%zu,%zu title ", rows, cols);
	qs_gp_quote(gp, buf);
	fputs(" font \",12\"\n", gp);
	fputs("set xlabel 'multiplier m (scale = m·s_minmax)'\nset ylabel 'relative error ‖X−X̂‖/‖X‖'\n"
	      "set key outside right top samplen 2.5 font \",9\"\nset mxtics 2\n", gp);

	size_t block = 0, best_block = 0;
	for (size_t i = a; i < b;) {
		size_t j = i;
		while (j < b && t->pts[j]->bits == t->pts[i]->bits)
			j++;
		int bits = t->pts[i]->bits;
		struct qs_gp_log_range yr = {0, 0};
		double xlo = INFINITY, xhi = -INFINITY, s_ref = NAN;
		const char *s_ref_calib = NULL;
		const struct qs_rec_point *opt = t->pts[i];
		size_t first_block = block;
		/* per calibrator: its best point, whether each column has something to show on a log axis */
		size_t n_cal = 0;
		const struct qs_rec_point *cal_best[64];
		const char *cal_name[64];
		bool has[64][3];
		for (size_t c = i; c < j;) {
			size_t d = c;
			while (d < j && strcmp(t->pts[d]->calib, t->pts[c]->calib) == 0)
				d++;
			fprintf(dat, "# index %zu: bits %d, calib ", block, bits);
			qs_gp_dat_quote(dat, t->pts[c]->calib);
			fputc('\n', dat);
			const struct qs_rec_point *cb = t->pts[c];
			bool h[3] = {false, false, false};
			for (size_t k = c; k < d; k++) {
				const struct qs_rec_point *p = t->pts[k];
				qs_gp_put_num(dat, p->multiplier);
				fputc(' ', dat);
				qs_gp_put_num(dat, p->scale);
				fputc(' ', dat);
				qs_gp_put_num(dat, p->rel_clip);
				fputc(' ', dat);
				qs_gp_put_num(dat, p->rel_round);
				fputc(' ', dat);
				qs_gp_put_num(dat, p->rel);
				fputc('\n', dat);
				if (p->rel < cb->rel)
					cb = p;
				h[0] |= p->rel_clip > 0.0;
				h[1] |= p->rel_round > 0.0;
				h[2] |= p->rel > 0.0;
				qs_gp_log_range_add(&yr, p->rel_clip);
				qs_gp_log_range_add(&yr, p->rel_round);
				qs_gp_log_range_add(&yr, p->rel);
				xlo = fmin(xlo, p->multiplier);
				xhi = fmax(xhi, p->multiplier);
				bool ref = !s_ref_calib || (strcmp(p->calib, "minmax") == 0 && strcmp(s_ref_calib, "minmax")) ||
					   (strcmp(p->calib, s_ref_calib) == 0 && fabs(p->multiplier - 1.0) < fabs(s_ref - 1.0));
				if (ref && p->multiplier > 0.0) {
					s_ref_calib = p->calib;
					s_ref = p->scale / p->multiplier;
				}
			}
			fputs("\n\n", dat);
			if (n_cal < 64) {
				cal_best[n_cal] = cb;
				cal_name[n_cal] = t->pts[c]->calib;
				memcpy(has[n_cal], h, sizeof h);
				n_cal++;
			}
			if (cb->rel < opt->rel)
				opt = cb;
			block++;
			c = d;
		}
		if (opt->rel > 0.0 && yr.lo == 0.0)
			qs_gp_log_range_add(&yr, opt->rel);
		for (size_t c = 0; c < n_cal; c++) {
			const struct qs_rec_point *p = cal_best[c];
			qs_gp_put_num(best, p->multiplier);
			fputc(' ', best);
			qs_gp_put_num(best, p->scale);
			fputc(' ', best);
			qs_gp_put_num(best, p->rel);
			fputc(' ', best);
			qs_gp_put_num(best, p->rel_clip);
			fputc(' ', best);
			qs_gp_put_num(best, p->rel_round);
			fputc(' ', best);
			qs_gp_dat_quote(best, p->calib);
			fputc('\n', best);
		}
		fprintf(best, "%.17g %.17g %.17g %.17g %.17g ", opt->multiplier, opt->scale, opt->rel, opt->rel_clip,
			opt->rel_round);
		qs_gp_dat_quote(best, opt->calib);
		fputs("\n\n\n", best);

		/* the panel */
		snprintf(buf, sizeof buf, "%d-bit: optimum rel %.4g at m = %.4g (%s, scale %.4g, %s-dominated)", bits,
			 opt->rel, opt->multiplier, opt->calib, opt->scale, opt->rel_clip > opt->rel_round ? "clip" : "round");
		fputs("set title ", gp);
		qs_gp_quote(gp, buf);
		fputc('\n', gp);
		if (!qs_gp_log_range_set(&yr, gp, 'y', 1.0)) {
			qs_gp_nothing(gp, "every error is 0 at this bit width");
			fputs("set xtics\nset ytics\n", gp);
			i = j;
			best_block++;
			continue;
		}
		double xr[2];
		qs_gp_lin_range_set(gp, 'x', xlo, xhi, xr);
		if (!rp->pow2 && s_ref_calib && s_ref > 0.0 && isfinite(s_ref)) {
			/* scale = m·s_ref is linear: the top axis is the bottom one stretched (gnuplot 5.4's `set link`
			 * draws a single tic here, so the range is given instead) */
			fprintf(gp, "set x2range [%.17g:%.17g]\nset x2tics\nset xtics nomirror\n", xr[0] * s_ref,
				xr[1] * s_ref);
			snprintf(buf, sizeof buf, "scale s = m·s_%s (s_%s = %.4g%s)", s_ref_calib, s_ref_calib, s_ref,
				 strcmp(rp->granularity, "tensor") ? ", median over groups" : "");
			fputs("set x2label ", gp);
			qs_gp_quote(gp, buf);
			fputc('\n', gp);
		} else {
			fputs("unset x2tics\nunset x2label\nset xtics mirror\n", gp);
		}
		fputs("plot \\\n", gp);
		bool first = true;
		static const char *const part_name[3] = {"clip", "round", "rel (total)"};
		static const int part_col[3] = {3, 4, 5}, part_dt[3] = {2, 3, 1};
		static const double part_lw[3] = {1.2, 1.2, 2.2};
		for (size_t c = 0; c < n_cal; c++) {
			const char *col = qs_gp_colours[calib_index(calibs, n_calibs, cal_name[c]) % QS_GP_N_COLOURS];
			for (int k = 2; k >= 0; k--) {
				if (!has[c][k])
					continue;
				fprintf(gp, "%s  '%s.dat' index %zu using 1:($%d>0?$%d:1/0) with lines lw %.1f dt %d lc rgb '%s' title ",
					first ? "" : ", \\\n", stem, first_block + c, part_col[k], part_col[k], part_lw[k],
					part_dt[k], col);
				snprintf(buf, sizeof buf, "%s %s", cal_name[c], part_name[k]);
				qs_gp_quote(gp, buf);
				first = false;
			}
			if (cal_best[c]->rel > 0.0) {
				fprintf(gp, "%s  '%s.best.dat' index %zu every ::%zu::%zu using 1:3 with points pt 7 ps 1.6 lc rgb '%s' title ",
					first ? "" : ", \\\n", stem, best_block, c, c, col);
				snprintf(buf, sizeof buf, "%s best (m %.3g)", cal_name[c], cal_best[c]->multiplier);
				qs_gp_quote(gp, buf);
				first = false;
			}
		}
		if (opt->rel > 0.0) {
			fprintf(gp, "%s  '%s.best.dat' index %zu every ::%zu::%zu using 1:3 with points pt 3 ps 3 lw 2 lc rgb 'black' title ",
				first ? "" : ", \\\n", stem, best_block, n_cal, n_cal);
			snprintf(buf, sizeof buf, "optimum (%s)", opt->calib);
			qs_gp_quote(gp, buf);
		}
		fputs("\n", gp);
		best_block++;
		i = j;
	}
	fputs("unset multiplot\n", gp);
	free(calibs);
	return qs_gp_close_files(st, fs, 3, QS_OK);
}

/* The start shared by the per-configuration charts (2) and (3): the tensor's configurations sorted by family, then
 * bits, into cfgs; STEM.dat and STEM.gp opened (fs[0], fs[1]; on error both closed); the .dat's first comment line
 * and the chart's title written. */
static int open_config_chart(struct qs_stage *st, const struct qs_plots_view *t, const struct qs_rec_config **cfgs,
			     const char *suffix, const char *what, char *stem, size_t stem_len, FILE **fs)
{
	for (size_t i = 0; i < t->n_cfgs; i++)
		cfgs[i] = &t->cfgs[i];
	qsort(cfgs, t->n_cfgs, sizeof *cfgs, cmp_config_family_bits);
	char buf[LABEL_MAX];
	snprintf(buf, sizeof buf, "%s, tensor ", what);
	int rc = qs_gp_open_tensor_chart(st, t, suffix, buf, stem, stem_len, fs);
	if (rc)
		return rc;
	qs_gp_header(fs[1], stem, 1000, 600);
	snprintf(buf, sizeof buf, "tensor %s (%s): %s", t->name, t->chosen->best->shape, what);
	fputs("set title ", fs[1]);
	qs_gp_quote(fs[1], buf);
	return QS_OK;
}

/* When cfgs[i] (sorted by family) starts a family: ends the previous .dat block, labels the family in
 * labels[*n_fam], writes the block's "# index" line and counts it; returns whether it did. */
static bool family_block(FILE *dat, const struct qs_rec_config **cfgs, size_t i, char (*labels)[160], size_t *n_fam)
{
	const struct qs_rec_point *p = cfgs[i]->best;
	if (i > 0 && !qs_rec_cmp_family(p, cfgs[i - 1]->best))
		return false;
	if (i > 0)
		fputs("\n\n", dat);
	qs_gp_family_label(p, labels[*n_fam], sizeof labels[*n_fam]);
	fprintf(dat, "# index %zu: %s\n", *n_fam, labels[*n_fam]);
	(*n_fam)++;
	return true;
}

/* (2) the best rel against bits, one line per family (granularity, scheme, ...). */
int qs_plots_err_vs_bits(struct qs_stage *st, const struct qs_plots_view *t, const struct qs_rec_config **cfgs)
{
	char stem[STEM_MAX + 64], buf[LABEL_MAX];
	FILE *fs[2];
	int rc = open_config_chart(st, t, cfgs, "err_vs_bits",
				   "best error against bit width (best over calibrators and multipliers)", stem, sizeof stem, fs);
	if (rc)
		return rc;
	FILE *dat = fs[0], *gp = fs[1];
	fputs("\n# one block per granularity/scheme, the recommended point last\n"
	      "# bits rel eff_bits rel_clip rel_round multiplier calib\n", dat);
	fputs("\nset xlabel 'bits per value b'\nset ylabel 'relative error ‖X−X̂‖/‖X‖'\nset xtics 1\n", gp);

	struct qs_gp_log_range yr = {0, 0};
	int bmin = 64, bmax = 0;
	size_t n_fam = 0;
	char (*labels)[160] = malloc((t->n_cfgs + 1) * sizeof *labels);
	bool *has = malloc((t->n_cfgs + 1) * sizeof *has);
	if (!labels || !has) {
		free(labels);
		free(has);
		return qs_gp_close_files(st, fs, 2, qs_error_set(QS_ENOMEM, "out of memory writing charts"));
	}
	for (size_t i = 0; i < t->n_cfgs; i++) {
		const struct qs_rec_point *p = cfgs[i]->best;
		if (family_block(dat, cfgs, i, labels, &n_fam))
			has[n_fam - 1] = false;
		has[n_fam - 1] |= p->rel > 0.0;
		fprintf(dat, "%d ", p->bits);
		qs_gp_put_num(dat, p->rel);
		fputc(' ', dat);
		qs_gp_put_num(dat, p->eff_bits);
		fputc(' ', dat);
		qs_gp_put_num(dat, p->rel_clip);
		fputc(' ', dat);
		qs_gp_put_num(dat, p->rel_round);
		fputc(' ', dat);
		qs_gp_put_num(dat, p->multiplier);
		fputc(' ', dat);
		qs_gp_dat_quote(dat, p->calib);
		fputc('\n', dat);
		qs_gp_log_range_add(&yr, p->rel);
		bmin = p->bits < bmin ? p->bits : bmin;
		bmax = p->bits > bmax ? p->bits : bmax;
	}
	const struct qs_rec_point *rp = t->chosen->best;
	fprintf(dat, "\n\n# index %zu: recommended\n%d ", n_fam, rp->bits);
	qs_gp_put_num(dat, rp->rel);
	fputc(' ', dat);
	qs_gp_put_num(dat, rp->eff_bits);
	fputc(' ', dat);
	qs_gp_put_num(dat, rp->rel_clip);
	fputc(' ', dat);
	qs_gp_put_num(dat, rp->rel_round);
	fputc(' ', dat);
	qs_gp_put_num(dat, rp->multiplier);
	fputc(' ', dat);
	qs_gp_dat_quote(dat, rp->calib);
	fputc('\n', dat);

	if (!qs_gp_log_range_set(&yr, gp, 'y', 1.0)) {
		qs_gp_nothing(gp, "every error is 0");
	} else {
		fprintf(gp, "set xrange [%g:%g]\nplot \\\n", bmin - 0.5, bmax + 0.5);
		bool first = true;
		for (size_t f = 0; f < n_fam; f++) {
			if (!has[f])
				continue;
			fprintf(gp, "%s  '%s.dat' index %zu using 1:($2>0?$2:1/0) with linespoints lw 2 pt 7 ps 1.2 lc rgb '%s' title ",
				first ? "" : ", \\\n", stem, f, qs_gp_colours[f % QS_GP_N_COLOURS]);
			qs_gp_quote(gp, labels[f]);
			first = false;
		}
		if (rp->rel > 0.0) {
			char cl[200];
			qs_gp_config_label(rp, cl, sizeof cl);
			snprintf(buf, sizeof buf, "recommended: %s", cl);
			fprintf(gp, ", \\\n  '%s.dat' index %zu using 1:2 with points pt 6 ps 3 lw 2 lc rgb 'black' title ", stem,
				n_fam);
			qs_gp_quote(gp, buf);
		}
		fputc('\n', gp);
	}
	free(labels);
	free(has);
	return qs_gp_close_files(st, fs, 2, QS_OK);
}

/* (3) Pareto: every configuration's best point, rel against effective bits, and the frontier. */
int qs_plots_pareto(struct qs_stage *st, const struct qs_plots_view *t, const struct qs_rec_config **cfgs)
{
	char stem[STEM_MAX + 64], buf[LABEL_MAX];
	FILE *fs[2];
	int rc = open_config_chart(st, t, cfgs, "pareto", "error against storage cost, every configuration at its best",
				   stem, sizeof stem, fs);
	if (rc)
		return rc;
	FILE *dat = fs[0], *gp = fs[1];
	fputs("\n# one block per granularity/scheme, then the Pareto frontier (ascending eff_bits), then the recommended "
	      "point\n# eff_bits rel bits\n", dat);
	fputs("\nset xlabel 'effective bits per value (incl. scale/zero-point overhead)'\n"
	      "set ylabel 'relative error ‖X−X̂‖/‖X‖'\n", gp);

	struct qs_gp_log_range yr = {0, 0};
	double xlo = INFINITY, xhi = -INFINITY;
	size_t n_fam = 0;
	char (*labels)[160] = malloc((t->n_cfgs + 1) * sizeof *labels);
	if (!labels)
		return qs_gp_close_files(st, fs, 2, qs_error_set(QS_ENOMEM, "out of memory writing charts"));
	for (size_t i = 0; i < t->n_cfgs; i++) {
		const struct qs_rec_point *p = cfgs[i]->best;
		family_block(dat, cfgs, i, labels, &n_fam);
		qs_gp_put_num(dat, p->eff_bits);
		fputc(' ', dat);
		qs_gp_put_num(dat, p->rel);
		fprintf(dat, " %d\n", p->bits);
		qs_gp_log_range_add(&yr, p->rel);
		xlo = fmin(xlo, p->eff_bits);
		xhi = fmax(xhi, p->eff_bits);
	}
	/* frontier: by eff_bits (then rel), keep a point when its rel is below every cheaper point's */
	qsort(cfgs, t->n_cfgs, sizeof *cfgs, cmp_config_pareto);
	fprintf(dat, "\n\n# index %zu: Pareto frontier\n", n_fam);
	double best_rel = INFINITY;
	for (size_t i = 0; i < t->n_cfgs; i++) {
		const struct qs_rec_point *p = cfgs[i]->best;
		if (!(p->rel < best_rel))
			continue;
		best_rel = p->rel;
		qs_gp_put_num(dat, p->eff_bits);
		fputc(' ', dat);
		qs_gp_put_num(dat, p->rel);
		fprintf(dat, " %d\n", p->bits);
	}
	const struct qs_rec_point *rp = t->chosen->best;
	fprintf(dat, "\n\n# index %zu: recommended\n", n_fam + 1);
	qs_gp_put_num(dat, rp->eff_bits);
	fputc(' ', dat);
	qs_gp_put_num(dat, rp->rel);
	fprintf(dat, " %d\n", rp->bits);

	if (!qs_gp_log_range_set(&yr, gp, 'y', 1.0)) {
		qs_gp_nothing(gp, "every error is 0");
	} else {
		qs_gp_lin_range_set(gp, 'x', xlo, xhi, NULL);
		fprintf(gp, "plot \\\n  '%s.dat' index %zu using 1:($2>0?$2:1/0) with lines lw 2 dt 2 lc rgb '#555555' "
			    "title 'Pareto frontier'", stem, n_fam);
		for (size_t f = 0; f < n_fam; f++) {
			fprintf(gp, ", \\\n  '%s.dat' index %zu using 1:($2>0?$2:1/0) with points pt 7 ps 1.4 lc rgb '%s' title ",
				stem, f, qs_gp_colours[f % QS_GP_N_COLOURS]);
			qs_gp_quote(gp, labels[f]);
			fprintf(gp, ", \\\n  '%s.dat' index %zu using 1:($2>0?$2:1/0):(sprintf('%%db', int($3))) with labels "
				    "offset char 0.9,0.6 font ',8' tc rgb '%s' notitle",
				stem, f, qs_gp_colours[f % QS_GP_N_COLOURS]);
		}
		if (rp->rel > 0.0) {
			char cl[200];
			qs_gp_config_label(rp, cl, sizeof cl);
			snprintf(buf, sizeof buf, "recommended: %s", cl);
			fprintf(gp, ", \\\n  '%s.dat' index %zu using 1:2 with points pt 6 ps 3 lw 2 lc rgb 'black' title ", stem,
				n_fam + 1);
			qs_gp_quote(gp, buf);
		}
		fputc('\n', gp);
	}
	free(labels);
	return qs_gp_close_files(st, fs, 2, QS_OK);
}
