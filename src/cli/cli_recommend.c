/* `qscope recommend` and the recommendation step shared with `qscope sweep`: recommend.csv + model summary. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "output/plots.h"
#include "output/recommend_csv.h"
#include "output/report.h"
#include "util/qs_error.h"

static const char recommend_help[] =
	"usage: qscope recommend [options] SWEEP.csv\n"
	"\n"
	"Recompute recommendations from an existing sweep.csv (no re-sweep): per tensor and configuration the best\n"
	"calibrator and multiplier by rel, and per tensor the configuration with the fewest effective bits per\n"
	"value that meets the target (ties: coarser granularity). Writes OUT/recommend.csv and prints a summary.\n"
	"\n"
	"  -o, --output DIR         output folder (default: the folder of SWEEP.csv)\n"
	"      --target-rel X       target ||X - X^||/||X|| <= X (default: 0.02)\n"
	"      --target-sqnr DB     target SQNR >= DB decibels (instead of --target-rel)\n"
	"  -h, --help               this help\n";

int qs_cli_parse_target(int opt, const char *arg, struct qs_target *t)
{
	char *end;
	double v = strtod(arg, &end);
	if (end == arg || *end || !isfinite(v) || (opt == QS_CLI_OPT_TARGET_REL && !(v > 0.0)))
		return qs_error_set(QS_EUSAGE, "bad %s '%s'", opt == QS_CLI_OPT_TARGET_REL ? "--target-rel" : "--target-sqnr",
				    arg);
	t->kind = opt == QS_CLI_OPT_TARGET_REL ? QS_TARGET_REL : QS_TARGET_SQNR;
	t->value = v;
	return QS_OK;
}

static int cmp_worst(const void *a, const void *b)
{
	const struct qs_rec_config *x = *(const struct qs_rec_config *const *)a;
	const struct qs_rec_config *y = *(const struct qs_rec_config *const *)b;
	return (x->best->rel < y->best->rel) - (x->best->rel > y->best->rel);
}

/* Model summary on stdout: totals and the tensors ranked by error at their recommended setting. */
static void print_summary(const struct qs_recommendation *rec, const struct qs_target *target)
{
	const struct qs_rec_config **chosen = malloc((rec->n_tensors ? rec->n_tensors : 1) * sizeof *chosen);
	if (!chosen)
		return;
	size_t k = 0;
	for (size_t i = 0; i < rec->n_configs; i++)
		if (rec->configs[i].recommended)
			chosen[k++] = &rec->configs[i];
	qsort(chosen, k, sizeof *chosen, cmp_worst);
	printf("\nrecommended settings (target %s %g): %zu tensors, %zu values, %.3f effective bits per value, "
	       "%.1f KiB; %zu tensors miss the target\n",
	       target->kind == QS_TARGET_REL ? "rel <=" : "sqnr_db >=", target->value, rec->n_tensors,
	       rec->total_values, rec->total_values ? rec->total_bits / (double)rec->total_values : 0.0,
	       rec->total_bits / 8.0 / 1024.0, rec->n_unmet);
	printf("%-4s  %-32s  %4s  %-12s  %-5s  %-10s  %10s  %8s  %8s  %-5s  %s\n", "rank", "tensor", "bits",
	       "granularity", "sch", "calib", "multiplier", "rel", "sqnr_db", "error", "target");
	for (size_t i = 0; i < k && i < 15; i++) {
		const struct qs_rec_point *p = chosen[i]->best;
		char name[5 * 32 + 1]; /* the column: 32 terminal columns */
		printf("%-4zu  %s  %4d  %-12.12s  %-5s  %-10.10s  %10.4g  %8.4g  %8.2f  %-5s  %s\n", i + 1,
		       qs_escape_cell(p->tensor, 32, name, sizeof name), p->bits, p->granularity, p->scheme, p->calib,
		       p->multiplier, p->rel, p->sqnr_db, qs_rec_dominant(p), chosen[i]->meets_target ? "met" : "MISSED");
	}
	if (k > 15)
		printf("... %zu more in recommend.csv\n", k - 15);
	free(chosen);
}

/* Activations with evaluation batches: the recommended static setting's error on the calibration batches beside
 * its error on the unseen ones, and the best dynamic setting of the same bits and granularity on those. */
