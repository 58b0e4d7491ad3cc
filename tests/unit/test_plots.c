/* Chart files on hand-made sweep points, parsed back: the .dat numbers are the points' own, the Pareto frontier is the
 * one worked out by hand below, tensor names with quotes are escaped in scripts and data, stale charts are pruned,
 * and (when gnuplot is on PATH) every script renders. */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "output/chart_data.h"
#include "output/plots.h"
#include "util/qs_error.h"

static struct qs_rec_points pts;
static struct qs_recommendation rec;
static char tmp[64], out[96], plots[128];

/* A sweep point; the sqnr follows rel, rel_round completes rel² = rel_clip² + rel_round². */
static void add_p(struct qs_rec_points *list, const char *tensor, int bits, const char *gran, const char *calib,
		  double m, double scale, double rel, double rel_clip, double eff_bits)
{
	struct qs_rec_point p = {0};
	p.tensor = strdup(tensor);
	p.shape = strdup("8x4");
	p.qparams = strdup("");
	ck_assert(p.tensor && p.shape && p.qparams);
	p.n = 32;
	p.bits = bits;
	p.is_signed = 1;
	snprintf(p.range, sizeof p.range, "full");
	snprintf(p.scheme, sizeof p.scheme, "sym");
	snprintf(p.granularity, sizeof p.granularity, "%s", gran);
	snprintf(p.calib, sizeof p.calib, "%s", calib);
	snprintf(p.profile, sizeof p.profile, "default");
	snprintf(p.rounding, sizeof p.rounding, "even");
	p.multiplier = m;
	p.scale = scale;
	p.rel = rel;
	p.rel_clip = rel_clip;
	p.rel_round = sqrt(rel * rel - rel_clip * rel_clip);
	p.sqnr_db = -20.0 * log10(rel);
	p.eff_bits = eff_bits;
	p.worst_group_rel = rel;
	ck_assert_int_eq(qs_rec_points_push(list, &p), QS_OK);
}

static void add(const char *tensor, int bits, const char *gran, const char *calib, double m, double scale, double rel,
		double rel_clip, double eff_bits)
{
	add_p(&pts, tensor, bits, gran, calib, m, scale, rel, rel_clip, eff_bits);
}

/* One per-tensor 2-bit point of `tensor` in list p, for charts over a hand-made recommendation. */
static void add_to(struct qs_rec_points *p, const char *tensor)
{
	add_p(p, tensor, 2, "tensor", "minmax", 1.0, 8.0, 0.3, 0.0, 2.03);
}

/* Tensor A (name with a single quote): 4-bit per-tensor curves of two calibrators over three multipliers, and an
 * 8-bit per-tensor point; nothing meets 0.02 at 4 bits, so A's recommendation is 8-bit per-tensor (8.03 bits) and
 * the error-vs-scale chart shows the per-tensor family (4 and 8 bits).
 * Tensor B (name with a double quote): six configurations at m = 1, one calibrator, for the Pareto frontier:
 *   eff_bits  rel    config         on the frontier?
 *   2.03      0.30   2-bit tensor   yes (cheapest)
 *   2.5       0.25   2-bit channel  yes (0.25 < 0.30)
 *   3.03      0.12   3-bit tensor   yes
 *   3.5       0.13   3-bit channel  no: 3.03 is cheaper and better
 *   4.03      0.05   4-bit tensor   yes
 *   4.5       0.055  4-bit channel  no: 4.03 is cheaper and better */
