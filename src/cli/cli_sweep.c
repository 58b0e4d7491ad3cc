/* `qscope sweep`: stream tensors and activation batch sets through the sweep, write OUT/sweep.csv atomically, then
 * the recommendation, charts and report (options: cli_sweep_opts.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_act.h"
#include "cli_progress.h"
#include "cli_sweep_opts.h"
#include "output/chart_data.h"
#include "output/csv.h"
#include "output/plots.h"
#include "output/qparams.h"
#include "output/stage.h"
#include "sweep/sweep.h"
#include "util/qs_error.h"
#include "util/qs_names.h"

/* Where rows go: the staged CSV, and optionally the qparams saver. Also the progress display. */
struct sink {
	FILE *csv;
	struct qs_rec_points points;
	struct qs_chart_data charts;   /* histogram and per-channel data, when charts are on */
	struct qs_qparams_saver saver;
	bool save_qparams;
	size_t rows;
	struct qs_cli_progress progress;
	double values_done;            /* values of the tensors swept so far */
	size_t tensors_done, rows_in_tensor, rows_per_tensor;
	const struct qs_target *chart_target; /* charts on: the recommendation target of the chart data */
	struct qs_strings stems;       /* the file-safe names of the tensors swept so far (see claim_name) */
	size_t set_first;              /* the current batch set's first point */
};

/* One row to the CSV, the recommendation and (static rows only) the qparams files; act NULL for a weight. */
static int emit_row(void *ctx, const struct qs_sweep_row *row, const struct qs_csv_act *act)
{
	struct sink *s = ctx;
	char ref[512] = "";
	if (s->save_qparams && row->group_scale) {
		int rc = qs_qparams_saver_add(&s->saver, row);
		if (rc)
			return rc;
		qs_qparams_ref(row, ref, sizeof ref);
	}
	qs_csv_write_row(s->csv, row, ref, act);
	s->rows++;
	if (s->progress.on) {
		double part = (double)++s->rows_in_tensor / (double)s->rows_per_tensor;
		qs_cli_progress_update(&s->progress, s->values_done + (part < 1.0 ? part : 1.0) * (double)row->tensor->n,
				       s->tensors_done);
	}
	struct qs_rec_act origin = {act ? act->mode : "static", act && act->eval ? qs_err_rel(act->eval) : NAN};
	int rc = qs_rec_points_add_row(&s->points, row, ref, act ? &origin : NULL);
	if (rc)
		return rc;
	if (ferror(s->csv))
		return qs_error_set(QS_EIO, "write failed while writing sweep.csv");
	return QS_OK;
}

static int write_row(void *ctx, const struct qs_sweep_row *row)
{
	return emit_row(ctx, row, NULL);
}

/* Arrays of types qscope does not read (integers, bool, ...), counted for one note at the end. */
static void count_other_dtype(void *ctx, const char *name, const char *dtype)
{
	(void)name;
	(void)dtype;
	(*(size_t *)ctx)++;
}

static void note_skipped(void *ctx, const char *message)
{
	qs_cli_progress_clear(&((struct sink *)ctx)->progress);
	qs_eprintf("qscope: note: %s; skipped", message);
}

/* Renders the committed charts (OUT/plots/NAME.gp) to PNG; a missing gnuplot is a warning, not a failure. */
static int render_plots(const char *outdir)
{
	char dir[4200], warning[512] = "";
	static const char *const formats[] = {"png"};
	snprintf(dir, sizeof dir, "%s/plots", outdir);
	int rc = qs_plots_prune(dir);
	if (rc == QS_OK)
		rc = qs_plots_render(dir, formats, 1, warning, sizeof warning);
	if (rc == QS_OK && warning[0])
		qs_eprintf("qscope: warning: %s", warning);
	if (rc == QS_OK)
		printf("%s/\tcharts (qscope plot %s re-renders them)\n", dir, outdir);
	return rc;
}

/* "qscope sweep ARG..." for the report (arguments with spaces or quotes single-quoted). */
static void command_line(int argc, char **argv, char *buf, size_t len)
{
	size_t used = (size_t)snprintf(buf, len, "qscope");
	for (int i = 0; i < argc && used < len; i++) {
		bool plain = argv[i][0] && !strpbrk(argv[i], " \t'\"*?$\\");
		used += (size_t)snprintf(buf + used, len - used, plain ? " %s" : " '%s'", argv[i]);
	}
}

/* Gives a tensor or activation (*name, what describes it for the note) a name that no earlier one of the run has,
 * not even as a file name: sweep.csv's rows, the recommendation, qparams/ and the charts are all keyed by it, so two
 * tensors called "w" (d1/w.npy, d2/w.npy), "a/b" and "a_b", or a weight and an activation of the same name, would
 * otherwise be merged or overwrite each other's files. A clash becomes "w#2", "w#3", ..., with a note. */
