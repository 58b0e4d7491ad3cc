/* The sweep report: report.md and report.html at OUT's top level, written with plain fprintf. */
#include "report.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/qs_error.h"
#include "plots.h"
#include "recommend_csv.h"

#define STEM_MAX 200
#define NOTE_MAX 4096

struct rep_tensor {
	const char *name;
	const struct qs_rec_config *cfgs; /* the tensor's configurations (contiguous in rec->configs) */
	size_t n_cfgs;
	const struct qs_rec_config *chosen;
	double m_lo, m_hi;                /* swept multipliers of the tensor */
	char stem[STEM_MAX + 32];
	const struct qs_chart_tensor *data; /* histogram and per-channel data, or NULL */
	char note[NOTE_MAX];
};

/* ---- escaping ------------------------------------------------------------------------------------------------- */

static void html_put(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default:
			if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
				fputc(' ', f);
			else
				fputc(*s, f);
		}
	}
}

/* Inside a Markdown table cell or inline code: '|' escaped, '`' and control characters replaced. */
static void md_put(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			fputs("\\|", f);
		else if (*s == '`')
			fputc('\'', f);
		else if ((unsigned char)*s < 0x20)
			fputc(' ', f);
		else
			fputc(*s, f);
	}
}

/* A tensor name as Markdown inline code (names often hold '_' and '*'). */
static void md_name(FILE *f, const char *s)
{
	fputc('`', f);
	md_put(f, s);
	fputc('`', f);
}

/* ---- numbers and words ---------------------------------------------------------------------------------------- */

static void fmt_num(char *buf, size_t len, const char *fmt, double v)
{
	if (isnan(v))
		snprintf(buf, len, "nan");
	else if (isinf(v))
		snprintf(buf, len, v > 0 ? "inf" : "-inf");
	else
		snprintf(buf, len, fmt, v);
}

/* "per-tensor", "per-channel", "per-channel:1", "per-group:32". */
static void gran_label(const char *g, char *buf, size_t len)
{
	snprintf(buf, len, "per-%s", g);
}

/* Every axis but bits, calibrator, multiplier and granularity alike. */
static bool same_but_granularity(const struct qs_rec_point *a, const struct qs_rec_point *b)
{
	return a->bits == b->bits && a->is_signed == b->is_signed && a->pow2 == b->pow2 &&
	       strcmp(a->range, b->range) == 0 && strcmp(a->scheme, b->scheme) == 0 &&
	       strcmp(a->profile, b->profile) == 0 && strcmp(a->rounding, b->rounding) == 0 &&
	       strcmp(a->granularity, b->granularity) != 0;
}

