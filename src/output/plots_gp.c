/* The gnuplot scaffolding every chart shares: quoting, labels, axis ranges, script header, staged file pairs. */
#include "plots_gp.h"

#include <math.h>
#include <string.h>

#include "../util/qs_error.h"

const char *const qs_gp_colours[QS_GP_N_COLOURS] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
						     "#9467bd", "#8c564b", "#e377c2", "#17becf"};

/* ---- strings -------------------------------------------------------------------------------------------------- */

/* s as a single-quoted gnuplot string: '' for a quote, control characters as spaces. */
void qs_gp_quote(FILE *f, const char *s)
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
void qs_gp_dat_quote(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++)
		fputc(*s == '"' ? '\'' : (unsigned char)*s < 0x20 ? ' ' : *s, f);
	fputc('"', f);
}

/* "channel sym", plus whatever differs from the defaults. */
void qs_gp_family_label(const struct qs_rec_point *p, char *buf, size_t len)
{
	snprintf(buf, len, "%s %s%s%s%s%s%s%s%s", p->granularity, p->scheme, strcmp(p->range, "full") ? " " : "",
		 strcmp(p->range, "full") ? p->range : "", p->is_signed ? "" : " unsigned", p->pow2 ? " pow2" : "",
		 strcmp(p->profile, "default") ? " profile=" : "", strcmp(p->profile, "default") ? p->profile : "",
		 strcmp(p->rounding, "even") ? (strcmp(p->rounding, "away") ? " stochastic" : " round-away") : "");
}

void qs_gp_config_label(const struct qs_rec_point *p, char *buf, size_t len)
{
	char fam[160];
	qs_gp_family_label(p, fam, sizeof fam);
	snprintf(buf, len, "%d-bit %s", p->bits, fam);
}

/* Numbers read back exactly; non-finite ones as NaN (gnuplot skips them). */
void qs_gp_put_num(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.17g", v);
	else
		fputs("NaN", f);
}

/* ---- ranges --------------------------------------------------------------------------------------------------- */

void qs_gp_log_range_add(struct qs_gp_log_range *r, double v)
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
bool qs_gp_log_range_set(const struct qs_gp_log_range *r, FILE *f, char axis, double headroom)
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
void qs_gp_lin_range_set(FILE *f, char axis, double lo, double hi, double used[2])
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
void qs_gp_header(FILE *f, const char *stem, int w, int h)
{
	fprintf(f,
		"# qscope chart; render inside this folder: gnuplot -e \"fmt='svg'\" %s.gp   (fmt: png, svg, pdf)\n"
		"reset\n"
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
void qs_gp_nothing(FILE *f, const char *what)
{
	fputs("set xrange [0:1]\nset yrange [0:1]\nunset logscale\nunset xtics\nunset ytics\nunset x2tics\n", f);
	fputs("set label 99 ", f);
	qs_gp_quote(f, what);
	fputs(" at graph 0.5,0.5 center\nplot 2 notitle\nunset label 99\nset xtics\nset ytics\n", f);
}

int qs_gp_open_pair(struct qs_stage *st, const char *stem, const char *dat_suffix, FILE **dat, FILE **gp)
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

int qs_gp_open_tensor_chart(struct qs_stage *st, const struct qs_plots_view *t, const char *suffix, const char *lead,
			    char *stem, size_t stem_len, FILE **fs)
{
	snprintf(stem, stem_len, "%s.%s", t->stem, suffix);
	int rc = qs_gp_open_pair(st, stem, ".dat", &fs[0], &fs[1]);
	if (rc)
		return qs_gp_close_files(st, fs, 2, rc);
	fprintf(fs[0], "# qscope: %s", lead);
	qs_gp_dat_quote(fs[0], t->name);
	return QS_OK;
}

int qs_gp_close_files(struct qs_stage *st, FILE **files, size_t n, int rc)
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
