/* `qscope export`: the recommended (or a chosen) point of every tensor of a sweep, written for AIMET/QNN, TensorRT,
 * ONNX Runtime or as qscope's qparams.json + .npy. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "output/export.h"
#include "tensor/groups.h"
#include "util/qs_error.h"

static const char export_help[] =
	"usage: qscope export [options] --to FORMAT[,FORMAT...] OUT\n"
	"\n"
	"Write the quantization parameters of each tensor's recommended setting (as `qscope recommend` picks it from\n"
	"OUT/sweep.csv) for a deployment tool. OUT is a sweep's output folder or its sweep.csv. Per-channel and\n"
	"per-group settings need the per-group scales the sweep saves with --save-qparams.\n"
	"\n"
	"formats (files written into the export folder):\n"
	"  aimet     aimet.encodings        AIMET/QNN encodings 0.6.1: one {bitwidth, dtype, is_symmetric, max, min,\n"
	"                                   offset, scale} per channel; offset = qmin - z, min/max = (qmin/qmax - z)*s\n"
	"  trt       trt_calibration.cache  TensorRT calibration cache (TRT-8601-EntropyCalibration2): per tensor the\n"
	"                                   float32 bits of amax/127 in hex; per-channel settings export the max amax\n"
	"  ort       ort_calibration.json   ONNX Runtime calibration table (write_calibration_table JSON): lowest and\n"
	"                                   highest per tensor (a list per channel for per-channel settings)\n"
	"  qparams   qparams.json           every setting and metric, scales/zero-points (per group: qparams/*.npy)\n"
	"  all       all of the above\n"
	"\n"
	"  -o, --output DIR         export folder (default: OUT/export)\n"
	"      --to FORMATS         formats to write (required)\n"
	"      --target-rel X       recommendation target ||X - X^||/||X|| <= X (default: 0.02)\n"
	"      --target-sqnr DB     recommendation target SQNR >= DB decibels\n"
	"\n"
	"Choose among fewer configurations (the recommendation rule then picks among those that match):\n"
	"  -b, --bits B[,B...]      bit widths\n"
	"  -g, --granularity G,...  tensor, channel[:AXIS], group:G[:AXIS]\n"
	"  -s, --scheme S           sym or asym\n"
	"  -r, --range R            full or narrow\n"
	"      --signed, --unsigned signedness\n"
	"      --calib C[,C...]     calibrators (as in sweep.csv, e.g. minmax, mse, percentile:99.9)\n"
	"      --profile P          default or torch\n"
	"      --rounding R         even, away or stochastic\n"
	"      --pow2=on|off        power-of-two scales or not\n"
	"  -t, --tensor GLOB        export only matching tensors (repeatable)\n"
	"  -h, --help               this help\n";

enum { OPT_CALIB = 299, OPT_TO = 300, OPT_SIGNED, OPT_UNSIGNED, OPT_PROFILE, OPT_ROUNDING, OPT_POW2 };

static const struct option export_long_opts[] = {
	{"output", required_argument, NULL, 'o'},
	{"to", required_argument, NULL, OPT_TO},
	{"target-rel", required_argument, NULL, QS_CLI_OPT_TARGET_REL},
	{"target-sqnr", required_argument, NULL, QS_CLI_OPT_TARGET_SQNR},
	{"bits", required_argument, NULL, 'b'},
	{"granularity", required_argument, NULL, 'g'},
	{"scheme", required_argument, NULL, 's'},
	{"range", required_argument, NULL, 'r'},
	{"signed", no_argument, NULL, OPT_SIGNED},
	{"unsigned", no_argument, NULL, OPT_UNSIGNED},
	{"calib", required_argument, NULL, OPT_CALIB},
	{"profile", required_argument, NULL, OPT_PROFILE},
	{"rounding", required_argument, NULL, OPT_ROUNDING},
	{"pow2", required_argument, NULL, OPT_POW2},
	{"tensor", required_argument, NULL, 't'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

#define MAX_LIST 32

/* A comma list of accepted values for one configuration axis (n = 0: any). */
struct axis_filter {
	char buf[512];
	char *items[MAX_LIST];
	int n;
};

struct export_opts {
	const struct qs_export_format *formats[8];
	size_t n_formats;
	int bits[QS_BITS_MAX + 1];
	size_t n_bits;
	struct axis_filter gran, scheme, range, calib, profile, rounding;
	int want_signed;   /* -1 any, 0 unsigned, 1 signed */
	int want_pow2;     /* -1 any */
	struct qs_filter tensors;
};