/* Appends printf output to buf (truncating silently). */
static void note_add(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void note_add(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strlen(buf);
	if (used + 1 >= len)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

static void target_text(const struct qs_target *t, char *buf, size_t len)
{
	if (t->kind == QS_TARGET_SQNR)
		snprintf(buf, len, "SQNR >= %g dB", t->value);
	else
		snprintf(buf, len, "rel <= %g", t->value);
}

static double sqnr_of(double sse, double signal)
{
	return sse > 0.0 ? 10.0 * log10(signal / sse) : INFINITY;
}

static int cmp_desc(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x < y) - (x > y);
}

/* The fewest channels that carry 90% of the per-tensor clipping error (0 without clipping or memory). */
static size_t clip_carriers(const struct qs_chart_tensor *d, double sse_clip)
{
	double *e = malloc(d->n_channels * sizeof *e);
	if (!e || !(sse_clip > 0.0)) {
		free(e);
		return 0;
	}
	for (size_t c = 0; c < d->n_channels; c++)
		e[c] = d->channels[c].sse_clip[0];
	qsort(e, d->n_channels, sizeof *e, cmp_desc);
	size_t k = 0;
	for (double sum = 0.0; k < d->n_channels && sum < 0.9 * sse_clip; k++)
		sum += e[k];
	free(e);
	return k;
}

/* What the per-channel data say about per-tensor against per-channel quantization at R's quantizer (nothing
 * without them): the dB per-channel gains, whether clipping (and in how many channels) or rounding costs
 * per-tensor those dB, and whether per-channel meets the target. */
static void explain_channels(struct rep_tensor *t, const struct qs_target *target)
{
	const struct qs_chart_tensor *d = t->data;
	const struct qs_rec_point *p = t->chosen->best;
	if (!d || d->n_channels < 2)
		return;
	struct qs_chart_totals tt, tc;
	qs_chart_totals(d, 0, &tt);
	qs_chart_totals(d, 1, &tc);
	double e_t = tt.sse_clip + tt.sse_round, e_c = tc.sse_clip + tc.sse_round;
	if (!(tt.signal > 0.0) || !(e_t > 0.0))
		return;
	double s_t = sqnr_of(e_t, tt.signal), s_c = sqnr_of(e_c, tc.signal), gain = s_c - s_t;
	double amin = INFINITY, amax = 0.0;
	for (size_t c = 0; c < d->n_channels; c++)
		if (d->channels[c].n) {
			amin = fmin(amin, d->channels[c].absmax);
			amax = fmax(amax, d->channels[c].absmax);
		}
	struct qs_rec_point pt = {.rel = sqrt(e_t / tt.signal), .sqnr_db = s_t};
	struct qs_rec_point pc = {.rel = sqrt(e_c / tc.signal), .sqnr_db = s_c};
	char sc[32], q[64];
	fmt_num(sc, sizeof sc, "%.1f", s_c);
	snprintf(q, sizeof q, "int%d %s", p->bits, p->scheme);
	if (!isfinite(gain) || gain < 1.0) {
		note_add(t->note, sizeof t->note, "Per channel (%zu channels, max|x| %.3g..%.3g): per-channel %s gains "
			 "only %.1f dB over per-tensor (SQNR %.1f vs %s dB); the channels' ranges are alike enough for one "
			 "scale. ", d->n_channels, amin, amax, q, isfinite(gain) ? gain : 0.0, s_t, sc);
		return;
	}
	const char *verdict = qs_target_met(target, &pt) ? "per-tensor still meets the target"
			      : qs_target_met(target, &pc) ? "per-channel fixes it"
							   : "per-channel wins them back but still misses the target";
	size_t k = clip_carriers(d, tt.sse_clip);
	if (tt.sse_clip > tt.sse_round && k > 0) {
		note_add(t->note, sizeof t->note, "Per-tensor %s loses %.1f dB to clipping of %zu %s%s (%s 90%% of "
			 "the clipping error, which is %.0f%% of the squared error; SQNR %.1f dB per-tensor, %s dB "
			 "per-channel); %s. ", q, gain, k, 4 * k <= d->n_channels ? "outlier channel" : "channel",
			 k == 1 ? "" : "s", k == 1 ? "it carries" : "they carry", 100.0 * tt.sse_clip / e_t, s_t, sc, verdict);
	} else {
		note_add(t->note, sizeof t->note, "Per-tensor %s loses %.1f dB to rounding: the channels' max|x| spans "
			 "%.3g..%.3g, so one scale rounds the small channels coarsely (SQNR %.1f dB per-tensor, %s dB "
			 "per-channel); %s. ", q, gain, amin, amax, s_t, sc, verdict);
	}
}

/* The plain-language explanation of one tensor, from its numbers. */
/* Activations measured on evaluation batches: the chosen static scale on unseen data, and the best dynamic setting of
 * the same bits and granularity on the same batches. */
static void explain_unseen(struct rep_tensor *t)
{
	const struct qs_rec_point *p = t->chosen->best;
	if (isnan(p->eval_rel) || strcmp(p->mode, "static") != 0)
		return;
	const struct qs_rec_point *dyn = qs_rec_best_dynamic(t->cfgs, t->n_cfgs, p);
	char *b = t->note;
	size_t len = sizeof t->note;
	note_add(b, len, "On the evaluation batches, which calibration never saw, the same scale gives rel %.3g (%.2f× its "
		 "rel on the calibration batches). ", p->eval_rel, p->rel > 0 ? p->eval_rel / p->rel : 1.0);
	if (dyn)
		note_add(b, len, "Dynamic quantization (%s, a scale per batch at run time) reaches rel %.3g there. ",
			 dyn->calib, dyn->eval_rel);
}

static void explain(struct rep_tensor *t, const struct qs_target *target)
{
	const struct qs_rec_config *c = t->chosen;
	const struct qs_rec_point *p = c->best;
	char *b = t->note;
	size_t len = sizeof t->note;
	char g[64], tgt[64], s1[32], s2[32], s3[32];
	b[0] = '\0';
	gran_label(p->granularity, g, sizeof g);
	target_text(target, tgt, sizeof tgt);
	fmt_num(s1, sizeof s1, "%.1f", p->sqnr_db);
	note_add(b, len, "Recommended: %s int%d %s (%s), calibrator %s at multiplier %.3g, %.2f bits per value: rel %.3g, "
		 "SQNR %s dB; ", g, p->bits, p->scheme, p->is_signed ? "signed" : "unsigned", p->calib, p->multiplier,
		 p->eff_bits, p->rel, s1);
	if (c->meets_target)
		note_add(b, len, "meets the target (%s) at the fewest bits per value. ", tgt);
	else
		note_add(b, len, "no configuration meets the target (%s), so this is the one with the lowest error. ", tgt);

	/* which error dominates */
	double r2 = p->rel * p->rel;
	double clip_share = r2 > 0 ? p->rel_clip * p->rel_clip / r2 : 0;
	fmt_num(s1, sizeof s1, "%.1f", -20 * log10(p->rel_round));
	fmt_num(s2, sizeof s2, "%.1f", -20 * log10(p->rel_clip));
	if (r2 <= 0)
		note_add(b, len, "The tensor is reproduced exactly (no error). ");
	else if (p->rel_clip > p->rel_round)
		note_add(b, len, "Clipping dominates: it carries %.0f%% of the squared error (rel_clip %.3g vs rel_round "
			 "%.3g); clipping alone would limit SQNR to %s dB. A larger multiplier or another calibrator may "
			 "help. ", 100 * clip_share, p->rel_clip, p->rel_round, s2);
	else if (p->rel_clip == 0)
		note_add(b, len, "Rounding is the whole error: %s int%d loses %s dB to rounding (rel_round %.3g) and the "
			 "best multiplier %.3g clips no value. ", g, p->bits, s1, p->rel_round, p->multiplier);
	else
		note_add(b, len, "Rounding dominates: %s int%d loses %s dB to rounding (rel_round %.3g); the best "
			 "multiplier %.3g clips %.2g%% of the error budget (rel_clip %.3g). ", g, p->bits, s1, p->rel_round,
			 p->multiplier, 100 * clip_share, p->rel_clip);

	/* flatness */
	double w = c->flat_hi - c->flat_lo;
	fmt_num(s1, sizeof s1, "%.3g", c->flat_lo);
	fmt_num(s2, sizeof s2, "%.3g", c->flat_hi);
	if (!(w > 0))
		note_add(b, len, "Only the best multiplier keeps rel within 5%% of its minimum: a sharp optimum, the "
			 "multiplier matters. ");
	else if (p->multiplier > 0 && w / p->multiplier >= 0.3)
		note_add(b, len, "The curve is flat: rel stays within 5%% of its best for multipliers %s..%s, so the "
			 "exact multiplier hardly matters. ", s1, s2);
	else
		note_add(b, len, "The curve is fairly narrow: rel stays within 5%% of its best only for multipliers "
			 "%s..%s. ", s1, s2);
	if (t->m_hi > t->m_lo && (p->multiplier <= t->m_lo || p->multiplier >= t->m_hi))
		note_add(b, len, "The optimum sits at the edge of the swept multipliers (%.3g..%.3g): widen -m. ",
			 t->m_lo, t->m_hi);

	/* siblings: the same bits and family with another granularity */
	for (size_t i = 0; i < t->n_cfgs; i++) {
		const struct qs_rec_point *q = t->cfgs[i].best;
		if (&t->cfgs[i] == c || !same_but_granularity(p, q))
			continue;
		char gq[64];
		gran_label(q->granularity, gq, sizeof gq);
		note_add(b, len, "At int%d, %s (%.2f bits) reaches rel %.3g vs %.3g %s (%.2f bits)%s. ", q->bits, gq,
			 q->eff_bits, q->rel, p->rel, g, p->eff_bits,
			 t->cfgs[i].meets_target ? "" : q->rel < p->rel ? ", still missing the target" : "");
	}
	explain_channels(t, target);
	explain_unseen(t);
	/* the neighbouring bit widths in the same family */
	const struct qs_rec_point *up = NULL, *down = NULL;
	const struct qs_rec_config *down_c = NULL;
	for (size_t i = 0; i < t->n_cfgs; i++) {
		const struct qs_rec_point *q = t->cfgs[i].best;
		if (qs_rec_cmp_family(p, q) != 0)
			continue;
		if (q->bits > p->bits && (!up || q->bits < up->bits))
			up = q;
		if (q->bits < p->bits && (!down || q->bits > down->bits)) {
			down = q;
			down_c = &t->cfgs[i];
		}
	}
	if (down) {
		fmt_num(s3, sizeof s3, "%.1f", down->sqnr_db);
		note_add(b, len, "One step down, int%d %s reaches rel %.3g (SQNR %s dB, %s error dominates)%s. ",
			 down->bits, g, down->rel, s3, qs_rec_dominant(down),
			 down_c->meets_target ? "" : ", missing the target");
	}
	if (up) {
		fmt_num(s3, sizeof s3, "%.1f", up->sqnr_db);
		note_add(b, len, "One step up, int%d %s reaches rel %.3g (SQNR %s dB) at %.2f bits per value.", up->bits,
			 g, up->rel, s3, up->eff_bits);
	}
	size_t n = strlen(b);
	while (n && b[n - 1] == ' ')
		b[--n] = '\0';
}

/* ---- writing -------------------------------------------------------------------------------------------------- */

static const char *const tensor_charts[] = {"err_vs_scale", "err_vs_bits", "pareto", "histogram", "channels"};
static const char *const tensor_chart_titles[] = {"error vs multiplier", "error vs bits", "error vs bits per value",
						  "histogram of the values with clip ranges",
						  "per channel: max|x| and error, per-tensor vs per-channel"};
#define N_TENSOR_CHARTS (sizeof tensor_charts / sizeof *tensor_charts)

/* Whether tensor chart k exists for t (the last two need chart data). */
static bool has_chart(const struct rep_tensor *t, size_t k)
{
	return k < 3 || (t->data && (k == 3 ? t->data->n_bins > 0 : t->data->n_channels > 0));
}

static int cmp_worst(const void *va, const void *vb)
{
	const struct rep_tensor *a = *(const struct rep_tensor *const *)va, *b = *(const struct rep_tensor *const *)vb;
	double ra = a->chosen->best->rel, rb = b->chosen->best->rel;
	if (isnan(ra))
		ra = INFINITY;
	if (isnan(rb))
		rb = INFINITY;
	if (ra != rb)
		return ra > rb ? -1 : 1;
	return a->chosen->tensor_rank < b->chosen->tensor_rank ? -1 : a->chosen->tensor_rank > b->chosen->tensor_rank;
}

struct summary {
	size_t n_tensors, n_values, n_unmet;
	double avg_bits;
	char target[64];
};

static void write_md(FILE *f, struct rep_tensor *tv, struct rep_tensor **worst, size_t n_worst,
		     const struct summary *s, const char *run_config)
{
	char a[32], m[32];
	fputs("# qscope report\n\n", f);
	if (run_config) {
		fputs("## Run configuration\n\n```\n", f);
		for (const char *c = run_config; *c; c++)
			fputc(*c == '`' ? '\'' : *c, f);
		fputs("\n```\n\n", f);
	}
	fmt_num(a, sizeof a, "%.3f", s->avg_bits);
	fprintf(f, "## Model summary\n\n| | |\n|---|---|\n| tensors | %zu |\n| values | %zu |\n"
		"| average effective bits per value | %s |\n| target | %s |\n| tensors missing the target | %zu |\n\n",
		s->n_tensors, s->n_values, a, s->target, s->n_unmet);
	if (s->n_unmet) {
		fputs("Missing the target:", f);
		for (size_t r = 0; r < s->n_tensors; r++)
			if (!tv[r].chosen->meets_target) {
				fputc(' ', f);
				md_name(f, tv[r].name);
			}
		fputs("\n\n", f);
	}
	fputs("## Recommendations\n\n| tensor | shape | bits | granularity | scheme | calib | multiplier | eff bits | rel "
	      "| SQNR dB | dominant | flat multipliers | meets target |\n"
	      "|---|---|---:|---|---|---|---:|---:|---:|---:|---|---|---|\n", f);
	for (size_t r = 0; r < s->n_tensors; r++) {
		const struct qs_rec_config *c = tv[r].chosen;
		const struct qs_rec_point *p = c->best;
		fputs("| ", f);
		md_name(f, p->tensor);
		fputs(" | ", f);
		md_put(f, p->shape);
		fmt_num(a, sizeof a, "%.2f", p->sqnr_db);
		fmt_num(m, sizeof m, "%.4g", p->rel);
		fprintf(f, " | %d | ", p->bits);
		md_put(f, p->granularity);
		fprintf(f, " | %s | ", p->scheme);
		md_put(f, p->calib);
		fprintf(f, " | %.4g | %.3f | %s | %s | %s | %.3g..%.3g | %s |\n", p->multiplier, p->eff_bits, m, a,
			qs_rec_dominant(p), c->flat_lo, c->flat_hi, c->meets_target ? "yes" : "**no**");
	}
	fputs("\n## Model charts\n\n![tensors ranked by error](plots/model.ranked_error.png)\n\n"
	      "![SQNR by layer](plots/model.sqnr_by_layer.png)\n\n", f);
	fprintf(f, "## Worst tensors\n\nThe %zu tensor%s with the largest rel at the recommended setting.\n\n", n_worst,
		n_worst == 1 ? "" : "s");
	for (size_t i = 0; i < n_worst; i++) {
		const struct rep_tensor *t = worst[i];
		fmt_num(m, sizeof m, "%.4g", t->chosen->best->rel);
		fprintf(f, "### %zu. ", i + 1);
		md_name(f, t->name);
		fprintf(f, " (rel %s)\n\n%s\n\n", m, t->note);
		for (size_t k = 0; k < N_TENSOR_CHARTS; k++)
			if (has_chart(t, k))
				fprintf(f, "![%s](plots/%s.%s.png)\n", tensor_chart_titles[k], t->stem, tensor_charts[k]);
		fputc('\n', f);
	}
	fputs("## Notes per tensor\n\n", f);
	for (size_t r = 0; r < s->n_tensors; r++) {
		fputs("- ", f);
		md_name(f, tv[r].name);
		fprintf(f, ": %s\n", tv[r].note);
	}
}

static void html_img(FILE *f, const char *stem, const char *chart, const char *title)
{
	fputs("<figure><img src=\"plots/", f);
	html_put(f, stem);
	fprintf(f, ".%s.png\" alt=\"", chart);
	html_put(f, title);
	fputs("\"><figcaption>", f);
	html_put(f, title);
	fputs("</figcaption></figure>\n", f);
}

static void write_html(FILE *f, struct rep_tensor *tv, struct rep_tensor **worst, size_t n_worst,
		       const struct summary *s, const char *run_config)
{
	char a[32], m[32];
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>qscope report</title>\n"
	      "<style>\n"
	      "body{font-family:sans-serif;margin:2em auto;max-width:1400px;padding:0 1em;color:#222;line-height:1.4}\n"
	      "h1,h2,h3{color:#124}\nh2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}\n"
	      "pre{background:#f4f4f4;padding:.6em;overflow-x:auto;white-space:pre-wrap}\n"
	      "table{border-collapse:collapse;font-size:.9em}\n"
	      "th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left}\nth{background:#eef}\n"
	      "td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
	      "tr.missed td{background:#fde8e8}\ncode{background:#f4f4f4;padding:0 .2em}\n"
	      ".charts{display:flex;flex-wrap:wrap;gap:1em}\nfigure{margin:0}\n"
	      "figure img{max-width:100%;height:auto;border:1px solid #ddd}\nfigcaption{font-size:.85em;color:#555}\n"
	      ".no{color:#b00;font-weight:bold}\n.yes{color:#070}\n"
	      "</style>\n</head>\n<body>\n<h1>qscope report</h1>\n",
	      f);
	if (run_config) {
		fputs("<h2>Run configuration</h2>\n<pre>", f);
		html_put(f, run_config);
		fputs("</pre>\n", f);
	}
	fmt_num(a, sizeof a, "%.3f", s->avg_bits);
	fprintf(f, "<h2>Model summary</h2>\n<table>\n<tr><th>tensors</th><td class=\"n\">%zu</td></tr>\n"
		"<tr><th>values</th><td class=\"n\">%zu</td></tr>\n"
		"<tr><th>average effective bits per value</th><td class=\"n\">%s</td></tr>\n"
		"<tr><th>target</th><td>", s->n_tensors, s->n_values, a);
	html_put(f, s->target);
	fprintf(f, "</td></tr>\n<tr><th>tensors missing the target</th><td class=\"n\">%zu</td></tr>\n</table>\n",
		s->n_unmet);
	if (s->n_unmet) {
		fputs("<p>Missing the target:", f);
		for (size_t r = 0; r < s->n_tensors; r++)
			if (!tv[r].chosen->meets_target) {
				fputs(" <code>", f);
				html_put(f, tv[r].name);
				fputs("</code>", f);
			}
		fputs("</p>\n", f);
	}
	fputs("<h2>Recommendations</h2>\n<table>\n<tr><th>tensor</th><th>shape</th><th>bits</th><th>granularity</th>"
	      "<th>scheme</th><th>calib</th><th>multiplier</th><th>eff bits</th><th>rel</th><th>SQNR dB</th>"
	      "<th>dominant</th><th>flat multipliers</th><th>meets target</th></tr>\n", f);
	for (size_t r = 0; r < s->n_tensors; r++) {
		const struct qs_rec_config *c = tv[r].chosen;
		const struct qs_rec_point *p = c->best;
		fprintf(f, "<tr%s><td><code>", c->meets_target ? "" : " class=\"missed\"");
		html_put(f, p->tensor);
		fputs("</code></td><td>", f);
		html_put(f, p->shape);
		fprintf(f, "</td><td class=\"n\">%d</td><td>", p->bits);
		html_put(f, p->granularity);
		fputs("</td><td>", f);
		html_put(f, p->scheme);
		fputs("</td><td>", f);
		html_put(f, p->calib);
		fmt_num(a, sizeof a, "%.2f", p->sqnr_db);
		fmt_num(m, sizeof m, "%.4g", p->rel);
		fprintf(f, "</td><td class=\"n\">%.4g</td><td class=\"n\">%.3f</td><td class=\"n\">%s</td>"
			"<td class=\"n\">%s</td><td>%s</td><td>%.3g..%.3g</td><td class=\"%s\">%s</td></tr>\n",
			p->multiplier, p->eff_bits, m, a, qs_rec_dominant(p), c->flat_lo, c->flat_hi,
			c->meets_target ? "yes" : "no", c->meets_target ? "yes" : "no");
	}
	fputs("</table>\n<h2>Model charts</h2>\n<div class=\"charts\">\n", f);
	html_img(f, "model", "ranked_error", "tensors ranked by error at the recommended setting");
	html_img(f, "model", "sqnr_by_layer", "SQNR by layer at the recommended setting");
	fprintf(f, "</div>\n<h2>Worst tensors</h2>\n<p>The %zu tensor%s with the largest rel at the recommended "
		"setting.</p>\n", n_worst, n_worst == 1 ? "" : "s");
	for (size_t i = 0; i < n_worst; i++) {
		const struct rep_tensor *t = worst[i];
		fmt_num(m, sizeof m, "%.4g", t->chosen->best->rel);
		fprintf(f, "<h3>%zu. <code>", i + 1);
		html_put(f, t->name);
		fprintf(f, "</code> (rel %s)</h3>\n<p>", m);
		html_put(f, t->note);
		fputs("</p>\n<div class=\"charts\">\n", f);
		for (size_t k = 0; k < N_TENSOR_CHARTS; k++)
			if (has_chart(t, k))
				html_img(f, t->stem, tensor_charts[k], tensor_chart_titles[k]);
		fputs("</div>\n", f);
	}
	fputs("<h2>Notes per tensor</h2>\n<ul>\n", f);
	for (size_t r = 0; r < s->n_tensors; r++) {
		fputs("<li><code>", f);
		html_put(f, tv[r].name);
		fputs("</code>: ", f);
		html_put(f, tv[r].note);
		fputs("</li>\n", f);
	}
	fputs("</ul>\n</body>\n</html>\n", f);
}