static void setup(void)
{
	memset(&pts, 0, sizeof pts);
	static const double m[3] = {0.8, 0.9, 1.0};
	static const double rel_mm[3] = {0.0713, 0.0521, 0.0587}, clip_mm[3] = {0.0602, 0.0307, 0.0};
	static const double rel_mse[3] = {0.0698, 0.0544, 0.0499}, clip_mse[3] = {0.0611, 0.0402, 0.0218};
	for (int i = 0; i < 3; i++)
		add("conv'1", 4, "tensor", "minmax", m[i], 0.2385 * m[i], rel_mm[i], clip_mm[i], 4.03);
	for (int i = 0; i < 3; i++)
		add("conv'1", 4, "tensor", "mse", m[i], 0.1917 * m[i], rel_mse[i], clip_mse[i], 4.03);
	add("conv'1", 8, "tensor", "minmax", 1.0, 0.01413, 0.00371, 0.0, 8.03);
	add("p\"q", 2, "tensor", "minmax", 1.0, 0.5, 0.30, 0.1, 2.03);
	add("p\"q", 2, "channel", "minmax", 1.0, 0.5, 0.25, 0.1, 2.5);
	add("p\"q", 3, "tensor", "minmax", 1.0, 0.25, 0.12, 0.05, 3.03);
	add("p\"q", 3, "channel", "minmax", 1.0, 0.25, 0.13, 0.05, 3.5);
	add("p\"q", 4, "tensor", "minmax", 1.0, 0.125, 0.05, 0.01, 4.03);
	add("p\"q", 4, "channel", "minmax", 1.0, 0.125, 0.055, 0.01, 4.5);
	struct qs_target t = {QS_TARGET_REL, 0.02};
	ck_assert_int_eq(qs_recommend(&pts, &t, &rec), QS_OK);
	snprintf(tmp, sizeof tmp, "/tmp/qs-test-plots-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
	snprintf(out, sizeof out, "%s/out", tmp);
	snprintf(plots, sizeof plots, "%s/plots", out);
	struct qs_stage *st;
	ck_assert_int_eq(qs_stage_open(out, &st), QS_OK);
	ck_assert_int_eq(qs_plots_write(st, &pts, &rec, NULL), QS_OK);
	ck_assert_int_eq(qs_stage_commit(st), QS_OK);
}

static void rm_tree(const char *path)
{
	DIR *d = opendir(path);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
				char sub[1024];
				snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
				rm_tree(sub);
			}
		closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

static void teardown(void)
{
	qs_recommendation_free(&rec);
	qs_rec_points_free(&pts);
	ck_assert_msg(strncmp(tmp, "/tmp/qs-test-plots-", 19) == 0, "refusing to remove '%s'", tmp);
	rm_tree(tmp);
}

static char *slurp(const char *name)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", plots, name);
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "missing %s", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *s = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = '\0';
	fclose(f);
	return s;
}

/* The numeric rows of a gnuplot .dat: up to 8 leading numbers per row and the gnuplot index (block) of each. */
struct rows {
	double v[64][8];
	int nv[64], block[64];
	char text[64][128]; /* the first quoted field, "" if none */
	int n;
};

static void parse_dat(const char *name, struct rows *r)
{
	char *s = slurp(name), *save = NULL;
	memset(r, 0, sizeof *r);
	int block = 0, blanks = 0;
	for (char *line = s; line; line = save) {
		save = strchr(line, '\n');
		if (save)
			*save++ = '\0';
		if (line[0] == '#')
			continue;
		if (line[0] == '\0') {
			blanks++;
			continue;
		}
		if (blanks >= 2 && r->n > 0)
			block++;
		blanks = 0;
		ck_assert_int_lt(r->n, 64);
		char *p = line, *end;
		int k = 0;
		while (k < 8) {
			double v = strtod(p, &end);
			if (end == p)
				break;
			r->v[r->n][k++] = v;
			p = end;
		}
		char *q = strchr(p, '"');
		if (q) {
			char *e = strchr(q + 1, '"');
			ck_assert_ptr_nonnull(e);
			snprintf(r->text[r->n], sizeof r->text[r->n], "%.*s", (int)(e - q - 1), q + 1);
		}
		r->nv[r->n] = k;
		r->block[r->n++] = block;
	}
	free(s);
}