/* Splits `arg` into f; each item must be one of `allowed` (NULL-terminated) when given. */
static int parse_axis(const char *arg, const char *what, const char *const *allowed, struct axis_filter *f)
{
	snprintf(f->buf, sizeof f->buf, "%s", arg);
	f->n = qs_cli_split(f->buf, f->items, MAX_LIST);
	if (f->n < 0)
		return qs_error_set(QS_EUSAGE, "bad %s '%s'", what, arg);
	for (int i = 0; allowed && i < f->n; i++) {
		bool ok = false;
		for (const char *const *a = allowed; *a; a++)
			ok |= strcmp(*a, f->items[i]) == 0;
		if (!ok)
			return qs_error_set(QS_EUSAGE, "bad %s '%s'", what, f->items[i]);
	}
	return QS_OK;
}

/* Granularities are compared in canonical form. */
static int parse_gran(const char *arg, struct axis_filter *f)
{
	int rc = parse_axis(arg, "--granularity", NULL, f);
	for (int i = 0; rc == QS_OK && i < f->n; i++) {
		struct qs_granularity g;
		char canon[64];
		if (qs_gran_parse(f->items[i], &g) != QS_OK)
			return qs_error_set(QS_EUSAGE, "bad --granularity '%s'", f->items[i]);
		qs_gran_format(&g, canon, sizeof canon);
		if (strlen(canon) > strlen(f->items[i]))
			return qs_error_set(QS_EUSAGE, "bad --granularity '%s'", f->items[i]);
		strcpy(f->items[i], canon);
	}
	return rc;
}

static int parse_formats(const char *arg, struct export_opts *o)
{
	char buf[256], *items[16];
	snprintf(buf, sizeof buf, "%s", arg);
	int n = qs_cli_split(buf, items, 16);
	if (n < 0)
		return qs_error_set(QS_EUSAGE, "bad --to '%s'", arg);
	o->n_formats = 0;
	for (int i = 0; i < n; i++) {
		if (strcmp(items[i], "all") == 0) {
			for (size_t k = 0; k < qs_export_n_formats; k++)
				o->formats[k] = &qs_export_formats[k];
			o->n_formats = qs_export_n_formats;
			continue;
		}
		const struct qs_export_format *fmt = qs_export_find(items[i]);
		if (!fmt)
			return qs_error_set(QS_EUSAGE, "unknown export format '%s' (aimet, trt, ort, qparams, all)", items[i]);
		bool dup = false;
		for (size_t k = 0; k < o->n_formats; k++)
			dup |= o->formats[k] == fmt;
		if (!dup && o->n_formats < sizeof o->formats / sizeof *o->formats)
			o->formats[o->n_formats++] = fmt;
	}
	return QS_OK;
}

static bool axis_ok(const struct axis_filter *f, const char *v)
{
	for (int i = 0; i < f->n; i++)
		if (strcmp(f->items[i], v) == 0)
			return true;
	return f->n == 0;
}

static bool point_selected(const struct export_opts *o, const struct qs_rec_point *p)
{
	bool bits_ok = o->n_bits == 0;
	for (size_t i = 0; i < o->n_bits; i++)
		bits_ok |= o->bits[i] == p->bits;
	return bits_ok && axis_ok(&o->gran, p->granularity) && axis_ok(&o->scheme, p->scheme) &&
	       axis_ok(&o->range, p->range) && axis_ok(&o->calib, p->calib) && axis_ok(&o->profile, p->profile) &&
	       axis_ok(&o->rounding, p->rounding) && (o->want_signed < 0 || o->want_signed == p->is_signed) &&
	       (o->want_pow2 < 0 || o->want_pow2 == p->pow2) && qs_cli_selected(&o->tensors, p->tensor);
}

/* Keeps the selected points (in place); notes on stderr the tensors left with none. */
static int filter_points(const struct export_opts *o, struct qs_rec_points *pts)
{
	size_t w = 0;
	const char *last_dropped = NULL;
	char **dropped = malloc((pts->n ? pts->n : 1) * sizeof *dropped);
	size_t n_dropped = 0;
	if (!dropped)
		return qs_error_set(QS_ENOMEM, "out of memory selecting points");
	for (size_t i = 0; i < pts->n; i++) {
		struct qs_rec_point *p = &pts->p[i];
		if (point_selected(o, p)) {
			pts->p[w++] = *p;
			continue;
		}
		if (qs_cli_selected(&o->tensors, p->tensor) &&
		    (!last_dropped || strcmp(last_dropped, p->tensor) != 0)) {
			dropped[n_dropped] = p->tensor; /* freed below, after the kept names are known */
			last_dropped = dropped[n_dropped++];
			p->tensor = NULL;
		}
		free(p->tensor);
		free(p->shape);
		free(p->qparams);
	}
	pts->n = w;
	/* a tensor is reported when no kept point carries its name */
	for (size_t d = 0; d < n_dropped && pts->n > 0; d++) {
		bool kept = false, seen = false;
		for (size_t i = 0; i < pts->n && !kept; i++)
			kept = strcmp(pts->p[i].tensor, dropped[d]) == 0;
		for (size_t e = 0; e < d && !seen; e++)
			seen = strcmp(dropped[e], dropped[d]) == 0;
		if (!kept && !seen)
			qs_eprintf("qscope: note: '%s' has no sweep point of the chosen configuration; not exported",
				   dropped[d]);
	}
	for (size_t d = 0; d < n_dropped; d++)
		free(dropped[d]);
	free(dropped);
	if (pts->n == 0)
		return qs_error_set(QS_EINVAL, "no sweep point matches the chosen configuration");
	return QS_OK;
}

