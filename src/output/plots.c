/* Charts of a sweep: gnuplot .dat/.gp files per tensor and per model, staged under plots/, and rendered by gnuplot. */
#include "plots.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../util/qs_error.h"

#define STEM_MAX 200
#define LABEL_MAX 512

static const char *const colours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
				      "#9467bd", "#8c564b", "#e377c2", "#17becf"};
#define N_COLOURS (sizeof colours / sizeof colours[0])
#define COLOUR_MET "#2ca02c"
#define COLOUR_MISSED "#d62728"

/* ---- strings -------------------------------------------------------------------------------------------------- */

/* Characters safe in a file name (as src/output/qparams.c); anything else becomes '_'. */
static void sanitize(char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      strchr("._-", *s)))
			*s = '_';
}

/* s as a single-quoted gnuplot string: '' for a quote, control characters as spaces. */
static void gp_quote(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("''", f);
		else
			fputc((unsigned char)*s < 0x20 ? ' ' : *s, f);
	}
	fputc('\'', f);
}

/* s as a double-quoted field of a gnuplot data file, which has no escapes: '"' becomes '\'', controls spaces. */
static void dat_quote(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++)
		fputc(*s == '"' ? '\'' : (unsigned char)*s < 0x20 ? ' ' : *s, f);
	fputc('"', f);
}

/* "channel sym", plus whatever differs from the defaults. */
static void family_label(const struct qs_rec_point *p, char *buf, size_t len)
{
	snprintf(buf, len, "%s %s%s%s%s%s%s%s%s", p->granularity, p->scheme, strcmp(p->range, "full") ? " " : "",
		 strcmp(p->range, "full") ? p->range : "", p->is_signed ? "" : " unsigned", p->pow2 ? " pow2" : "",
		 strcmp(p->profile, "default") ? " profile=" : "", strcmp(p->profile, "default") ? p->profile : "",
		 strcmp(p->rounding, "even") ? (strcmp(p->rounding, "away") ? " stochastic" : " round-away") : "");
}

static void config_label(const struct qs_rec_point *p, char *buf, size_t len)
{
	char fam[160];
	family_label(p, fam, sizeof fam);
	snprintf(buf, len, "%d-bit %s", p->bits, fam);
}

/* Numbers read back exactly; non-finite ones as NaN (gnuplot skips them). */
static void put_num(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.17g", v);
	else
		fputs("NaN", f);
}

/* ---- ordering ------------------------------------------------------------------------------------------------- */