static int claim_name(struct sink *s, char **name_io, const char *what)
{
	size_t len = strlen(*name_io) + 24;
	char *name = malloc(len), stem[QS_NAME_STEM_MAX + 1];
	int rc = name ? QS_OK : qs_error_set(QS_ENOMEM, "out of memory");
	bool taken = true;
	for (size_t k = 1; rc == QS_OK && taken; k++) {
		snprintf(name, len, k == 1 ? "%s" : "%s#%zu", *name_io, k);
		qs_name_stem(name, stem);
		taken = qs_name_index((const char *const *)s->stems.items, s->stems.n, stem) >= 0;
	}
	if (rc == QS_OK)
		rc = qs_strings_add(&s->stems, stem);
	if (rc == QS_OK && strcmp(name, *name_io) != 0) {
		qs_cli_progress_clear(&s->progress);
		qs_eprintf("qscope: note: %s '%s' is swept as '%s' (an earlier tensor has that name, or one that makes "
			   "the same file name)", what, *name_io, name);
		free(*name_io);
		*name_io = name;
		name = NULL;
	}
	free(name);
	return rc;
}

/* Streams every selected tensor of every input through the sweep. */
static int run_inputs(const struct sweep_opts *o, const struct qs_inputs *in, struct sink *s, size_t *n_tensors)
{
	int rc = QS_OK;
	for (size_t i = 0; i < in->paths.n && rc == QS_OK; i++) {
		struct qs_source *src = NULL;
		rc = qs_source_open(in->paths.items[i], &o->load, &src);
		while (rc == QS_OK) {
			struct qs_tensor *t;
			rc = qs_source_next(src, &t);
			if (rc || !t)
				break;
			if (qs_cli_selected(&o->filter, t->name)) {
				size_t first = s->points.n;
				const struct qs_sweep_spec *spec = qs_sweep_spec_for(o, t->name);
				char what[4200];
				snprintf(what, sizeof what, "'%s': tensor", in->paths.items[i]);
				rc = claim_name(s, &t->name, what);
				if (rc == QS_OK)
					rc = qs_sweep_tensor(spec, t, *n_tensors, write_row, s, note_skipped);
				if (rc == QS_ENONFINITE) /* the data's fault: say which input holds the tensor */
					rc = qs_error_prefix(rc, "'%s': ", in->paths.items[i]);
				if (rc == QS_OK && o->plots)
					rc = qs_chart_data_add(&s->charts, spec, t, &s->points, first, &o->target);
				(*n_tensors)++;
				s->values_done += (double)t->n;
				s->tensors_done++;
				s->rows_in_tensor = 0;
				qs_cli_progress_update(&s->progress, s->values_done, s->tensors_done);
			}
			qs_tensor_free(t);
		}
		if (src)
			qs_source_close(src);
	}
	return rc;
}

/* Streams every selected activation batch set through the sweep (static and/or dynamic). */
/* A batch set's calibration batches, after its static rows: the histogram and per-channel data of the charts. */
static int calibrated_set(void *ctx, const struct qs_sweep_spec *spec, const struct qs_tensor *t)
{
	struct sink *s = ctx;
	return s->chart_target ? qs_chart_data_add(&s->charts, spec, t, &s->points, s->set_first, s->chart_target)
			       : QS_OK;
}

static int run_batch_sets(const struct sweep_opts *o, struct qs_batch_sets *sets, struct sink *s, size_t *n_tensors)
{
	struct qs_act_run run = {.calib_batches = o->calib_batches, .eval_batches = o->eval_batches, .load = &o->load,
				 .emit = emit_row, .calibrated = calibrated_set, .ctx = s, .skipped = note_skipped};
	s->chart_target = o->plots ? &o->target : NULL;
	for (size_t m = 0; m < o->n_modes; m++) {
		run.static_mode |= !o->modes[m];
		run.dynamic_mode |= o->modes[m];
	}
	int rc = QS_OK;
	for (size_t i = 0; i < sets->n && rc == QS_OK; i++) {
		struct qs_batch_set *set = &sets->sets[i];
		if (!qs_cli_selected(&o->filter, set->name))
			continue;
		run.spec = qs_sweep_spec_for(o, set->name);
		s->set_first = s->points.n;
		rc = claim_name(s, &set->name, "activation");
		if (rc == QS_OK)
			rc = qs_cli_sweep_batch_set(&run, set, *n_tensors);
		(*n_tensors)++;
		s->tensors_done++;
		s->rows_in_tensor = 0;
		qs_cli_progress_update(&s->progress, s->values_done, s->tensors_done);
	}
	return rc;
}

