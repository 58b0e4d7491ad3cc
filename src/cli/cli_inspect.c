/* `qscope inspect`: per-tensor statistics as an aligned table or CSV on stdout. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "metrics/stats.h"
#include "output/csv.h"
#include "util/qs_error.h"
#include "util/qs_alloc.h"

static const char inspect_help[] =
	"usage: qscope inspect [options] FILE|FOLDER...\n"
	"\n"
	"Print per-tensor statistics: shape, dtype, n, min, max, mean, std (population), max|x|/std, excess kurtosis,\n"
	"fraction of zeros, NaN and Inf counts, and the spread of per-output-channel max|x| (min/median/max over the\n"
	"indices of the channel axis), and for weights of a model the op consuming them and its output-channel axis.\n"
	"Moments are over the finite values. Arrays qscope does not read (integers, bool, ...) are listed with their\n"
	"stored type and '(skipped)'.\n"
	"\n"
	"      --csv                CSV instead of an aligned table (numbers to 17 significant digits)\n"
	"  -t, --tensor GLOB        only tensors whose name matches (repeatable)\n"
	"      --dtype T            read inputs as raw binaries of f32 | f64 | f16 | bf16\n"
	"      --shape D0,D1,...    shape of raw binaries (default: 1-D)\n"
	"      --big-endian         raw binaries are big-endian\n"
	"  -h, --help               this help\n";

#define N_COLS 18
static const char *const inspect_columns[N_COLS] = {
	"tensor", "shape", "dtype", "n", "min", "max", "mean", "std", "absmax_over_std", "kurtosis", "frac_zero",
	"n_nan", "n_inf", "ch_absmax_min", "ch_absmax_median", "ch_absmax_max", "consumer", "channel_axis",
};

/* Rows kept as text so the table can be aligned once every width is known. The tensor names are kept whole in
 * names (as they are for CSV, escaped with qs_escape for the table), the other cells in cells (cells[i][0] unused). */
struct table {
	char (*cells)[N_COLS][64];
	char **names;
	size_t n, cap, cap_names;
	bool csv;
};

static void fmt_num(char *buf, double v, bool csv)
{
	snprintf(buf, 64, csv ? "%.17g" : "%.5g", v);
}

/* A new row for the tensor `name`, every other cell empty; NULL when out of memory. */
static char (*new_row(struct table *tb, const char *name))[64]
{
	if (!qs_grow(&tb->cells, &tb->cap, tb->n, sizeof *tb->cells, 64) ||
	    !qs_grow(&tb->names, &tb->cap_names, tb->n, sizeof *tb->names, 64))
		return NULL;
	size_t len = tb->csv ? strlen(name) + 1 : 4 * strlen(name) + 1;
	char *copy = malloc(len);
	if (!copy)
		return NULL;
	if (tb->csv)
		memcpy(copy, name, len);
	else
		qs_escape(name, copy, len);
	tb->names[tb->n] = copy;
	char (*r)[64] = tb->cells[tb->n++];
	memset(r, 0, N_COLS * sizeof *r);
	return r;
}

static int add_row(struct table *tb, const struct qs_tensor *t, const struct qs_stats *st)
{
	char (*r)[64] = new_row(tb, t->name);
	if (!r)
		return qs_error_set(QS_ENOMEM, "out of memory");
	bool csv = tb->csv;
	qs_tensor_format_shape(t, r[1], 64);
	snprintf(r[2], 64, "%s", t->dtype);
	snprintf(r[3], 64, "%zu", st->n);
	const double nums[] = {st->min, st->max, st->mean, st->std, st->absmax_over_std, st->kurtosis, st->frac_zero};
	for (int i = 0; i < 7; i++)
		fmt_num(r[4 + i], nums[i], csv);
	snprintf(r[11], 64, "%zu", st->n_nan);
	snprintf(r[12], 64, "%zu", st->n_inf);
	const double ch[] = {st->ch_absmax_min, st->ch_absmax_median, st->ch_absmax_max};
	for (int i = 0; i < 3; i++) {
		if (st->has_channels)
			fmt_num(r[13 + i], ch[i], csv);
		else
			r[13 + i][0] = '\0';
	}
	snprintf(r[16], 64, "%s", t->consumer);
	if (t->channel_axis >= 0)
		snprintf(r[17], 64, "%d", t->channel_axis);
	return QS_OK;
}

/* A container's array that qscope does not read: listed with its stored type, no statistics. */
struct skipped_rows {
	struct table *tb;
	const struct qs_filter *filter;
	bool nomem;
};