static int cmp_point(const void *va, const void *vb)
{
	const struct qs_rec_point *a = *(const struct qs_rec_point *const *)va;
	const struct qs_rec_point *b = *(const struct qs_rec_point *const *)vb;
	int c;
	if ((c = strcmp(a->tensor, b->tensor)) || (c = qs_rec_cmp_family(a, b)))
		return c;
	if (a->bits != b->bits)
		return a->bits < b->bits ? -1 : 1;
	if ((c = strcmp(a->calib, b->calib)))
		return c;
	return (a->multiplier > b->multiplier) - (a->multiplier < b->multiplier);
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

/* ---- ranges --------------------------------------------------------------------------------------------------- */

/* A log axis over the positive values seen, widened to whole decades. */
struct log_range {
	double lo, hi;
};

static void log_range_add(struct log_range *r, double v)
{
	if (!(v > 0.0) || !isfinite(v))
		return;
	if (!(r->lo > 0.0) || v < r->lo)
		r->lo = v;
	if (v > r->hi)
		r->hi = v;
}

/* Sets a log axis from whole decades around the values (times `headroom` at the top); spans of at most two
 * decades get tics at 2 and 5 too. False when there is no positive value. */
static bool log_range_set(const struct log_range *r, FILE *f, char axis, double headroom)
{
	if (!(r->lo > 0.0))
		return false;
	int d0 = (int)floor(log10(r->lo)), d1 = (int)ceil(log10(r->hi));
	if (d1 <= d0)
		d1 = d0 + 1;
	fprintf(f, "set %crange [%.6g:%.6g]\nset logscale %c\nset %ctics autofreq\nset format %c '%%g'\n", axis,
		pow(10.0, d0), pow(10.0, d1) * headroom, axis, axis, axis);
	if (d1 - d0 <= 2) {
		fprintf(f, "set %ctics add (", axis);
		for (int d = d0; d < d1; d++)
			fprintf(f, "%s%.6g, %.6g", d > d0 ? ", " : "", 2.0 * pow(10.0, d), 5.0 * pow(10.0, d));
		fputs(")\n", f);
	}
	return true;
}

/* A linear axis over [lo, hi] with a margin; *used (if given) receives the range set. */
static void lin_range_set(FILE *f, char axis, double lo, double hi, double used[2])
{
	double pad = hi > lo ? 0.03 * (hi - lo) : fmax(0.1 * fabs(lo), 0.5);
	fprintf(f, "set %crange [%.17g:%.17g]\n", axis, lo - pad, hi + pad);
	if (used) {
		used[0] = lo - pad;
		used[1] = hi + pad;
	}
}

/* ---- script scaffolding --------------------------------------------------------------------------------------- */

/* Terminal chosen by the gnuplot variable fmt; output STEM.fmt beside the script. */
static void gp_header(FILE *f, const char *stem, int w, int h)
{
	fprintf(f,
		"# qscope chart; render inside this folder: gnuplot -e \"fmt='svg'\" %s.gp   (fmt: png, svg, pdf)\n"
		"if (!exists(\"fmt\")) fmt = \"png\"\n"
		"if (fmt eq \"png\") {\n"
		"    set terminal pngcairo size %d,%d noenhanced font \"Sans,10\"\n"
		"} else { if (fmt eq \"svg\") {\n"
		"    set terminal svg size %d,%d dynamic noenhanced font \"Sans,10\" background rgb \"white\"\n"
		"} else { if (fmt eq \"pdf\") {\n"
		"    set terminal pdfcairo size %.2fin,%.2fin noenhanced font \"Sans,10\"\n"
		"} else {\n"
		"    print \"fmt must be png, svg or pdf\"\n"
		"    exit status 2\n"
		"} } }\n"
		"set encoding utf8\n"
		"set output '%s.'.fmt\n"
		"set grid lc rgb \"#dddddd\"\n"
		"set key outside right top spacing 1.1\n",
		stem, w, h, w, h, w / 100.0, h / 100.0, stem);
}

/* A chart with nothing to draw on a log axis (every error 0): a framed note instead of a warning. */
static void gp_nothing(FILE *f, const char *what)
{
	fputs("set xrange [0:1]\nset yrange [0:1]\nunset logscale\nunset xtics\nunset ytics\nunset x2tics\n", f);
	fputs("set label 99 ", f);
	gp_quote(f, what);
	fputs(" at graph 0.5,0.5 center\nplot 2 notitle\nunset label 99\nset xtics\nset ytics\n", f);
}

/* ---- per-tensor data ------------------------------------------------------------------------------------------- */

struct tensor_view {
	const char *name;
	char stem[STEM_MAX + 24];
	const struct qs_rec_point *const *pts; /* sorted by family, bits, calibrator, multiplier */
	size_t n_pts;
	const struct qs_rec_config *cfgs;      /* the tensor's configurations in rec */
	size_t n_cfgs;
	const struct qs_rec_config *chosen;    /* the recommended one */
};

static int open_pair(struct qs_stage *st, const char *stem, const char *dat_suffix, FILE **dat, FILE **gp)
{
	char path[STEM_MAX + 64];
	*dat = *gp = NULL;
	snprintf(path, sizeof path, "plots/%s%s", stem, dat_suffix);
	int rc = qs_stage_fopen(st, path, dat);
	if (rc)
		return rc;
	snprintf(path, sizeof path, "plots/%s.gp", stem);
	return qs_stage_fopen(st, path, gp);
}

static int close_files(struct qs_stage *st, FILE **files, size_t n, int rc)
{
	for (size_t i = 0; i < n; i++) {
		if (!files[i])
			continue;
		int r = qs_stage_fclose(st, files[i]);
		if (rc == QS_OK)
			rc = r;
		files[i] = NULL;
	}
	return rc;
}

static size_t calib_index(const char *const *calibs, size_t n, const char *c)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(calibs[i], c) == 0)
			return i;
	return n;
}