/* The chosen point's per-group qparams, from the CSV (per-tensor) or the sweep's saved arrays. */
static int load_tensor(const char *outdir, const struct qs_rec_point *p, struct qs_export_tensor *t)
{
	if (strcmp(p->mode, "dynamic") == 0 || strcmp(p->granularity, "token") == 0)
		return qs_error_set(QS_EINVAL,
				    "'%s': its chosen setting (%s, %s) computes scales at run time: there are no static "
				    "qparams to export (sweep it with --mode static and -g tensor or channel)",
				    p->tensor, p->mode, p->granularity);
	if (qs_export_is_per_tensor(p))
		return qs_export_tensor_from_point(p, t);
	if (!p->qparams[0])
		return qs_error_set(QS_EINVAL,
				    "'%s': the per-group scales of its %s point (%d bits, %s) were not saved; re-run the "
				    "sweep with --save-qparams",
				    p->tensor, p->granularity, p->bits, p->scheme);
	size_t len = strlen(outdir) + strlen(p->qparams) + 2;
	char *stem = malloc(len);
	if (!stem)
		return qs_error_set(QS_ENOMEM, "out of memory exporting qparams");
	snprintf(stem, len, "%s/%s", outdir, p->qparams);
	int rc = qs_export_tensor_load(p, stem, p->qparams_row, t);
	free(stem);
	if (rc == QS_EIO)
		rc = qs_error_suffix(QS_EIO, " (re-run the sweep with --save-qparams)");
	return rc;
}

static bool trt_exact(const struct qs_export_tensor *t)
{
	const struct qs_rec_point *p = t->point;
	return p->bits == 8 && p->is_signed && strcmp(p->scheme, "sym") == 0 && qs_export_is_per_tensor(p);
}

static int run_export(const struct export_opts *o, const char *csv, const char *outdir, const char *dir,
		      const struct qs_target *target)
{
	struct qs_rec_points pts = {0};
	struct qs_recommendation rec = {0};
	struct qs_export_tensor *tensors = NULL;
	struct qs_stage *stage = NULL;
	size_t n = 0;
	int rc = qs_sweep_csv_read(csv, &pts);
	if (rc == QS_OK)
		rc = filter_points(o, &pts);
	if (rc == QS_OK)
		rc = qs_recommend(&pts, target, &rec);
	if (rc == QS_OK && !(tensors = calloc(rec.n_tensors ? rec.n_tensors : 1, sizeof *tensors)))
		rc = qs_error_set(QS_ENOMEM, "out of memory exporting");
	for (size_t i = 0; rc == QS_OK && i < rec.n_configs; i++)
		if (rec.configs[i].recommended && n < rec.n_tensors)
			rc = load_tensor(outdir, rec.configs[i].best, &tensors[n++]);
	/* everything is read and checked before the export folder is touched */
	if (rc == QS_OK)
		rc = qs_cli_stage_open(dir, &stage);
	for (size_t k = 0; rc == QS_OK && k < o->n_formats; k++)
		rc = o->formats[k]->write(stage, o->formats[k]->file, tensors, n);
	if (rc == QS_OK) {
		rc = qs_stage_commit(stage);
		stage = NULL;
	}
	if (rc == QS_OK) {
		size_t approx = 0, grouped = 0;
		bool trt = false;
		for (size_t k = 0; k < o->n_formats; k++) {
			printf("%s/%s\n", dir, o->formats[k]->file);
			trt |= strcmp(o->formats[k]->name, "trt") == 0;
		}
		for (size_t i = 0; i < n; i++) {
			approx += !trt_exact(&tensors[i]);
			grouped += !qs_export_is_per_tensor(tensors[i].point);
		}
		fprintf(stderr, "qscope: exported %zu tensors (%zu per-channel/group)\n", n, grouped);
		if (trt && approx)
			fprintf(stderr, "qscope: note: trt: %zu tensors are not 8-bit symmetric per-tensor settings; their "
					"cache entry is amax/127 of the setting's range (TensorRT quantizes them to int8)\n",
				approx);
	}
	qs_stage_abort(stage);
	for (size_t i = 0; tensors && i < n; i++)
		qs_export_tensor_free(&tensors[i]);
	free(tensors);
	qs_recommendation_free(&rec);
	qs_rec_points_free(&pts);
	return rc;
}