static void add_skipped(void *ctx, const char *name, const char *dtype)
{
	struct skipped_rows *s = ctx;
	if (!qs_cli_selected(s->filter, name))
		return;
	char (*r)[64] = new_row(s->tb, name);
	if (!r) {
		s->nomem = true;
		return;
	}
	snprintf(r[2], 64, "%s", dtype);
	snprintf(r[16], 64, "(skipped)");
}

/* Row i's cell in column c (row 0: the header). */
static const char *cell_at(const struct table *tb, size_t i, int c)
{
	return i == 0 ? inspect_columns[c] : c == 0 ? tb->names[i - 1] : tb->cells[i - 1][c];
}

static void print_table(const struct table *tb)
{
	size_t width[N_COLS];
	for (int c = 0; c < N_COLS; c++) {
		width[c] = 0;
		for (size_t i = 0; i <= tb->n; i++) {
			size_t w = qs_text_columns(cell_at(tb, i, c));
			if (w > width[c])
				width[c] = w;
		}
	}
	for (size_t i = 0; i <= tb->n; i++) {
		for (int c = 0; c < N_COLS; c++) {
			const char *cell = cell_at(tb, i, c);
			if (tb->csv) {
				if (c)
					putchar(',');
				qs_csv_write_field(stdout, cell);
			} else {
				/* text columns left-aligned, numbers right-aligned; padded by terminal columns (names may hold UTF-8) */
				int pad = (int)(width[c] - qs_text_columns(cell));
				if (c < 3)
					printf("%s%*s", cell, pad, "");
				else
					printf("%*s%s", pad, "", cell);
				if (c + 1 < N_COLS)
					fputs("  ", stdout);
			}
		}
		putchar('\n');
	}
}

enum { OPT_CSV = 256, OPT_DTYPE, OPT_SHAPE, OPT_BIG_ENDIAN };

static const struct option inspect_long_opts[] = {
	{"csv", no_argument, NULL, OPT_CSV},
	{"tensor", required_argument, NULL, 't'},
	{"dtype", required_argument, NULL, OPT_DTYPE},
	{"shape", required_argument, NULL, OPT_SHAPE},
	{"big-endian", no_argument, NULL, OPT_BIG_ENDIAN},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

int qs_cli_inspect(int argc, char **argv)
{
	struct qs_load_opts load = {.rank = -1};
	struct qs_filter filter = {0};
	struct qs_inputs in = {0};
	struct table tb = {0};
	int rc = QS_OK, c;
	opterr = 0;
	while (rc == QS_OK && (c = getopt_long(argc, argv, ":t:h", inspect_long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_CSV: tb.csv = true; break;
		case 't':
			if (filter.n == sizeof filter.globs / sizeof *filter.globs)
				rc = qs_error_set(QS_EUSAGE, "too many --tensor patterns");
			else
				filter.globs[filter.n++] = optarg;
			break;
		case OPT_DTYPE: load.dtype = optarg; break;
		case OPT_SHAPE: rc = qs_cli_parse_shape(optarg, &load); break;
		case OPT_BIG_ENDIAN: load.big_endian = true; break;
		case 'h': fputs(inspect_help, stdout); return 0;
		case ':': rc = qs_error_set(QS_EUSAGE, "option '%s' needs a value", argv[optind - 1]); break;
		default: rc = qs_error_set(QS_EUSAGE, "unknown option '%s'", argv[optind - 1]); break;
		}
	}
	if (rc == QS_OK && optind >= argc)
		rc = qs_error_set(QS_EUSAGE, "no input files");
	if (rc == QS_OK)
		rc = qs_cli_inputs(argv + optind, argc - optind, &in);
	struct skipped_rows skipped = {&tb, &filter, false};
	load.skipped = add_skipped;
	load.skipped_ctx = &skipped;
	for (size_t i = 0; i < in.paths.n && rc == QS_OK; i++) {
		struct qs_source *src = NULL;
		rc = qs_source_open(in.paths.items[i], &load, &src);
		while (rc == QS_OK) {
			struct qs_tensor *t;
			rc = qs_source_next(src, &t);
			if (rc || !t)
				break;
			struct qs_stats st;
			if (qs_cli_selected(&filter, t->name)) {
				rc = qs_stats_compute(t, &st);
				if (rc == QS_OK)
					rc = add_row(&tb, t, &st);
			}
			qs_tensor_free(t);
		}
		if (src)
			qs_source_close(src);
		if (rc == QS_OK && skipped.nomem)
			rc = qs_error_set(QS_ENOMEM, "out of memory");
	}
	if (rc == QS_OK)
		print_table(&tb);
	for (size_t i = 0; i < tb.n; i++)
		free(tb.names[i]);
	free(tb.names);
	free(tb.cells);
	qs_cli_inputs_free(&in);
	return rc ? qs_cli_fail(rc, "inspect") : 0;
}