/* (1) error vs multiplier, one panel per bit width, for the recommended configuration's family. */
static int write_err_vs_scale(struct qs_stage *st, const struct tensor_view *t)
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
	int rc = open_pair(st, stem, ".dat", &fs[0], &fs[1]);
	if (rc == QS_OK) {
		snprintf(buf, sizeof buf, "plots/%s.best.dat", stem);
		rc = qs_stage_fopen(st, buf, &fs[2]);
	}
	if (rc) {
		free(calibs);
		return close_files(st, fs, 3, rc);
	}
	FILE *dat = fs[0], *gp = fs[1], *best = fs[2];
	family_label(rp, fam, sizeof fam);

	fprintf(dat, "# qscope: error against the multiplier m, tensor ");
	dat_quote(dat, t->name);
	fprintf(dat, ", %s\n# one block (gnuplot index) per bit width and calibrator, in the order of the comments\n"
		     "# multiplier scale rel_clip rel_round rel\n", fam);
	fprintf(best, "# qscope: per bit width one block: each calibrator's best point (lowest rel), then the optimum\n"
		      "# multiplier scale rel rel_clip rel_round calib\n");

	size_t cols = n_bits > 1 ? 2 : 1, rows = (n_bits + cols - 1) / cols;
	int pw = 1000, ph = cols > 1 ? 560 : 600;
	gp_header(gp, stem, (int)cols * pw, (int)rows * ph + 40);
	snprintf(buf, sizeof buf, "tensor %s (%s): error against the clip-range multiplier, %s (recommended: %d-bit)",
		 t->name, rp->shape, fam, rp->bits);
	fputs("set multiplot layout ", gp);
	fprintf(gp, "%zu,%zu title ", rows, cols);
	gp_quote(gp, buf);
	fputs(" font \",12\"\n", gp);
	fputs("set xlabel 'multiplier m (scale = m·s_minmax)'\nset ylabel 'relative error ‖X−X̂‖/‖X‖'\n"
	      "set key outside right top samplen 2.5 font \",9\"\nset mxtics 2\n", gp);

	size_t block = 0, best_block = 0;
	for (size_t i = a; i < b;) {
		size_t j = i;
		while (j < b && t->pts[j]->bits == t->pts[i]->bits)
			j++;
		int bits = t->pts[i]->bits;
		struct log_range yr = {0, 0};
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
			dat_quote(dat, t->pts[c]->calib);
			fputc('\n', dat);
			const struct qs_rec_point *cb = t->pts[c];
			bool h[3] = {false, false, false};
			for (size_t k = c; k < d; k++) {
				const struct qs_rec_point *p = t->pts[k];
				put_num(dat, p->multiplier);
				fputc(' ', dat);
				put_num(dat, p->scale);
				fputc(' ', dat);
				put_num(dat, p->rel_clip);
				fputc(' ', dat);
				put_num(dat, p->rel_round);
				fputc(' ', dat);
				put_num(dat, p->rel);
				fputc('\n', dat);
				if (p->rel < cb->rel)
					cb = p;
				h[0] |= p->rel_clip > 0.0;
				h[1] |= p->rel_round > 0.0;
				h[2] |= p->rel > 0.0;
				log_range_add(&yr, p->rel_clip);
				log_range_add(&yr, p->rel_round);
				log_range_add(&yr, p->rel);
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
			log_range_add(&yr, opt->rel);
		for (size_t c = 0; c < n_cal; c++) {
			const struct qs_rec_point *p = cal_best[c];
			put_num(best, p->multiplier);
			fputc(' ', best);
			put_num(best, p->scale);
			fputc(' ', best);
			put_num(best, p->rel);
			fputc(' ', best);
			put_num(best, p->rel_clip);
			fputc(' ', best);
			put_num(best, p->rel_round);
			fputc(' ', best);
			dat_quote(best, p->calib);
			fputc('\n', best);
		}
		fprintf(best, "%.17g %.17g %.17g %.17g %.17g ", opt->multiplier, opt->scale, opt->rel, opt->rel_clip,
			opt->rel_round);
		dat_quote(best, opt->calib);
		fputs("\n\n\n", best);

		/* the panel */
		snprintf(buf, sizeof buf, "%d-bit: optimum rel %.4g at m = %.4g (%s, scale %.4g, %s-dominated)", bits,
			 opt->rel, opt->multiplier, opt->calib, opt->scale, opt->rel_clip > opt->rel_round ? "clip" : "round");
		fputs("set title ", gp);
		gp_quote(gp, buf);
		fputc('\n', gp);
		if (!log_range_set(&yr, gp, 'y', 1.0)) {
			gp_nothing(gp, "every error is 0 at this bit width");
			fputs("set xtics\nset ytics\n", gp);
			i = j;
			best_block++;
			continue;
		}
		double xr[2];
		lin_range_set(gp, 'x', xlo, xhi, xr);
		if (!rp->pow2 && s_ref_calib && s_ref > 0.0 && isfinite(s_ref)) {
			/* scale = m·s_ref is linear: the top axis is the bottom one stretched (gnuplot 5.4's `set link`
			 * draws a single tic here, so the range is given instead) */
			fprintf(gp, "set x2range [%.17g:%.17g]\nset x2tics\nset xtics nomirror\n", xr[0] * s_ref,
				xr[1] * s_ref);
			snprintf(buf, sizeof buf, "scale s = m·s_%s (s_%s = %.4g%s)", s_ref_calib, s_ref_calib, s_ref,
				 strcmp(rp->granularity, "tensor") ? ", median over groups" : "");
			fputs("set x2label ", gp);
			gp_quote(gp, buf);
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
			const char *col = colours[calib_index(calibs, n_calibs, cal_name[c]) % N_COLOURS];
			for (int k = 2; k >= 0; k--) {
				if (!has[c][k])
					continue;
				fprintf(gp, "%s  '%s.dat' index %zu using 1:($%d>0?$%d:1/0) with lines lw %.1f dt %d lc rgb '%s' title ",
					first ? "" : ", \\\n", stem, first_block + c, part_col[k], part_col[k], part_lw[k],
					part_dt[k], col);
				snprintf(buf, sizeof buf, "%s %s", cal_name[c], part_name[k]);
				gp_quote(gp, buf);
				first = false;
			}
			if (cal_best[c]->rel > 0.0) {
				fprintf(gp, "%s  '%s.best.dat' index %zu every ::%zu::%zu using 1:3 with points pt 7 ps 1.6 lc rgb '%s' title ",
					first ? "" : ", \\\n", stem, best_block, c, c, col);
				snprintf(buf, sizeof buf, "%s best (m %.3g)", cal_name[c], cal_best[c]->multiplier);
				gp_quote(gp, buf);
				first = false;
			}
		}
		if (opt->rel > 0.0) {
			fprintf(gp, "%s  '%s.best.dat' index %zu every ::%zu::%zu using 1:3 with points pt 3 ps 3 lw 2 lc rgb 'black' title ",
				first ? "" : ", \\\n", stem, best_block, n_cal, n_cal);
			snprintf(buf, sizeof buf, "optimum (%s)", opt->calib);
			gp_quote(gp, buf);
		}
		fputs("\n", gp);
		best_block++;
		i = j;
	}
	fputs("unset multiplot\n", gp);
	free(calibs);
	return close_files(st, fs, 3, QS_OK);
}

/* The start shared by the per-configuration charts (2) and (3): the tensor's configurations sorted by family, then
 * bits, into cfgs; STEM.dat and STEM.gp opened (fs[0], fs[1]; on error both closed); the .dat's first comment line
 * and the chart's title written. */