int qs_cli_sweep(int argc, char **argv)
{
	struct sweep_opts o = {.load = {.rank = -1}, .target = {QS_TARGET_REL, QS_TARGET_DEFAULT_REL}, .plots = true};
	struct qs_inputs in = {0};
	struct qs_stage *stage = NULL;
	struct sink s = {0};
	char outdir[4096], cmdline[4096];
	struct qs_config cfg = {0};
	struct qs_batch_sets sets = {0};
	struct qs_strings cfg_inputs = {0}, cfg_held = {0};
	command_line(argc, argv, cmdline, sizeof cmdline); /* before getopt permutes argv */
	const char *cfg_path = qs_sweep_find_config(argc, argv);
	int rc = cfg_path ? qs_config_read(cfg_path, &cfg) : QS_OK;
	if (rc == QS_OK && cfg_path)
		rc = qs_sweep_config_apply(&o, &cfg, &cfg_inputs, &cfg_held);
	if (rc == QS_OK)
		rc = qs_sweep_opts_parse(argc, argv, &o);
	int first_input = optind; /* [tensor] sections below parse option vectors of their own */
	if (rc == -1) {
		rc = QS_OK;
		goto out;
	}
	if (rc == QS_OK)
		rc = qs_sweep_opts_defaults(&o);
	if (rc == QS_OK && cfg_path)
		rc = qs_sweep_config_overrides(&o, &cfg);
	if (rc == QS_OK && first_input >= argc && !cfg_inputs.n && !o.n_batch_globs)
		rc = qs_error_set(QS_EUSAGE, "no input files");
	if (rc == QS_OK && (o.calib_batches || o.eval_batches || o.n_modes) && !o.n_batch_globs)
		rc = qs_error_set(QS_EUSAGE, "--calib-batches, --eval-batches and --mode apply to --batches sets");
	if (rc == QS_OK && !o.n_modes)
		o.n_modes = 1; /* static */
	if (rc == QS_OK && first_input < argc)
		rc = qs_cli_inputs(argv + first_input, argc - first_input, &in);
	else if (rc == QS_OK && cfg_inputs.n)
		rc = qs_cli_inputs(cfg_inputs.items, (int)cfg_inputs.n, &in);
	else if (rc == QS_OK)
		snprintf(in.stem, sizeof in.stem, "activations");
	for (size_t i = 0; i < o.n_batch_globs && rc == QS_OK; i++)
		rc = qs_batch_sets_add_glob(&sets, o.batch_globs[i], &o.load);
	if (rc)
		goto out;
	if (o.outdir)
		snprintf(outdir, sizeof outdir, "%s", o.outdir);
	else
		snprintf(outdir, sizeof outdir, "reports/%s", in.stem);
	rc = qs_cli_stage_open(outdir, &stage);
	if (rc == QS_OK)
		rc = qs_stage_fopen(stage, "sweep.csv", &s.csv);
	if (rc)
		goto out;
	s.save_qparams = o.save_qparams;
	s.saver = (struct qs_qparams_saver){.stage = stage, .n_multipliers = o.spec.n_multipliers};
	s.rows_per_tensor = qs_sweep_config_count(&o.spec) * o.spec.n_multipliers;
	qs_cli_progress_start(&s.progress, !o.quiet && isatty(STDERR_FILENO));
	qs_cli_progress_count(&s.progress, &in, &o.load, &o.filter);
	qs_csv_write_header(s.csv);
	size_t n_tensors = 0, n_other = 0;
	o.load.skipped = count_other_dtype;
	o.load.skipped_ctx = &n_other;
	rc = run_inputs(&o, &in, &s, &n_tensors);
	if (rc == QS_OK)
		rc = run_batch_sets(&o, &sets, &s, &n_tensors);
	qs_cli_progress_clear(&s.progress);
	if (n_other)
		fprintf(stderr, "qscope: note: %zu arrays of non-float types skipped (qscope inspect lists them)\n", n_other);
	if (rc == QS_OK && n_tensors == 0 && o.filter_from_config)
		rc = qs_error_set(QS_EFORMAT, "no tensor selected (check the tensor patterns in '%s')", cfg_path);
	else if (rc == QS_OK && n_tensors == 0)
		rc = qs_error_set(QS_EFORMAT, "no tensor selected (check --tensor patterns)");
	int rc_close = qs_stage_fclose(stage, s.csv);
	if (rc == QS_OK)
		rc = rc_close;
	if (rc == QS_OK && o.plots)
		rc = qs_chart_data_write(stage, &s.charts);
	if (rc == QS_OK)
		rc = qs_cli_write_recommendation(stage, &s.points, &o.target, o.plots ? cmdline : NULL, &s.charts);
	if (rc == QS_OK) {
		rc = qs_stage_commit(stage);
		stage = NULL;
	}
	if (rc == QS_OK)
		printf("\n%s/sweep.csv\t%zu rows, %zu tensors\n%s/recommend.csv\n", outdir, s.rows, n_tensors, outdir);
	if (rc == QS_OK && o.plots)
		rc = render_plots(outdir);
out:
	qs_stage_abort(stage);
	qs_qparams_saver_free(&s.saver);
	qs_strings_free(&s.stems);
	qs_rec_points_free(&s.points);
	qs_chart_data_free(&s.charts);
	qs_cli_inputs_free(&in);
	qs_sweep_opts_free(&o);
	qs_strings_free(&cfg_inputs);
	qs_strings_free(&cfg_held);
	qs_config_free(&cfg);
	qs_batch_sets_free(&sets);
	return rc ? qs_cli_fail(rc, "sweep") : 0;
}