static void print_evaluation(const struct qs_recommendation *rec)
{
	bool header = false;
	for (size_t t = 0; t < rec->n_tensors; t++) {
		const struct qs_rec_tensor *rt = &rec->tensors[t];
		const struct qs_rec_point *p = rt->chosen ? rt->chosen->best : NULL;
		if (!p || isnan(p->eval_rel) || strcmp(p->mode, "static") != 0)
			continue;
		const struct qs_rec_point *dyn = qs_rec_best_dynamic(rt->cfgs, rt->n_cfgs, p);
		if (!header) {
			printf("\nstatic scales on unseen batches (recommended setting; rel on the calibration batches, then on "
			       "the evaluation batches)\n%-32s  %4s  %-12s  %-10s  %10s  %10s  %12s\n", "tensor", "bits",
			       "granularity", "calib", "rel_calib", "rel_eval", "dynamic_eval");
			header = true;
		}
		char name[5 * 32 + 1];
		printf("%s  %4d  %-12.12s  %-10.10s  %10.4g  %10.4g  ", qs_escape_cell(p->tensor, 32, name, sizeof name),
		       p->bits, p->granularity, p->calib, p->rel, p->eval_rel);
		if (dyn)
			printf("%12.4g\n", dyn->eval_rel);
		else
			printf("%12s\n", "-");
	}
}

int qs_cli_write_recommendation(struct qs_stage *stage, struct qs_rec_points *pts, const struct qs_target *target,
				const char *run_config, const struct qs_chart_data *charts)
{
	struct qs_recommendation rec;
	int rc = qs_recommend(pts, target, &rec);
	if (rc)
		return rc;
	FILE *f;
	rc = qs_stage_fopen(stage, "recommend.csv", &f);
	if (rc == QS_OK) {
		qs_recommend_csv_write(f, &rec);
		rc = qs_stage_fclose(stage, f);
	}
	if (rc == QS_OK && run_config)
		rc = qs_plots_write(stage, pts, &rec, charts);
	if (rc == QS_OK && run_config)
		rc = qs_report_write(stage, pts, &rec, target, run_config, charts);
	if (rc == QS_OK) {
		print_summary(&rec, target);
		print_evaluation(&rec);
	}
	qs_recommendation_free(&rec);
	return rc;
}

static const struct option recommend_long_opts[] = {
	{"output", required_argument, NULL, 'o'},
	{"target-rel", required_argument, NULL, QS_CLI_OPT_TARGET_REL},
	{"target-sqnr", required_argument, NULL, QS_CLI_OPT_TARGET_SQNR},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

int qs_cli_recommend(int argc, char **argv)
{
	struct qs_target target = {QS_TARGET_REL, QS_TARGET_DEFAULT_REL};
	struct qs_rec_points pts = {0};
	struct qs_stage *stage = NULL;
	const char *outdir = NULL;
	char dir[4096];
	int rc = QS_OK, c;
	opterr = 0;
	while (rc == QS_OK && (c = getopt_long(argc, argv, ":o:h", recommend_long_opts, NULL)) != -1) {
		switch (c) {
		case 'o': outdir = optarg; break;
		case QS_CLI_OPT_TARGET_REL:
		case QS_CLI_OPT_TARGET_SQNR: rc = qs_cli_parse_target(c, optarg, &target); break;
		case 'h': fputs(recommend_help, stdout); return 0;
		case ':': rc = qs_error_set(QS_EUSAGE, "option '%s' needs a value", argv[optind - 1]); break;
		default: rc = qs_error_set(QS_EUSAGE, "unknown option '%s'", argv[optind - 1]); break;
		}
	}
	if (rc == QS_OK && optind != argc - 1)
		rc = qs_error_set(QS_EUSAGE, "expected exactly one sweep CSV");
	if (rc == QS_OK)
		rc = qs_sweep_csv_read(argv[optind], &pts);
	if (rc == QS_OK) {
		snprintf(dir, sizeof dir, "%s", outdir ? outdir : argv[optind]);
		if (!outdir) {
			char *slash = strrchr(dir, '/');
			if (slash)
				*slash = '\0';
			else
				snprintf(dir, sizeof dir, ".");
		}
		rc = qs_cli_stage_open(dir, &stage);
	}
	if (rc == QS_OK)
		rc = qs_cli_write_recommendation(stage, &pts, &target, NULL, NULL);
	if (rc == QS_OK) {
		rc = qs_stage_commit(stage);
		stage = NULL;
	}
	if (rc == QS_OK)
		printf("%s/recommend.csv\n", dir);
	qs_stage_abort(stage);
	qs_rec_points_free(&pts);
	return rc ? qs_cli_fail(rc, "recommend") : 0;
}