static int open_config_chart(struct qs_stage *st, const struct tensor_view *t, const struct qs_rec_config **cfgs,
			     const char *suffix, const char *what, char *stem, size_t stem_len, FILE **fs)
{
	for (size_t i = 0; i < t->n_cfgs; i++)
		cfgs[i] = &t->cfgs[i];
	qsort(cfgs, t->n_cfgs, sizeof *cfgs, cmp_config_family_bits);
	snprintf(stem, stem_len, "%s.%s", t->stem, suffix);
	int rc = open_pair(st, stem, ".dat", &fs[0], &fs[1]);
	if (rc)
		return close_files(st, fs, 2, rc);
	char buf[LABEL_MAX];
	fprintf(fs[0], "# qscope: %s, tensor ", what);
	dat_quote(fs[0], t->name);
	gp_header(fs[1], stem, 1000, 600);
	snprintf(buf, sizeof buf, "tensor %s (%s): %s", t->name, t->chosen->best->shape, what);
	fputs("set title ", fs[1]);
	gp_quote(fs[1], buf);
	return QS_OK;
}

/* (2) the best rel against bits, one line per family (granularity, scheme, ...). */
static int write_err_vs_bits(struct qs_stage *st, const struct tensor_view *t, const struct qs_rec_config **cfgs)
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

	struct log_range yr = {0, 0};
	int bmin = 64, bmax = 0;
	size_t n_fam = 0;
	char (*labels)[160] = malloc((t->n_cfgs + 1) * sizeof *labels);
	bool *has = malloc((t->n_cfgs + 1) * sizeof *has);
	if (!labels || !has) {
		free(labels);
		free(has);
		return close_files(st, fs, 2, qs_error_set(QS_ENOMEM, "out of memory writing charts"));
	}
	for (size_t i = 0; i < t->n_cfgs; i++) {
		const struct qs_rec_point *p = cfgs[i]->best;
		if (i == 0 || qs_rec_cmp_family(p, cfgs[i - 1]->best)) {
			if (i > 0)
				fputs("\n\n", dat);
			family_label(p, labels[n_fam], sizeof labels[n_fam]);
			fprintf(dat, "# index %zu: %s\n", n_fam, labels[n_fam]);
			has[n_fam++] = false;
		}
		has[n_fam - 1] |= p->rel > 0.0;
		fprintf(dat, "%d ", p->bits);
		put_num(dat, p->rel);
		fputc(' ', dat);
		put_num(dat, p->eff_bits);
		fputc(' ', dat);
		put_num(dat, p->rel_clip);
		fputc(' ', dat);
		put_num(dat, p->rel_round);
		fputc(' ', dat);
		put_num(dat, p->multiplier);
		fputc(' ', dat);
		dat_quote(dat, p->calib);
		fputc('\n', dat);
		log_range_add(&yr, p->rel);
		bmin = p->bits < bmin ? p->bits : bmin;
		bmax = p->bits > bmax ? p->bits : bmax;
	}
	const struct qs_rec_point *rp = t->chosen->best;
	fprintf(dat, "\n\n# index %zu: recommended\n%d ", n_fam, rp->bits);
	put_num(dat, rp->rel);
	fputc(' ', dat);
	put_num(dat, rp->eff_bits);
	fputc(' ', dat);
	put_num(dat, rp->rel_clip);
	fputc(' ', dat);
	put_num(dat, rp->rel_round);
	fputc(' ', dat);
	put_num(dat, rp->multiplier);
	fputc(' ', dat);
	dat_quote(dat, rp->calib);
	fputc('\n', dat);

	if (!log_range_set(&yr, gp, 'y', 1.0)) {
		gp_nothing(gp, "every error is 0");
	} else {
		fprintf(gp, "set xrange [%g:%g]\nplot \\\n", bmin - 0.5, bmax + 0.5);
		bool first = true;
		for (size_t f = 0; f < n_fam; f++) {
			if (!has[f])
				continue;
			fprintf(gp, "%s  '%s.dat' index %zu using 1:($2>0?$2:1/0) with linespoints lw 2 pt 7 ps 1.2 lc rgb '%s' title ",
				first ? "" : ", \\\n", stem, f, colours[f % N_COLOURS]);
			gp_quote(gp, labels[f]);
			first = false;
		}
		if (rp->rel > 0.0) {
			char cl[200];
			config_label(rp, cl, sizeof cl);
			snprintf(buf, sizeof buf, "recommended: %s", cl);
			fprintf(gp, ", \\\n  '%s.dat' index %zu using 1:2 with points pt 6 ps 3 lw 2 lc rgb 'black' title ", stem,
				n_fam);
			gp_quote(gp, buf);
		}
		fputc('\n', gp);
	}
	free(labels);
	free(has);
	return close_files(st, fs, 2, QS_OK);
}

