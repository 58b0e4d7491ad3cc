/* `qscope plot OUT/`: the charts of a sweep folder, rewritten from OUT/sweep.csv and rendered with gnuplot. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "output/chart_data.h"
#include "output/plots.h"
#include "util/qs_error.h"

static const char plot_help[] =
	"usage: qscope plot [options] OUT\n"
	"\n"
	"Rewrite the charts of a sweep folder from OUT/sweep.csv (and OUT/histogram.csv, clip_lines.csv, channels.csv):\n"
	"gnuplot data and scripts (OUT/plots/*.dat, *.gp, replacing older ones), then render them when gnuplot is on\n"
	"PATH. Prints the chart files written.\n"
	"Per tensor: error vs multiplier (one panel per bit width), error vs bits, Pareto (error vs effective bits),\n"
	"histogram of the values with the clip ranges, max|x| and error per channel (the last two as measured by the\n"
	"sweep, for its recommendation); per model: tensors ranked by error, SQNR per tensor.\n"
	"Re-render one chart by hand inside OUT/plots with\n"
	"  gnuplot -e \"fmt='svg'\" NAME.gp\n"
	"\n"
	"  -f, --format LIST        chart formats: png, svg, pdf (default: png)\n"
	"      --target-rel X       recommendation target ||X - X^||/||X|| <= X (default: 0.02)\n"
	"      --target-sqnr DB     recommendation target SQNR >= DB decibels (instead of --target-rel)\n"
	"  -h, --help               this help\n";

static const struct option plot_long_opts[] = {
	{"format", required_argument, NULL, 'f'},
	{"target-rel", required_argument, NULL, QS_CLI_OPT_TARGET_REL},
	{"target-sqnr", required_argument, NULL, QS_CLI_OPT_TARGET_SQNR},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* "png,svg" -> distinct known formats. */
static int parse_formats(const char *arg, const char **formats, size_t *n)
{
	static const char *const known[] = {"png", "svg", "pdf"};
	char buf[64], *items[8];
	int k = strlen(arg) < sizeof buf ? (snprintf(buf, sizeof buf, "%s", arg), qs_cli_split(buf, items, 8)) : -1;
	if (k <= 0)
		return qs_error_set(QS_EUSAGE, "bad --format '%s' (a list of png, svg, pdf)", arg);
	*n = 0;
	for (int i = 0; i < k; i++) {
		size_t j = 0;
		while (j < 3 && strcmp(items[i], known[j]))
			j++;
		if (j == 3)
			return qs_error_set(QS_EUSAGE, "unknown chart format '%s' (png, svg or pdf)", items[i]);
		bool dup = false;
		for (size_t q = 0; q < *n; q++)
			dup |= formats[q] == known[j];
		if (!dup)
			formats[(*n)++] = known[j];
	}
	return QS_OK;
}

/* Prints OUT/plots/STEM.EXT for every chart of the manifest that exists. */
static void print_charts(const char *plots_dir, const char *const *exts, size_t n_exts)
{
	char **stems;
	size_t n;
	if (qs_plots_stems(plots_dir, &stems, &n))
		return;
	char path[4096];
	for (size_t i = 0; i < n; i++)
		for (size_t f = 0; f < n_exts; f++) {
			snprintf(path, sizeof path, "%s/%s.%s", plots_dir, stems[i], exts[f]);
			if (access(path, F_OK) == 0)
				puts(path);
		}
	qs_plots_stems_free(stems, n);
}

int qs_cli_plot(int argc, char **argv)
{
	struct qs_target target = {QS_TARGET_REL, QS_TARGET_DEFAULT_REL};
	struct qs_rec_points pts = {0};
	struct qs_recommendation rec = {0};
	struct qs_chart_data charts = {0};
	struct qs_stage *stage = NULL;
	const char *formats[3] = {"png"};
	size_t n_formats = 1;
	char path[4096], plots_dir[4096], warning[512];
	int rc = QS_OK, c;
	opterr = 0;
	while (rc == QS_OK && (c = getopt_long(argc, argv, ":f:h", plot_long_opts, NULL)) != -1) {
		switch (c) {
		case 'f': rc = parse_formats(optarg, formats, &n_formats); break;
		case QS_CLI_OPT_TARGET_REL:
		case QS_CLI_OPT_TARGET_SQNR: rc = qs_cli_parse_target(c, optarg, &target); break;
		case 'h': fputs(plot_help, stdout); return 0;
		case ':': rc = qs_error_set(QS_EUSAGE, "option '%s' needs a value", argv[optind - 1]); break;
		default: rc = qs_error_set(QS_EUSAGE, "unknown option '%s'", argv[optind - 1]); break;
		}
	}
	if (rc == QS_OK && optind != argc - 1)
		rc = qs_error_set(QS_EUSAGE, "expected exactly one sweep folder");
	if (rc == QS_OK) {
		const char *out = argv[optind];
		size_t len = strlen(out);
		while (len > 1 && out[len - 1] == '/')
			len--;
		snprintf(path, sizeof path, "%.*s/sweep.csv", (int)len, out);
		snprintf(plots_dir, sizeof plots_dir, "%.*s/plots", (int)len, out);
		rc = qs_sweep_csv_read(path, &pts);
		if (rc == QS_OK && pts.n == 0)
			rc = qs_error_set(QS_EFORMAT, "'%s': no sweep rows", path);
		if (rc == QS_OK)
			rc = qs_recommend(&pts, &target, &rec);
		snprintf(path, sizeof path, "%.*s", (int)len, out);
		if (rc == QS_OK)
			rc = qs_chart_data_read(path, &charts);
		if (rc == QS_OK) {
			rc = qs_cli_stage_open(path, &stage);
		}
	}
	if (rc == QS_OK)
		rc = qs_plots_write(stage, &pts, &rec, &charts);
	if (rc == QS_OK) {
		rc = qs_stage_commit(stage);
		stage = NULL;
		if (rc == QS_OK)
			rc = qs_plots_prune(plots_dir);
	}
	if (rc == QS_OK) {
		rc = qs_plots_render(plots_dir, formats, n_formats, warning, sizeof warning);
		if (rc == QS_OK && warning[0]) {
			qs_eprintf("qscope: %s", warning);
			static const char *const gp_ext[] = {"gp"};
			print_charts(plots_dir, gp_ext, 1);
		} else {
			print_charts(plots_dir, formats, n_formats);
		}
	}
	qs_stage_abort(stage);
	qs_recommendation_free(&rec);
	qs_chart_data_free(&charts);
	qs_rec_points_free(&pts);
	return rc ? qs_cli_fail(rc, "plot") : 0;
}
