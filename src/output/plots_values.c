/* The per-tensor charts drawn from the tensor's values (struct qs_chart_tensor): histogram with clip ranges, and
 * max|x| and error per channel under per-tensor vs per-channel quantization. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/qs_error.h"
#include "plots_gp.h"

/* Colour of calibrator clip i: its rank among the calibrator labels sorted, as in the error-vs-scale chart. */
static const char *clip_colour(const struct qs_chart_tensor *d, size_t i)
{
	size_t rank = 0;
	for (size_t j = 0; j < d->n_clips; j++)
		rank += !d->clips[j].optimum && strcmp(d->clips[j].label, d->clips[i].label) < 0;
	return qs_gp_colours[rank % QS_GP_N_COLOURS];
}

/* (6) histogram of the values (log counts), every calibrator's clip range [lo, hi] as a pair of vertical lines. */
int qs_plots_histogram(struct qs_stage *st, const struct qs_plots_view *t)
{
	const struct qs_chart_tensor *d = t->data;
	char stem[STEM_MAX + 64], buf[LABEL_MAX];
	FILE *fs[2];
	int rc = qs_gp_open_tensor_chart(st, t, "histogram", "histogram of the values of tensor ", stem, sizeof stem, fs);
	if (rc)
		return rc;
	FILE *dat = fs[0], *gp = fs[1];
	fputs("\n# index 0: bins (empty ones left out)\n# bin_lo bin_hi count\n", dat);
	double xlo = INFINITY, xhi = -INFINITY, cmax = 1.0;
	for (size_t b = 0; b < d->n_bins; b++) {
		qs_gp_put_num(dat, d->bins[b].lo);
		fputc(' ', dat);
		qs_gp_put_num(dat, d->bins[b].hi);
		fprintf(dat, " %zu\n", d->bins[b].count);
		xlo = fmin(xlo, d->bins[b].lo);
		xhi = fmax(xhi, d->bins[b].hi);
		cmax = fmax(cmax, (double)d->bins[b].count);
	}
	fprintf(dat, "\n\n# index 1: clip ranges (%s, per-tensor): calibrators at multiplier 1, then the optimum\n"
		     "# lo hi \"label\"\n", d->quant);
	for (size_t c = 0; c < d->n_clips; c++) {
		qs_gp_put_num(dat, d->clips[c].lo);
		fputc(' ', dat);
		qs_gp_put_num(dat, d->clips[c].hi);
		fputc(' ', dat);
		qs_gp_dat_quote(dat, d->clips[c].label);
		fputc('\n', dat);
		if (isfinite(d->clips[c].lo) && isfinite(d->clips[c].hi)) {
			xlo = fmin(xlo, d->clips[c].lo);
			xhi = fmax(xhi, d->clips[c].hi);
		}
	}

	qs_gp_header(gp, stem, 1100, 600);
	snprintf(buf, sizeof buf, "tensor %s (%s): histogram of the values, per-tensor clip ranges at %s", t->name,
		 t->chosen->best->shape, d->quant);
	fputs("set title ", gp);
	qs_gp_quote(gp, buf);
	fputs("\nset xlabel 'value x'\nset ylabel 'count (log scale)'\nset style fill solid 0.6 noborder\n"
	      "set key outside right top font \",9\"\n", gp);
	qs_gp_lin_range_set(gp, 'x', xlo, xhi, NULL);
	fprintf(gp, "set yrange [0.5:%.6g]\nset logscale y\nset format y '%%g'\n", pow(10.0, ceil(log10(cmax)) + 0.3));
	size_t arrow = 1; /* the optimum first (wide, solid), the calibrators' dashed lines drawn over it */
	for (int pass = 0; pass < 2; pass++)
		for (size_t c = 0; c < d->n_clips; c++) {
			const struct qs_chart_clip *k = &d->clips[c];
			if (k->optimum != (pass == 0) || !isfinite(k->lo) || !isfinite(k->hi))
				continue;
			for (int side = 0; side < 2; side++)
				fprintf(gp, "set arrow %zu from %.17g, graph 0 to %.17g, graph 1 nohead lw %.1f dt %d "
					    "lc rgb '%s' front\n", arrow++, side ? k->hi : k->lo, side ? k->hi : k->lo,
					k->optimum ? 3.0 : 1.5, k->optimum ? 1 : 2, k->optimum ? "black" : clip_colour(d, c));
		}
	fprintf(gp, "plot '%s.dat' index 0 using (($1+$2)/2):3:($2-$1) with boxes lc rgb '#7f7f7f' title 'values', \\\n",
		stem);
	for (size_t c = 0; c < d->n_clips; c++) {
		const struct qs_chart_clip *k = &d->clips[c];
		if (!isfinite(k->lo) || !isfinite(k->hi))
			continue;
		fprintf(gp, "  keyentry with lines lw %.1f dt %d lc rgb '%s' title ", k->optimum ? 3.0 : 1.5,
			k->optimum ? 1 : 2, k->optimum ? "black" : clip_colour(d, c));
		snprintf(buf, sizeof buf, "%s [%.4g, %.4g]", k->label, k->lo, k->hi);
		qs_gp_quote(gp, buf);
		fputs(", \\\n", gp);
	}
	fputs("  1/0 notitle\n", gp);
	return qs_gp_close_files(st, fs, 2, QS_OK);
}

/* ‖e‖/‖x‖ of one channel from its sums; NaN without signal. */
static double channel_rel(double sse_clip, double sse_round, double signal)
{
	return signal > 0.0 ? sqrt((sse_clip + sse_round) / signal) : NAN;
}