/* (3) Pareto: every configuration's best point, rel against effective bits, and the frontier. */
static int write_pareto(struct qs_stage *st, const struct tensor_view *t, const struct qs_rec_config **cfgs)
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

	struct log_range yr = {0, 0};
	double xlo = INFINITY, xhi = -INFINITY;
	size_t n_fam = 0;
	char (*labels)[160] = malloc((t->n_cfgs + 1) * sizeof *labels);
	if (!labels)
		return close_files(st, fs, 2, qs_error_set(QS_ENOMEM, "out of memory writing charts"));
	for (size_t i = 0; i < t->n_cfgs; i++) {
		const struct qs_rec_point *p = cfgs[i]->best;
		if (i == 0 || qs_rec_cmp_family(p, cfgs[i - 1]->best)) {
			if (i > 0)
				fputs("\n\n", dat);
			family_label(p, labels[n_fam], sizeof labels[n_fam]);
			fprintf(dat, "# index %zu: %s\n", n_fam, labels[n_fam]);
			n_fam++;
		}
		put_num(dat, p->eff_bits);
		fputc(' ', dat);
		put_num(dat, p->rel);
		fprintf(dat, " %d\n", p->bits);
		log_range_add(&yr, p->rel);
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
		put_num(dat, p->eff_bits);
		fputc(' ', dat);
		put_num(dat, p->rel);
		fprintf(dat, " %d\n", p->bits);
	}
	const struct qs_rec_point *rp = t->chosen->best;
	fprintf(dat, "\n\n# index %zu: recommended\n", n_fam + 1);
	put_num(dat, rp->eff_bits);
	fputc(' ', dat);
	put_num(dat, rp->rel);
	fprintf(dat, " %d\n", rp->bits);

	if (!log_range_set(&yr, gp, 'y', 1.0)) {
		gp_nothing(gp, "every error is 0");
	} else {
		lin_range_set(gp, 'x', xlo, xhi, NULL);
		fprintf(gp, "plot \\\n  '%s.dat' index %zu using 1:($2>0?$2:1/0) with lines lw 2 dt 2 lc rgb '#555555' "
			    "title 'Pareto frontier'", stem, n_fam);
		for (size_t f = 0; f < n_fam; f++) {
			fprintf(gp, ", \\\n  '%s.dat' index %zu using 1:($2>0?$2:1/0) with points pt 7 ps 1.4 lc rgb '%s' title ",
				stem, f, colours[f % N_COLOURS]);
			gp_quote(gp, labels[f]);
			fprintf(gp, ", \\\n  '%s.dat' index %zu using 1:($2>0?$2:1/0):(sprintf('%%db', int($3))) with labels "
				    "offset char 0.9,0.6 font ',8' tc rgb '%s' notitle",
				stem, f, colours[f % N_COLOURS]);
		}
		if (rp->rel > 0.0) {
			char cl[200];
			config_label(rp, cl, sizeof cl);
			snprintf(buf, sizeof buf, "recommended: %s", cl);
			fprintf(gp, ", \\\n  '%s.dat' index %zu using 1:2 with points pt 6 ps 3 lw 2 lc rgb 'black' title ", stem,
				n_fam + 1);
			gp_quote(gp, buf);
		}
		fputc('\n', gp);
	}
	free(labels);
	return close_files(st, fs, 2, QS_OK);
}

/* ---- per-model charts ----------------------------------------------------------------------------------------- */

static int cmp_worst_first(const void *va, const void *vb)
{
	const struct qs_rec_config *a = *(const struct qs_rec_config *const *)va;
	const struct qs_rec_config *b = *(const struct qs_rec_config *const *)vb;
	if (a->best->rel != b->best->rel)
		return a->best->rel > b->best->rel ? -1 : 1;
	return (a->tensor_rank > b->tensor_rank) - (a->tensor_rank < b->tensor_rank);
}