START_TEST(test_scale_dat_is_the_points)
{
	struct rows r;
	parse_dat("conv_1.err_vs_scale.dat", &r);
	/* blocks: 4-bit minmax, 4-bit mse, 8-bit minmax (sorted by bits, then calibrator name) */
	ck_assert_int_eq(r.n, 7);
	size_t k = 0;
	for (size_t i = 0; i < pts.n; i++) {
		const struct qs_rec_point *p = &pts.p[i];
		if (strcmp(p->tensor, "conv'1"))
			continue;
		/* points were added in the order the chart sorts them */
		ck_assert_int_eq(r.nv[k], 5);
		ck_assert(r.v[k][0] == p->multiplier && r.v[k][1] == p->scale && r.v[k][2] == p->rel_clip &&
			  r.v[k][3] == p->rel_round && r.v[k][4] == p->rel);
		ck_assert_int_eq(r.block[k], k < 3 ? 0 : k < 6 ? 1 : 2);
		k++;
	}
	ck_assert_uint_eq(k, 7);
	/* best points: 4-bit minmax m=0.9 (0.0521), mse m=1.0 (0.0499), optimum mse; 8-bit minmax and optimum */
	parse_dat("conv_1.err_vs_scale.best.dat", &r);
	ck_assert_int_eq(r.n, 5);
	ck_assert(r.v[0][0] == 0.9 && r.v[0][2] == 0.0521 && strcmp(r.text[0], "minmax") == 0);
	ck_assert(r.v[1][0] == 1.0 && r.v[1][2] == 0.0499 && strcmp(r.text[1], "mse") == 0);
	ck_assert(r.v[2][0] == 1.0 && r.v[2][2] == 0.0499 && strcmp(r.text[2], "mse") == 0 && r.block[2] == 0);
	ck_assert(r.v[3][2] == 0.00371 && r.v[4][2] == 0.00371 && r.block[4] == 1);
}
END_TEST

START_TEST(test_pareto_frontier)
{
	struct rows r;
	parse_dat("p_q.pareto.dat", &r);
	/* blocks: channel (3 points), tensor (3 points), frontier, recommended */
	static const double front[4][2] = {{2.03, 0.30}, {2.5, 0.25}, {3.03, 0.12}, {4.03, 0.05}};
	int n_front = 0, n_all = 0;
	for (int i = 0; i < r.n; i++) {
		if (r.block[i] <= 1) {
			n_all++;
			continue;
		}
		if (r.block[i] == 2) {
			ck_assert_int_lt(n_front, 4);
			ck_assert(r.v[i][0] == front[n_front][0] && r.v[i][1] == front[n_front][1]);
			n_front++;
		} else {
			/* nothing meets 0.02: the lowest rel, 4-bit tensor, is recommended */
			ck_assert(r.v[i][0] == 4.03 && r.v[i][1] == 0.05 && r.v[i][2] == 4.0);
		}
	}
	ck_assert_int_eq(n_all, 6);
	ck_assert_int_eq(n_front, 4);
	/* error vs bits: per family the best rel at 2, 3, 4 bits */
	parse_dat("p_q.err_vs_bits.dat", &r);
	ck_assert_int_eq(r.n, 7);
	ck_assert(r.v[0][0] == 2 && r.v[0][1] == 0.25 && r.v[0][2] == 2.5 && r.block[0] == 0);
	ck_assert(r.v[5][0] == 4 && r.v[5][1] == 0.05 && r.block[5] == 1);
}
END_TEST

START_TEST(test_names_escaped)
{
	char *gp = slurp("conv_1.err_vs_scale.gp");
	ck_assert_ptr_nonnull(strstr(gp, "'tensor conv''1 (8x4)"));
	ck_assert_ptr_nonnull(strstr(gp, "set output 'conv_1.err_vs_scale.'.fmt"));
	free(gp);
	gp = slurp("p_q.pareto.gp");
	ck_assert_ptr_nonnull(strstr(gp, "'tensor p\"q (8x4)"));
	free(gp);
	/* data files have no escapes: the double quote becomes a single one inside "..." */
	struct rows r;
	parse_dat("model.sqnr_by_layer.dat", &r);
	ck_assert_int_eq(r.n, 2);
	ck_assert_str_eq(r.text[0], "conv'1");
	ck_assert_str_eq(r.text[1], "p'q");
	ck_assert(fabs(r.v[0][1] - -20.0 * log10(0.00371)) < 1e-12);
	/* ranked: worst first (p"q at 0.05, then conv'1 at 0.00371), y counting down */
	parse_dat("model.ranked_error.dat", &r);
	ck_assert_int_eq(r.n, 2);
	ck_assert(r.v[0][0] == 2 && r.v[0][1] == 0.05 && r.v[0][3] == 0);
	ck_assert(r.v[1][0] == 1 && r.v[1][1] == 0.00371 && r.v[1][3] == 1);
	ck_assert_ptr_nonnull(strstr(r.text[0], "p'q"));
}
END_TEST