int qs_report_write(struct qs_stage *st, const struct qs_rec_points *pts, const struct qs_recommendation *rec,
		    const struct qs_target *target, const char *run_config, const struct qs_chart_data *cd)
{
	size_t n_t = rec->n_tensors;
	struct rep_tensor *tv = calloc(n_t ? n_t : 1, sizeof *tv);
	struct rep_tensor **worst = calloc(n_t ? n_t : 1, sizeof *worst);
	FILE *f = NULL;
	int rc = QS_OK;
	if (!tv || !worst) {
		rc = qs_error_set(QS_ENOMEM, "out of memory writing the report");
		goto out;
	}
	for (size_t r = 0; r < n_t; r++) {
		struct rep_tensor *t = &tv[r];
		t->name = rec->tensors[r].name;
		t->cfgs = rec->tensors[r].cfgs;
		t->n_cfgs = rec->tensors[r].n_cfgs;
		t->chosen = rec->tensors[r].chosen;
		if (!t->cfgs || !t->chosen || t->cfgs + t->n_cfgs > rec->configs + rec->n_configs) {
			rc = qs_error_set(QS_EINVAL, "recommendation does not match its points");
			goto out;
		}
		qs_plots_tensor_stem(rec, r, t->stem, sizeof t->stem);
		t->data = qs_chart_data_find(cd, t->name);
		t->m_lo = INFINITY;
		t->m_hi = -INFINITY;
		worst[r] = t;
	}
	size_t last = 0; /* points come grouped by tensor: try the previous point's tensor first */
	for (size_t i = 0; i < pts->n && n_t; i++) {
		const struct qs_rec_point *p = &pts->p[i];
		size_t r = last;
		if (strcmp(tv[r].name, p->tensor) != 0)
			for (r = 0; r < n_t && strcmp(tv[r].name, p->tensor) != 0; r++)
				;
		if (r == n_t)
			continue;
		last = r;
		if (p->multiplier < tv[r].m_lo)
			tv[r].m_lo = p->multiplier;
		if (p->multiplier > tv[r].m_hi)
			tv[r].m_hi = p->multiplier;
	}
	for (size_t r = 0; r < n_t; r++)
		explain(&tv[r], target);
	qsort(worst, n_t, sizeof *worst, cmp_worst);
	size_t n_worst = n_t < QS_REPORT_WORST ? n_t : QS_REPORT_WORST;

	struct summary s = {.n_tensors = n_t, .n_values = rec->total_values, .n_unmet = rec->n_unmet};
	s.avg_bits = rec->total_values ? rec->total_bits / (double)rec->total_values : NAN;
	target_text(target, s.target, sizeof s.target);

	rc = qs_stage_fopen(st, "report.md", &f);
	if (rc)
		goto out;
	write_md(f, tv, worst, n_worst, &s, run_config);
	rc = qs_stage_fclose(st, f);
	if (rc)
		goto out;
	rc = qs_stage_fopen(st, "report.html", &f);
	if (rc)
		goto out;
	write_html(f, tv, worst, n_worst, &s, run_config);
	rc = qs_stage_fclose(st, f);
out:
	free(tv);
	free(worst);
	return rc;
}