/* (4) tensors ranked by rel at the recommended setting, worst first (top of the chart), at most 40. */
static int write_ranked(struct qs_stage *st, const struct tensor_view *tv, size_t n_t, const struct qs_rec_config **ch)
{
	for (size_t i = 0; i < n_t; i++)
		ch[i] = tv[i].chosen;
	qsort(ch, n_t, sizeof *ch, cmp_worst_first);
	size_t k = n_t < QS_PLOTS_RANKED_MAX ? n_t : QS_PLOTS_RANKED_MAX;
	struct log_range xr = {0, 0};
	for (size_t i = 0; i < k; i++)
		log_range_add(&xr, ch[i]->best->rel);
	double lo = xr.lo > 0.0 ? pow(10.0, floor(log10(xr.lo))) : 1e-3;
	FILE *fs[2];
	int rc = open_pair(st, "model.ranked_error", ".dat", &fs[0], &fs[1]);
	if (rc)
		return close_files(st, fs, 2, rc);
	FILE *dat = fs[0], *gp = fs[1];
	fprintf(dat, "# qscope: tensors ranked by rel at their recommended setting, worst first (%zu of %zu)\n"
		     "# y rel bar_start meets_target \"label\" \"tensor\" bits eff_bits\n", k, n_t);
	for (size_t i = 0; i < k; i++) {
		const struct qs_rec_point *p = ch[i]->best;
		char cl[200], label[LABEL_MAX];
		config_label(p, cl, sizeof cl);
		snprintf(label, sizeof label, "%s  [%s]", p->tensor, cl);
		fprintf(dat, "%zu ", k - i);
		put_num(dat, p->rel);
		fprintf(dat, " %.6g %d ", lo, ch[i]->meets_target ? 1 : 0);
		dat_quote(dat, label);
		fputc(' ', dat);
		dat_quote(dat, p->tensor);
		fprintf(dat, " %d ", p->bits);
		put_num(dat, p->eff_bits);
		fputc('\n', dat);
	}
	gp_header(gp, "model.ranked_error", 1100, (int)(k * 22 + 160 > 600 ? k * 22 + 160 : 600));
	char buf[LABEL_MAX];
	snprintf(buf, sizeof buf, "tensors ranked by error at their recommended setting (worst first, %zu of %zu)", k,
		 n_t);
	fputs("set title ", gp);
	gp_quote(gp, buf);
	fputs("\nset xlabel 'relative error ‖X−X̂‖/‖X‖ at the recommended setting'\nunset ylabel\n"
	      "set key outside top center horizontal\nset grid noytics xtics mxtics\nset ytics scale 0 font ',9'\n", gp);
	if (k == 0 || !log_range_set(&xr, gp, 'x', 1.8)) {
		gp_nothing(gp, k ? "every error is 0" : "no tensors");
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
	return close_files(st, fs, 2, QS_OK);
}

/* (5) SQNR per tensor in input order at the recommended setting. */
static int write_sqnr(struct qs_stage *st, const struct tensor_view *tv, size_t n_t)
{
	FILE *fs[2];
	int rc = open_pair(st, "model.sqnr_by_layer", ".dat", &fs[0], &fs[1]);
	if (rc)
		return close_files(st, fs, 2, rc);
	FILE *dat = fs[0], *gp = fs[1];
	fputs("# qscope: SQNR (dB) at the recommended setting, tensors in input order (NaN: no error, SQNR infinite)\n"
	      "# index sqnr_db meets_target bits \"tensor\" rel eff_bits\n", dat);
	double lo = 0.0, hi = -INFINITY;
	size_t n_finite = 0;
	for (size_t i = 0; i < n_t; i++) {
		const struct qs_rec_config *c = tv[i].chosen;
		fprintf(dat, "%zu ", i);
		put_num(dat, c->best->sqnr_db);
		fprintf(dat, " %d %d ", c->meets_target ? 1 : 0, c->best->bits);
		dat_quote(dat, c->best->tensor);
		fputc(' ', dat);
		put_num(dat, c->best->rel);
		fputc(' ', dat);
		put_num(dat, c->best->eff_bits);
		fputc('\n', dat);
		if (isfinite(c->best->sqnr_db)) {
			lo = fmin(lo, c->best->sqnr_db);
			hi = fmax(hi, c->best->sqnr_db);
			n_finite++;
		}
	}
	int w = (int)(n_t * 16 + 250 > 1000 ? n_t * 16 + 250 : 1000);
	gp_header(gp, "model.sqnr_by_layer", w, 700);
	fputs("set title ", gp);
	char buf[LABEL_MAX];
	snprintf(buf, sizeof buf, "SQNR per tensor at its recommended setting (input order; bar label: bits)");
	gp_quote(gp, buf);
	fputs("\nset ylabel 'SQNR (dB)'\nunset xlabel\nset key outside top center horizontal\n"
	      "set grid noxtics ytics\nset xtics rotate by 90 right scale 0 font ',8'\nset style fill solid 0.75 noborder\n"
	      "set boxwidth 0.75\n", gp);
	if (n_finite == 0) {
		gp_nothing(gp, n_t ? "no finite SQNR (every error is 0)" : "no tensors");
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
	return close_files(st, fs, 2, QS_OK);
}

/* ---- qs_plots_write ------------------------------------------------------------------------------------------- */

int qs_plots_write(struct qs_stage *st, const struct qs_rec_points *pts, const struct qs_recommendation *rec)
{
	size_t n_t = rec->n_tensors;
	struct tensor_view *tv = calloc(n_t ? n_t : 1, sizeof *tv);
	const struct qs_rec_point **sorted = malloc((pts->n ? pts->n : 1) * sizeof *sorted);
	const struct qs_rec_config **cfgs = malloc((rec->n_configs > n_t ? rec->n_configs : n_t) * sizeof *cfgs + 1);
	FILE *manifest = NULL;
	int rc = QS_OK;
	if (!tv || !sorted || !cfgs) {
		rc = qs_error_set(QS_ENOMEM, "out of memory writing charts");
		goto out;
	}
	for (size_t i = 0; i < pts->n; i++)
		sorted[i] = &pts->p[i];
	qsort(sorted, pts->n, sizeof *sorted, cmp_point);
	for (size_t r = 0; r < n_t; r++) {
		struct tensor_view *t = &tv[r];
		t->name = rec->tensors[r].name;
		t->cfgs = rec->tensors[r].cfgs;
		t->n_cfgs = rec->tensors[r].n_cfgs;
		t->chosen = rec->tensors[r].chosen;
		if (!t->cfgs || !t->chosen) {
			rc = qs_error_set(QS_EINVAL, "recommendation does not match its points");
			goto out;
		}
		/* the tensor's points: binary search for the first of its name */
		size_t lo = 0, hi = pts->n;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (strcmp(sorted[mid]->tensor, t->name) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		size_t end = lo;
		while (end < pts->n && strcmp(sorted[end]->tensor, t->name) == 0)
			end++;
		t->pts = sorted + lo;
		t->n_pts = end - lo;
		qs_plots_tensor_stem(rec, r, t->stem, sizeof t->stem);
	}
	for (size_t r = 0; r < n_t && rc == QS_OK; r++) {
		rc = write_err_vs_scale(st, &tv[r]);
		if (rc == QS_OK)
			rc = write_err_vs_bits(st, &tv[r], cfgs);
		if (rc == QS_OK)
			rc = write_pareto(st, &tv[r], cfgs);
	}
	if (rc == QS_OK)
		rc = write_ranked(st, tv, n_t, cfgs);
	if (rc == QS_OK)
		rc = write_sqnr(st, tv, n_t);
	if (rc == QS_OK)
		rc = qs_stage_fopen(st, "plots/charts.txt", &manifest);
	if (rc == QS_OK) {
		for (size_t r = 0; r < n_t; r++)
			fprintf(manifest, "%s.err_vs_scale\n%s.err_vs_bits\n%s.pareto\n", tv[r].stem, tv[r].stem, tv[r].stem);
		fputs("model.ranked_error\nmodel.sqnr_by_layer\n", manifest);
		rc = qs_stage_fclose(st, manifest);
	}
out:
	free(tv);
	free(sorted);
	free(cfgs);
	return rc;
}

/* ---- the manifest, pruning ------------------------------------------------------------------------------------ */

void qs_plots_stems_free(char **stems, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(stems[i]);
	free(stems);
}

int qs_plots_stems(const char *plots_dir, char ***stems, size_t *n)
{
	char path[4096], line[STEM_MAX + 64];
	*stems = NULL;
	*n = 0;
	snprintf(path, sizeof path, "%s/charts.txt", plots_dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return qs_error_set(QS_EIO, "'%s': cannot open: %s", path, strerror(errno));
	size_t cap = 0;
	int rc = QS_OK;
	while (rc == QS_OK && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0])
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 64;
			char **p = realloc(*stems, cap * sizeof *p);
			if (!p) {
				rc = qs_error_set(QS_ENOMEM, "out of memory");
				break;
			}
			*stems = p;
		}
		if (!((*stems)[*n] = strdup(line)))
			rc = qs_error_set(QS_ENOMEM, "out of memory");
		else
			(*n)++;
	}
	fclose(f);
	if (rc) {
		qs_plots_stems_free(*stems, *n);
		*stems = NULL;
		*n = 0;
	}
	return rc;
}

static const char *const chart_suffixes[] = {".best.dat", ".dat", ".gp", ".png", ".svg", ".pdf"};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int qs_plots_prune(const char *plots_dir)
{
	char **stems;
	size_t n;
	int rc = qs_plots_stems(plots_dir, &stems, &n);
	if (rc)
		return rc;
	qsort(stems, n, sizeof *stems, cmp_str);
	DIR *d = opendir(plots_dir);
	if (!d) {
		rc = qs_error_set(QS_EIO, "'%s': cannot open folder: %s", plots_dir, strerror(errno));
		qs_plots_stems_free(stems, n);
		return rc;
	}
	struct dirent *e;
	char stem[STEM_MAX + 64], path[4096];
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		for (size_t s = 0; s < sizeof chart_suffixes / sizeof *chart_suffixes; s++) {
			size_t ls = strlen(chart_suffixes[s]);
			if (len <= ls || len - ls >= sizeof stem || strcmp(e->d_name + len - ls, chart_suffixes[s]))
				continue;
			memcpy(stem, e->d_name, len - ls);
			stem[len - ls] = '\0';
			const char *key = stem;
			if (!bsearch(&key, stems, n, sizeof *stems, cmp_str)) {
				snprintf(path, sizeof path, "%s/%s", plots_dir, e->d_name);
				unlink(path);
			}
			break;
		}
	}
	closedir(d);
	qs_plots_stems_free(stems, n);
	return QS_OK;
}