START_TEST(test_manifest_and_prune)
{
	char **stems;
	size_t n;
	ck_assert_int_eq(qs_plots_stems(plots, &stems, &n), QS_OK);
	ck_assert_uint_eq(n, 2 * 3 + 2);
	ck_assert_str_eq(stems[0], "conv_1.err_vs_scale");
	ck_assert_str_eq(stems[n - 1], "model.sqnr_by_layer");
	qs_plots_stems_free(stems, n);
	char stale[256], kept[256];
	snprintf(stale, sizeof stale, "%s/old_tensor.pareto.png", plots);
	snprintf(kept, sizeof kept, "%s/notes.txt", plots);
	FILE *f = fopen(stale, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_ptr_nonnull(f = fopen(kept, "w"));
	fclose(f);
	ck_assert_int_eq(qs_plots_prune(plots), QS_OK);
	ck_assert_int_ne(access(stale, F_OK), 0);
	ck_assert_int_eq(access(kept, F_OK), 0);
	char gp[256];
	snprintf(gp, sizeof gp, "%s/p_q.pareto.gp", plots);
	ck_assert_int_eq(access(gp, F_OK), 0);
}
END_TEST

/* Chart stems: unsafe characters and a leading '.' become '_', "model" gets a '_' prefix, clashes get "-RANK". */
START_TEST(test_tensor_stems)
{
	struct qs_rec_tensor tensors[5] = {
		{.name = "a/b"}, {.name = "a_b"}, {.name = "model"}, {.name = ".hidden w"}, {.name = "a/b"},
	};
	struct qs_recommendation rec = {.tensors = tensors, .n_tensors = 5};
	const char *const want[5] = {"a_b", "a_b-1", "_model", "_hidden_w", "a_b-4"};
	for (size_t r = 0; r < 5; r++) {
		char stem[256];
		qs_plots_tensor_stem(&rec, r, stem, sizeof stem);
		ck_assert_str_eq(stem, want[r]);
	}
}
END_TEST

START_TEST(test_render)
{
	const char *formats[] = {"png"};
	char warning[256];
	int rc = qs_plots_render(plots, formats, 1, warning, sizeof warning);
	ck_assert_msg(rc == QS_OK, "%s", qs_error_message());
	if (warning[0]) {
		ck_assert_ptr_nonnull(strstr(warning, "gnuplot not found"));
		return;
	}
	char png[256];
	snprintf(png, sizeof png, "%s/conv_1.err_vs_scale.png", plots);
	struct stat sb;
	ck_assert_int_eq(stat(png, &sb), 0);
	ck_assert_int_gt(sb.st_size, 1000);
	const char *bad[] = {"gif"};
	ck_assert_int_eq(qs_plots_render(plots, bad, 1, warning, sizeof warning), QS_EUSAGE);
	/* a broken script among good ones (gnuplot renders scripts in batches): the error names it and carries
	 * gnuplot's message */
	char gp[256];
	snprintf(gp, sizeof gp, "%s/m_broken.gp", plots);
	FILE *f = fopen(gp, "w");
	ck_assert_ptr_nonnull(f);
	fputs("set output 'm_broken.'.fmt\nplot nosuchfunction(x)\n", f);
	fclose(f);
	ck_assert_int_eq(qs_plots_render(plots, formats, 1, warning, sizeof warning), QS_EIO);
	ck_assert_msg(strstr(qs_error_message(), "/m_broken.gp': gnuplot failed rendering png") != NULL, "%s",
		      qs_error_message());
	ck_assert_msg(strstr(qs_error_message(), "nosuchfunction") != NULL, "%s", qs_error_message());
	unlink(gp);
}
END_TEST

/* ---- chart data: a 2x4 tensor worked out by hand ---------------------------------------------------------------
 * channel 0 = {0.1, -0.2, 0.3, -0.4}, channel 1 = {1, -2, 4, 8}; 2-bit symmetric (q in [-2, 1], s = T/1), minmax,
 * the single multiplier 1, granularities tensor and channel.
 *   per-tensor: s = 8; channel 0 rounds to 0 everywhere (sse 0.01+0.04+0.09+0.16 = 0.30), channel 1: 1/8, -2/8 and
 *               4/8 (half to even) round to 0, 8/8 to 1 (sse 1+4+16 = 21); nothing is clipped (-2·8 = -16 < -2)
 *   per-channel: channel 0 s = 0.4: 0.25→0, -0.5→0, 0.75→1 (0.4), -1→-1 (-0.4): sse 0.01+0.04+0.01+0 = 0.06;
 *               channel 1 s = 8 as above: 21
 *   histogram: 256 bins of width 10/256 from -2; bin(x) = floor((x+2)·25.6): -2→0, -0.4→40, -0.2→46, 0.1→53,
 *               0.3→58, 1→76, 4→153, 8→256, the top edge, kept in the last bin 255
 *   clip lines: minmax at m = 1 represents [-2·8, 1·8] = [-16, 8]; the per-tensor optimum (m = 1) the same. */
static int collect(void *ctx, const struct qs_sweep_row *row)
{
	return qs_rec_points_add_row(ctx, row, "", NULL);
}

static void chart_data_of_hand_tensor(struct qs_chart_data *cd)
{
	const size_t shape[2] = {2, 4};
	struct qs_tensor *t = qs_tensor_alloc("hand", "f32", 2, shape);
	ck_assert_ptr_nonnull(t);
	const double v[8] = {0.1, -0.2, 0.3, -0.4, 1.0, -2.0, 4.0, 8.0};
	memcpy(t->data, v, sizeof v);
	static const int bits[] = {2};
	struct qs_granularity grans[2];
	ck_assert_int_eq(qs_gran_parse("tensor", &grans[0]), QS_OK);
	ck_assert_int_eq(qs_gran_parse("channel", &grans[1]), QS_OK);
	static const bool f[] = {false}, tr[] = {true};
	static const enum qs_rounding rnd[] = {QS_ROUND_EVEN};
	static const enum qs_profile prof[] = {QS_PROFILE_DEFAULT};
	static const double mult[] = {1.0};
	struct qs_calib calib;
	ck_assert_int_eq(qs_calib_parse("minmax", &calib), QS_OK);
	struct qs_sweep_spec spec = {bits, 1, grans, 2, f, 1, tr, 1, f, 1, f, 1, rnd, 1, prof, 1, &calib, 1, mult, 1, 0,
				     false};
	struct qs_rec_points p = {0};
	ck_assert_int_eq(qs_sweep_tensor(&spec, t, 0, collect, &p, NULL), QS_OK);
	struct qs_target target = {QS_TARGET_REL, 0.02};
	memset(cd, 0, sizeof *cd);
	ck_assert_int_eq(qs_chart_data_add(cd, &spec, t, &p, 0, &target), QS_OK);
	qs_rec_points_free(&p);
	qs_tensor_free(t);
}

static void check_hand_data(const struct qs_chart_data *cd)
{
	ck_assert_uint_eq(cd->n, 1);
	const struct qs_chart_tensor *d = qs_chart_data_find(cd, "hand");
	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_null(qs_chart_data_find(cd, "other"));
	static const size_t bin[8] = {0, 40, 46, 53, 58, 76, 153, 255};
	ck_assert_uint_eq(d->n_bins, 8);
	for (size_t i = 0; i < 8; i++) {
		ck_assert_uint_eq(d->bins[i].count, 1);
		ck_assert_double_eq_tol(d->bins[i].lo, -2.0 + (double)bin[i] * 10.0 / 256.0, 1e-12);
		ck_assert_double_eq_tol(d->bins[i].hi, -2.0 + (double)(bin[i] + 1) * 10.0 / 256.0, 1e-12);
	}
	ck_assert_str_eq(d->quant, "2-bit sym");
	ck_assert_uint_eq(d->n_clips, 2);
	ck_assert_str_eq(d->clips[0].label, "minmax");
	ck_assert_str_eq(d->clips[1].label, "optimum minmax m=1");
	ck_assert(!d->clips[0].optimum && d->clips[1].optimum);
	for (int c = 0; c < 2; c++) {
		ck_assert_double_eq_tol(d->clips[c].lo, -16.0, 1e-12);
		ck_assert_double_eq_tol(d->clips[c].hi, 8.0, 1e-12);
	}
	ck_assert_int_eq(d->axis, 0);
	ck_assert_str_eq(d->how[0], "minmax m=1");
	ck_assert_str_eq(d->how[1], "minmax m=1");
	ck_assert_uint_eq(d->n_channels, 2);
	const struct qs_chart_channel *c0 = &d->channels[0], *c1 = &d->channels[1];
	ck_assert_uint_eq(c0->n, 4);
	ck_assert_double_eq_tol(c0->absmax, 0.4, 1e-15);
	ck_assert_double_eq_tol(c1->absmax, 8.0, 1e-15);
	ck_assert_double_eq_tol(c0->signal, 0.30, 1e-12);
	ck_assert_double_eq_tol(c1->signal, 85.0, 1e-12);
	ck_assert_double_eq_tol(c0->sse_round[0], 0.30, 1e-12);
	ck_assert_double_eq_tol(c0->sse_round[1], 0.06, 1e-12);
	ck_assert_double_eq_tol(c1->sse_round[0], 21.0, 1e-12);
	ck_assert_double_eq_tol(c1->sse_round[1], 21.0, 1e-12);
	for (int k = 0; k < 2; k++) {
		ck_assert_double_eq(c0->sse_clip[k], 0.0);
		ck_assert_uint_eq(c0->n_clipped[k] + c1->n_clipped[k], 0);
	}
	struct qs_chart_totals tot;
	qs_chart_totals(d, 1, &tot);
	ck_assert_double_eq_tol(tot.sse_round, 21.06, 1e-12);
	ck_assert_double_eq_tol(tot.signal, 85.30, 1e-12);
}

START_TEST(test_chart_data_by_hand)
{
	struct qs_chart_data cd;
	chart_data_of_hand_tensor(&cd);
	check_hand_data(&cd);
	qs_chart_data_free(&cd);
}
END_TEST

/* Written to CSV and read back: the same numbers; the charts appear in the manifest; a bad row names the line. */
START_TEST(test_chart_data_round_trip)
{
	struct qs_chart_data cd, back;
	chart_data_of_hand_tensor(&cd);
	char dir[160];
	snprintf(dir, sizeof dir, "%s/cd", tmp);
	struct qs_stage *st;
	ck_assert_int_eq(qs_stage_open(dir, &st), QS_OK);
	ck_assert_int_eq(qs_chart_data_write(st, &cd), QS_OK);
	ck_assert_int_eq(qs_stage_commit(st), QS_OK);
	ck_assert_int_eq(qs_chart_data_read(dir, &back), QS_OK);
	check_hand_data(&back);
	qs_chart_data_free(&back);

	/* charts of a recommendation over the same tensor name */
	struct qs_rec_points p = {0};
	add_to(&p, "hand");
	struct qs_recommendation r;
	struct qs_target t = {QS_TARGET_REL, 0.02};
	ck_assert_int_eq(qs_recommend(&p, &t, &r), QS_OK);
	ck_assert_int_eq(qs_stage_open(dir, &st), QS_OK);
	ck_assert_int_eq(qs_plots_write(st, &p, &r, &cd), QS_OK);
	ck_assert_int_eq(qs_stage_commit(st), QS_OK);
	char path[256], text[512] = "";
	snprintf(path, sizeof path, "%s/plots/charts.txt", dir);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	size_t got = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[got] = '\0';
	ck_assert_str_eq(text, "hand.err_vs_scale\nhand.err_vs_bits\nhand.pareto\nhand.histogram\nhand.channels\n"
			       "model.ranked_error\nmodel.sqnr_by_layer\n");
	qs_recommendation_free(&r);
	qs_rec_points_free(&p);
	qs_chart_data_free(&cd);

	snprintf(path, sizeof path, "%s/histogram.csv", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("tensor,bin_lo,bin_hi,count\nhand,0,1,3\nhand,1,0.5,2\n", f);
	fclose(f);
	ck_assert_int_eq(qs_chart_data_read(dir, &back), QS_EFORMAT);
	ck_assert_ptr_nonnull(strstr(qs_error_message(), "histogram.csv': line 3"));
	ck_assert_uint_eq(back.n, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("plots");
	TCase *tc = tcase_create("charts");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_scale_dat_is_the_points);
	tcase_add_test(tc, test_pareto_frontier);
	tcase_add_test(tc, test_names_escaped);
	tcase_add_test(tc, test_tensor_stems);
	tcase_add_test(tc, test_manifest_and_prune);
	tcase_add_test(tc, test_render);
	tcase_add_test(tc, test_chart_data_by_hand);
	tcase_add_test(tc, test_chart_data_round_trip);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