int qs_cli_export(int argc, char **argv)
{
	static const char *const schemes[] = {"sym", "asym", NULL}, *const ranges[] = {"full", "narrow", NULL},
				 *const profiles[] = {"default", "torch", NULL},
				 *const roundings[] = {"even", "away", "stochastic", NULL};
	struct qs_target target = {QS_TARGET_REL, QS_TARGET_DEFAULT_REL};
	struct export_opts o;
	memset(&o, 0, sizeof o);
	o.want_signed = -1;
	o.want_pow2 = -1;
	const char *outopt = NULL;
	int rc = QS_OK, c;
	opterr = 0;
	optind = 1;
	while (rc == QS_OK && (c = getopt_long(argc, argv, ":o:b:g:s:r:t:h", export_long_opts, NULL)) != -1) {
		switch (c) {
		case 'o': outopt = optarg; break;
		case OPT_TO: rc = parse_formats(optarg, &o); break;
		case QS_CLI_OPT_TARGET_REL:
		case QS_CLI_OPT_TARGET_SQNR: rc = qs_cli_parse_target(c, optarg, &target); break;
		case 'b': rc = qs_cli_parse_bits(optarg, o.bits, sizeof o.bits / sizeof *o.bits, &o.n_bits); break;
		case 'g': rc = parse_gran(optarg, &o.gran); break;
		case 's': rc = parse_axis(optarg, "--scheme", schemes, &o.scheme); break;
		case 'r': rc = parse_axis(optarg, "--range", ranges, &o.range); break;
		case OPT_SIGNED: o.want_signed = o.want_signed == 0 ? -1 : 1; break;
		case OPT_UNSIGNED: o.want_signed = o.want_signed == 1 ? -1 : 0; break;
		case OPT_CALIB: rc = parse_axis(optarg, "--calib", NULL, &o.calib); break;
		case OPT_PROFILE: rc = parse_axis(optarg, "--profile", profiles, &o.profile); break;
		case OPT_ROUNDING: rc = parse_axis(optarg, "--rounding", roundings, &o.rounding); break;
		case OPT_POW2:
			if (strcmp(optarg, "on") == 0 || strcmp(optarg, "off") == 0)
				o.want_pow2 = strcmp(optarg, "on") == 0;
			else
				rc = qs_error_set(QS_EUSAGE, "bad --pow2 '%s' (on or off)", optarg);
			break;
		case 't':
			if (o.tensors.n == sizeof o.tensors.globs / sizeof *o.tensors.globs)
				rc = qs_error_set(QS_EUSAGE, "too many --tensor patterns");
			else
				o.tensors.globs[o.tensors.n++] = optarg;
			break;
		case 'h': fputs(export_help, stdout); return 0;
		case ':': rc = qs_error_set(QS_EUSAGE, "option '%s' needs a value", argv[optind - 1]); break;
		default: rc = qs_error_set(QS_EUSAGE, "unknown option '%s'", argv[optind - 1]); break;
		}
	}
	if (rc == QS_OK && o.n_formats == 0)
		rc = qs_error_set(QS_EUSAGE, "--to FORMAT is required (aimet, trt, ort, qparams, all)");
	if (rc == QS_OK && optind != argc - 1)
		rc = qs_error_set(QS_EUSAGE, "expected exactly one sweep folder (or its sweep.csv)");
	if (rc)
		return qs_cli_fail(rc, "export");

	/* OUT/ or OUT/sweep.csv */
	const char *arg = argv[optind];
	char outdir[4096], csv[4200], dir[4200];
	struct stat sb;
	if (stat(arg, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		snprintf(outdir, sizeof outdir, "%s", arg);
		size_t l = strlen(outdir);
		while (l > 1 && outdir[l - 1] == '/')
			outdir[--l] = '\0';
		snprintf(csv, sizeof csv, "%s/sweep.csv", outdir);
	} else {
		snprintf(csv, sizeof csv, "%s", arg);
		snprintf(outdir, sizeof outdir, "%s", arg);
		char *slash = strrchr(outdir, '/');
		if (slash)
			*slash = '\0';
		else
			snprintf(outdir, sizeof outdir, ".");
	}
	snprintf(dir, sizeof dir, "%s", outopt ? outopt : "");
	if (!outopt)
		snprintf(dir, sizeof dir, "%s/export", outdir);
	rc = run_export(&o, csv, outdir, dir, &target);
	return rc ? qs_cli_fail(rc, "export") : 0;
}