/* ---- rendering ------------------------------------------------------------------------------------------------ */

/* Whether an executable `name` is on PATH. */
static bool on_path(const char *name)
{
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	char buf[4096];
	while (*path) {
		size_t len = strcspn(path, ":");
		snprintf(buf, sizeof buf, "%.*s/%s", len ? (int)len : 1, len ? path : ".", name);
		struct stat sb;
		if (stat(buf, &sb) == 0 && S_ISREG(sb.st_mode) && access(buf, X_OK) == 0)
			return true;
		path += len;
		if (*path == ':')
			path++;
	}
	return false;
}

/* One gnuplot run: `gnuplot -e fmt='FMT' SCRIPT` with cwd = the plots folder, stderr into a temporary file. */
struct job {
	pid_t pid;
	FILE *err;
	const char *script, *fmt;
};

/* Starts a job; returns 0, or -1 with errno set. */
static int job_start(struct job *j, const char *dir)
{
	char fmt_arg[32];
	snprintf(fmt_arg, sizeof fmt_arg, "fmt='%s'", j->fmt);
	char *const argv[] = {"gnuplot", "-e", fmt_arg, (char *)j->script, NULL};
	if (!(j->err = tmpfile()))
		return -1;
	fflush(NULL);
	j->pid = fork();
	if (j->pid < 0) {
		fclose(j->err);
		j->err = NULL;
		return -1;
	}
	if (j->pid == 0) {
		int devnull = open("/dev/null", O_RDWR);
		if (devnull >= 0) {
			dup2(devnull, STDIN_FILENO);
			dup2(devnull, STDOUT_FILENO);
		}
		dup2(fileno(j->err), STDERR_FILENO);
		if (chdir(dir) != 0) {
			static const char msg[] = "cannot enter the plots folder\n";
			ssize_t r = write(STDERR_FILENO, msg, sizeof msg - 1);
			(void)r;
			_exit(126);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	return 0;
}

/* Waits for a job; returns its exit status (128 + signal when killed, -1 when waiting failed) and its stderr. */
static int job_finish(struct job *j, char *err, size_t err_len)
{
	int status = 0, rc = -1;
	pid_t w;
	while ((w = waitpid(j->pid, &status, 0)) < 0 && errno == EINTR)
		;
	if (w == j->pid && WIFEXITED(status))
		rc = WEXITSTATUS(status);
	else if (w == j->pid && WIFSIGNALED(status))
		rc = 128 + WTERMSIG(status);
	size_t got = 0;
	if (fseek(j->err, 0, SEEK_SET) == 0)
		got = fread(err, 1, err_len - 1, j->err);
	err[got] = '\0';
	fclose(j->err);
	j->err = NULL;
	return rc;
}

int qs_plots_render(const char *plots_dir, const char *const *formats, size_t n_formats, char *warning, size_t len)
{
	if (len)
		warning[0] = '\0';
	for (size_t i = 0; i < n_formats; i++)
		if (strcmp(formats[i], "png") && strcmp(formats[i], "svg") && strcmp(formats[i], "pdf"))
			return qs_error_set(QS_EUSAGE, "unknown chart format '%s' (png, svg or pdf)", formats[i]);
	if (!on_path("gnuplot")) {
		if (len)
			snprintf(warning, len, "gnuplot not found: wrote .dat/.gp only (render with: cd '%s' && gnuplot "
					       "FILE.gp)", plots_dir);
		return QS_OK;
	}
	DIR *d = opendir(plots_dir);
	if (!d)
		return qs_error_set(QS_EIO, "'%s': cannot open folder: %s", plots_dir, strerror(errno));
	char **scripts = NULL;
	size_t n = 0, cap = 0;
	int rc = QS_OK;
	struct dirent *e;
	while (rc == QS_OK && (e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l < 4 || strcmp(e->d_name + l - 3, ".gp") || e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			char **p = realloc(scripts, cap * sizeof *p);
			if (!p) {
				rc = qs_error_set(QS_ENOMEM, "out of memory");
				break;
			}
			scripts = p;
		}
		if (!(scripts[n] = strdup(e->d_name)))
			rc = qs_error_set(QS_ENOMEM, "out of memory");
		else
			n++;
	}
	closedir(d);
	if (rc == QS_OK)
		qsort(scripts, n, sizeof *scripts, cmp_str);
	/* every (script, format) pair, a few gnuplots at a time */
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t width = cpus < 1 ? 1 : cpus > 16 ? 16 : (size_t)cpus, n_jobs = n * n_formats, head = 0;
	struct job *ring = calloc(width, sizeof *ring);
	char err[2048];
	size_t failed = 0;
	if (rc == QS_OK && !ring)
		rc = qs_error_set(QS_ENOMEM, "out of memory");
	for (size_t next = 0; rc == QS_OK && (head < next || next < n_jobs);) {
		if (next < n_jobs && next - head < width) {
			struct job *j = &ring[next % width];
			j->script = scripts[next / n_formats];
			j->fmt = formats[next % n_formats];
			if (job_start(j, plots_dir) != 0) {
				if (failed++ == 0)
					qs_error_set(QS_EIO, "'%s/%s': cannot run gnuplot: %s", plots_dir, j->script,
						     strerror(errno));
				n_jobs = next; /* start nothing more; wait for the running ones */
				continue;
			}
			next++;
			continue;
		}
		struct job *j = &ring[head++ % width];
		int st = job_finish(j, err, sizeof err);
		if (st == 0)
			continue;
		size_t el = strlen(err);
		while (el > 0 && (err[el - 1] == '\n' || err[el - 1] == ' '))
			err[--el] = '\0';
		if (failed++ == 0)
			qs_error_set(QS_EIO, "'%s/%s': gnuplot failed rendering %s (exit status %d)%s%s", plots_dir,
				     j->script, j->fmt, st, el ? ":\n" : "", err);
	}
	free(ring);
	if (rc == QS_OK && failed)
		rc = QS_EIO;
	for (size_t i = 0; i < n; i++)
		free(scripts[i]);
	free(scripts);
	return rc;
}

/* The stem before clashes are resolved. */
static void plain_stem(const char *name, char *stem, size_t len)
{
	char base[STEM_MAX + 1];
	snprintf(base, sizeof base, "%s", name);
	sanitize(base);
	bool reserved = strcmp(base, "model") == 0 || base[0] == '.' || base[0] == '\0';
	snprintf(stem, len, reserved ? "_%s" : "%s", base);
}

void qs_plots_tensor_stem(const struct qs_recommendation *rec, size_t r, char *stem, size_t len)
{
	char other[STEM_MAX + 2];
	plain_stem(rec->tensors[r].name, stem, len);
	for (size_t q = 0; q < r; q++) {
		plain_stem(rec->tensors[q].name, other, sizeof other);
		if (strcmp(other, stem) == 0) {
			size_t used = strlen(stem);
			snprintf(stem + used, len - used, "-%zu", r);
			return;
		}
	}
}