static double sqnr_db(double sse, double signal)
{
	return sse > 0.0 ? 10.0 * log10(signal / sse) : INFINITY;
}

/* (7) per channel: max|x| (top) and rel under per-tensor and per-channel quantization (bottom). */
int qs_plots_channels(struct qs_stage *st, const struct qs_plots_view *t)
{
	const struct qs_chart_tensor *d = t->data;
	char stem[STEM_MAX + 64], buf[LABEL_MAX];
	FILE *fs[2];
	int rc = qs_gp_open_tensor_chart(st, t, "channels", "per channel of tensor ", stem, sizeof stem, fs);
	if (rc)
		return rc;
	FILE *dat = fs[0], *gp = fs[1];
	fprintf(dat, " (axis %d), %s; per-tensor quantization: %s, per-channel: %s\n"
		     "# channel n absmax rel_tensor rel_channel rel_clip_tensor rel_round_tensor clipped_tensor "
		     "rel_clip_channel rel_round_channel clipped_channel\n", d->axis, d->quant, d->how[0], d->how[1]);
	struct qs_gp_log_range yr = {0, 0};
	for (size_t c = 0; c < d->n_channels; c++) {
		const struct qs_chart_channel *k = &d->channels[c];
		fprintf(dat, "%zu %zu ", c, k->n);
		qs_gp_put_num(dat, k->absmax);
		for (int q = 0; q < 2; q++) {
			double rel = channel_rel(k->sse_clip[q], k->sse_round[q], k->signal);
			fputc(' ', dat);
			qs_gp_put_num(dat, rel);
			qs_gp_log_range_add(&yr, rel);
		}
		for (int q = 0; q < 2; q++) {
			fputc(' ', dat);
			qs_gp_put_num(dat, channel_rel(k->sse_clip[q], 0.0, k->signal));
			fputc(' ', dat);
			qs_gp_put_num(dat, channel_rel(0.0, k->sse_round[q], k->signal));
			fprintf(dat, " %zu", k->n_clipped[q]);
		}
		fputc('\n', dat);
	}
	double clip_t = NAN; /* the per-tensor optimum's threshold max(|lo|, |hi|) */
	for (size_t c = 0; c < d->n_clips; c++)
		if (d->clips[c].optimum)
			clip_t = fmax(fabs(d->clips[c].lo), fabs(d->clips[c].hi));

	int w = (int)(d->n_channels * 6 + 300 < 1100 ? 1100 : d->n_channels * 6 + 300 > 2400 ? 2400 : d->n_channels * 6 + 300);
	qs_gp_header(gp, stem, w, 900);
	struct qs_chart_totals tot[2];
	qs_chart_totals(d, 0, &tot[0]);
	qs_chart_totals(d, 1, &tot[1]);
	snprintf(buf, sizeof buf, "tensor %s (%s), %zu channels on axis %d, %s: per-tensor SQNR %.1f dB, per-channel %.1f dB",
		 t->name, t->chosen->best->shape, d->n_channels, d->axis, d->quant,
		 sqnr_db(tot[0].sse_clip + tot[0].sse_round, tot[0].signal),
		 sqnr_db(tot[1].sse_clip + tot[1].sse_round, tot[1].signal));
	fputs("set multiplot layout 2,1 title ", gp);
	qs_gp_quote(gp, buf);
	fputs(" font \",12\"\nset xlabel 'channel'\nset key outside right top font \",9\"\n"
	      "set lmargin 12\nset rmargin 52\n", gp); /* the same plot width in both panels */
	fprintf(gp, "set xrange [-0.5:%g]\n", (double)d->n_channels - 0.5);
	fputs("set ylabel 'max |x|'\nset yrange [0:*]\nset style fill solid 0.7 noborder\nset boxwidth 0.8 relative\n"
	      "set title 'largest magnitude per channel'\n", gp);
	fprintf(gp, "plot '%s.dat' using 1:3 with boxes lc rgb '#1f77b4' title 'max |x|'", stem);
	if (isfinite(clip_t) && clip_t > 0.0) {
		fprintf(gp, ", \\\n  %.17g with lines lw 2 dt 2 lc rgb 'black' title ", clip_t);
		snprintf(buf, sizeof buf, "per-tensor clip %.4g (%.60s)", clip_t, d->how[0]);
		qs_gp_quote(gp, buf);
	}
	fputs("\nset ylabel 'relative error ‖X−X̂‖/‖X‖ of the channel'\nunset yrange\n"
	      "set title 'error per channel: per-tensor vs per-channel quantization'\n", gp);
	if (!qs_gp_log_range_set(&yr, gp, 'y', 1.0)) {
		qs_gp_nothing(gp, "every channel's error is 0");
	} else {
		fprintf(gp, "plot '%s.dat' using 1:($4>0?$4:1/0) with points pt 7 ps 0.7 lc rgb '#d62728' title ", stem);
		snprintf(buf, sizeof buf, "per-tensor (%s; %zu channels clipped)", d->how[0], tot[0].n_clipped_channels);
		qs_gp_quote(gp, buf);
		fputs(", \\\n  '' using 1:($5>0?$5:1/0) with points pt 5 ps 0.7 lc rgb '#2ca02c' title ", gp);
		snprintf(buf, sizeof buf, "per-channel (%s)", d->how[1]);
		qs_gp_quote(gp, buf);
		fputc('\n', gp);
	}
	fputs("unset multiplot\n", gp);
	return qs_gp_close_files(st, fs, 2, QS_OK);
}
