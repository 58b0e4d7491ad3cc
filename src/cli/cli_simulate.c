/* `qscope simulate`: one layer (Linear/Conv2d) or a small INI-described network run in float and quantized; the
 * output error of every weight × activation setting asked for, to OUT/simulate.csv or OUT/network.csv. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "output/csv.h"
#include "output/npy_write.h"
#include "output/stage.h"
#include "simulate/sim_net.h"
#include "simulate/sim_run.h"
#include "util/qs_error.h"
#include "util/qs_names.h"

#define MAX_AXIS 32
#define MAX_INPUTS 64

static const char simulate_help[] =
	"usage: qscope simulate --op linear|conv2d --weight W [--bias B] --input X [options]\n"
	"       qscope simulate --network NET.ini [--input X]... [options]\n"
	"\n"
	"Runs a layer (Y = X·W^T + b, or a 2-D convolution over NCHW input) or a sequential network in float and with\n"
	"quantized weights, input activations and optionally outputs, and reports how far the output moves: rel,\n"
	"SQNR, max_abs, cosine similarity, and for a layer the share of weights alone and activations alone. Lists of\n"
	"values (comma-separated) sweep every combination; one CSV row each (network: one per layer).\n"
	"\n"
	"  -o, --output DIR         output folder (default: reports/simulate_<weight or network stem>/)\n"
	"layer:\n"
	"      --op OP              linear | conv2d\n"
	"      --weight FILE        linear [out, in]; conv2d [out, in/groups, kh, kw] (the file's first tensor)\n"
	"      --bias FILE          [out] (optional)\n"
	"      --input FILE         linear [..., in]; conv2d [N, C, H, W]. Network: one batch per --input\n"
	"                           (repeatable; default: the config's [network] input entries)\n"
	"      --stride S[,S]  --padding P[,P]  --dilation D[,D]  --groups G   conv2d geometry (default 1, 0, 1, 1)\n"
	"network:\n"
	"      --network FILE       INI file, one [section] per layer in order (see configs/lenet.ini)\n"
	"      --layers KIND        quantize all | linear | conv2d layers (default: all)\n"
	"weights (as in qscope sweep):\n"
	"  -b, --bits LIST          2..16, ranges allowed (default: 8)\n"
	"  -g, --granularity LIST   tensor | channel[:AXIS] | group:G[:AXIS] (default: channel)\n"
	"  -s, --scheme LIST        sym | asym (default: sym)\n"
	"  -r, --range LIST         full | narrow (default: full)\n"
	"      --calib LIST         calibrators (default: minmax; available: %s)\n"
	"  -m, --multipliers SPEC   clip-range multipliers, START:STOP:COUNT or a list (default: 1)\n"
	"      --float-weights      keep the weights float\n"
	"input activations:\n"
	"      --act MODE           none | static (calibrated once on the inputs) | dynamic (from each batch's own\n"
	"                           values, as PyTorch quantize_dynamic) (default: none)\n"
	"      --act-bits LIST      (default: 8)\n"
	"      --act-granularity LIST  tensor | channel[:AXIS] | group:G[:AXIS]; channel:0 = per token/sample\n"
	"                           (default: tensor)\n"
	"      --act-scheme LIST    sym | asym (default: asym)\n"
	"      --act-range LIST     full | narrow (default: full)\n"
	"      --act-unsigned       unsigned activation integers (PyTorch quint8) (default: signed)\n"
	"      --act-calib LIST     (default: minmax)\n"
	"      --act-multipliers SPEC  (default: 1)\n"
	"      --batch N            dynamic: N indices of the input's axis 0 per batch (default: the whole input)\n"
	"outputs:\n"
	"      --out-bits B         quantize every simulated output too (calibrated on the float output; default: off)\n"
	"      --out-scheme S       sym | asym (default: asym)\n"
	"      --out-calib C        (default: minmax)\n"
	"all quantizers:\n"
	"      --profile P          default | torch (torch.ao MinMaxObserver qparams) (default: default)\n"
	"      --rounding R         even | away | stochastic (default: even)\n"
	"      --seed N             stochastic rounding seed (default: 0)\n"
	"      --pow2               power-of-two scales\n"
	"integer pipeline:\n"
	"      --integer            b-bit × b-bit products summed in an integer accumulator, then dequantized\n"
	"      --acc-bits N         accumulator width %d..%d (default: 32)\n"
	"      --overflow MODE      count (wrap around, count outputs) | error (default: count)\n"
	"      --target-rel X       layer: recommend the fewest effective bits whose output rel <= X (default: 0.02)\n"
	"      --target-sqnr DB     layer: ... whose output SQNR >= DB decibels (instead of --target-rel)\n"
	"      --save-outputs       write the first setting's float and simulated outputs as .npy\n"
	"  -q, --quiet              no summary on stdout\n"
	"  -h, --help               this help\n"
	"\n"
	"Exit status: 0 ok, 1 data or I/O error, 2 usage error. Nothing is written unless the whole run succeeds.\n";

/* The lists of one quantizer's axes. */
struct axes {
	int bits[QS_BITS_MAX + 1];
	size_t n_bits;
	struct qs_granularity grans[MAX_AXIS];
	size_t n_grans;
	bool asym[2];
	size_t n_asym;
	bool narrow[2];
	size_t n_narrow;
	struct qs_calib calibs[MAX_AXIS];
	size_t n_calibs;
	double *mults;
	size_t n_mults;
	bool is_signed;
};

struct sim_opts {
	enum qs_sim_op op;
	bool have_op, float_weights, save_outputs, quiet, integer, pow2;
	const char *weight, *bias, *network, *outdir;
	const char *inputs[MAX_INPUTS];
	size_t n_inputs;
	size_t stride[2], padding[2], dilation[2], groups;
	struct axes w, a;
	enum qs_sim_act_mode act_mode;
	unsigned long batch;
	int out_bits;
	bool out_asym;
	struct qs_calib out_calib;
	enum qs_profile profile;
	enum qs_rounding rounding;
	unsigned long seed;
	struct qs_sim_int_spec int_spec;
	unsigned quant_mask;
	struct qs_target target;
};

enum {
	OPT_OP = 256, OPT_WEIGHT, OPT_BIAS, OPT_INPUT, OPT_STRIDE, OPT_PADDING, OPT_DILATION, OPT_GROUPS, OPT_NETWORK,
	OPT_LAYERS, OPT_CALIB, OPT_FLOAT_WEIGHTS, OPT_ACT, OPT_ACT_BITS, OPT_ACT_GRAN, OPT_ACT_SCHEME, OPT_ACT_RANGE,
	OPT_ACT_UNSIGNED, OPT_ACT_CALIB, OPT_ACT_MULT, OPT_BATCH, OPT_OUT_BITS, OPT_OUT_SCHEME, OPT_OUT_CALIB,
	OPT_PROFILE, OPT_ROUNDING, OPT_SEED, OPT_POW2, OPT_INTEGER, OPT_ACC_BITS, OPT_OVERFLOW, OPT_SAVE_OUTPUTS,
};

static const struct option long_opts[] = {
	{"output", required_argument, NULL, 'o'},
	{"op", required_argument, NULL, OPT_OP},
	{"weight", required_argument, NULL, OPT_WEIGHT},
	{"bias", required_argument, NULL, OPT_BIAS},
	{"input", required_argument, NULL, OPT_INPUT},
	{"stride", required_argument, NULL, OPT_STRIDE},
	{"padding", required_argument, NULL, OPT_PADDING},
	{"dilation", required_argument, NULL, OPT_DILATION},
	{"groups", required_argument, NULL, OPT_GROUPS},
	{"network", required_argument, NULL, OPT_NETWORK},
	{"layers", required_argument, NULL, OPT_LAYERS},
	{"bits", required_argument, NULL, 'b'},
	{"granularity", required_argument, NULL, 'g'},
	{"scheme", required_argument, NULL, 's'},
	{"range", required_argument, NULL, 'r'},
	{"calib", required_argument, NULL, OPT_CALIB},
	{"multipliers", required_argument, NULL, 'm'},
	{"float-weights", no_argument, NULL, OPT_FLOAT_WEIGHTS},
	{"act", required_argument, NULL, OPT_ACT},
	{"act-bits", required_argument, NULL, OPT_ACT_BITS},
	{"act-granularity", required_argument, NULL, OPT_ACT_GRAN},
	{"act-scheme", required_argument, NULL, OPT_ACT_SCHEME},
	{"act-range", required_argument, NULL, OPT_ACT_RANGE},
	{"act-unsigned", no_argument, NULL, OPT_ACT_UNSIGNED},
	{"act-calib", required_argument, NULL, OPT_ACT_CALIB},
	{"act-multipliers", required_argument, NULL, OPT_ACT_MULT},
	{"batch", required_argument, NULL, OPT_BATCH},
	{"out-bits", required_argument, NULL, OPT_OUT_BITS},
	{"out-scheme", required_argument, NULL, OPT_OUT_SCHEME},
	{"out-calib", required_argument, NULL, OPT_OUT_CALIB},
	{"profile", required_argument, NULL, OPT_PROFILE},
	{"rounding", required_argument, NULL, OPT_ROUNDING},
	{"seed", required_argument, NULL, OPT_SEED},
	{"pow2", no_argument, NULL, OPT_POW2},
	{"integer", no_argument, NULL, OPT_INTEGER},
	{"acc-bits", required_argument, NULL, OPT_ACC_BITS},
	{"overflow", required_argument, NULL, OPT_OVERFLOW},
	{"save-outputs", no_argument, NULL, OPT_SAVE_OUTPUTS},
	{"target-rel", required_argument, NULL, QS_CLI_OPT_TARGET_REL},
	{"target-sqnr", required_argument, NULL, QS_CLI_OPT_TARGET_SQNR},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* ---- option values ------------------------------------------------------------------------------------------ */

/* "2" or "2,1" (each >= min) */
static int parse_hw(const char *s, const char *what, size_t min, size_t out[2])
{
	char buf[64], *items[3];
	snprintf(buf, sizeof buf, "%s", s);
	int count = strlen(s) < sizeof buf ? qs_cli_split(buf, items, 2) : -1;
	unsigned long v[2] = {0, 0};
	for (int i = 0; i < count; i++)
		if (qs_cli_parse_ulong(items[i], what, &v[i]) != QS_OK || v[i] < min || v[i] > 1000000)
			count = -1;
	if (count < 0)
		return qs_error_set(QS_EUSAGE, "bad %s '%s' (one value, or height,width; at least %zu)", what, s, min);
	out[0] = v[0];
	out[1] = count == 2 ? v[1] : v[0];
	return QS_OK;
}

static int parse_mode(const char *s, enum qs_sim_act_mode *out)
{
	static const char *const names[] = {"none", "static", "dynamic"};
	int i = qs_name_index(names, sizeof names / sizeof *names, s);
	if (i < 0)
		return qs_error_set(QS_EUSAGE, "bad --act '%s' (use none, static or dynamic)", s);
	*out = (enum qs_sim_act_mode)i;
	return QS_OK;
}

static int parse_layers(const char *s, unsigned *mask)
{
	if (strcmp(s, "all") == 0)
		*mask = QS_NET_QUANT_ALL;
	else if (strcmp(s, "linear") == 0)
		*mask = 1u << QS_NET_LINEAR;
	else if (strcmp(s, "conv2d") == 0)
		*mask = 1u << QS_NET_CONV2D;
	else
		return qs_error_set(QS_EUSAGE, "bad --layers '%s' (use all, linear or conv2d)", s);
	return QS_OK;
}

static int parse_int_range(const char *s, const char *what, long lo, long hi, int *out)
{
	unsigned long v;
	if (qs_cli_parse_ulong(s, what, &v) != QS_OK || (long)v < lo || (long)v > hi)
		return qs_error_set(QS_EUSAGE, "bad %s '%s' (%ld to %ld)", what, s, lo, hi);
	*out = (int)v;
	return QS_OK;
}

static int parse_option(int c, const char *arg, struct sim_opts *o)
{
	switch (c) {
	case 'o': o->outdir = arg; return QS_OK;
	case OPT_OP: o->have_op = true; return qs_sim_op_parse(arg, &o->op);
	case OPT_WEIGHT: o->weight = arg; return QS_OK;
	case OPT_BIAS: o->bias = arg; return QS_OK;
	case OPT_INPUT:
		if (o->n_inputs == MAX_INPUTS)
			return qs_error_set(QS_EUSAGE, "too many --input files (at most %d)", MAX_INPUTS);
		o->inputs[o->n_inputs++] = arg;
		return QS_OK;
	case OPT_STRIDE: return parse_hw(arg, "--stride", 1, o->stride);
	case OPT_PADDING: return parse_hw(arg, "--padding", 0, o->padding);
	case OPT_DILATION: return parse_hw(arg, "--dilation", 1, o->dilation);
	case OPT_GROUPS: {
		unsigned long g;
		int rc = qs_cli_parse_ulong(arg, "--groups", &g);
		if (rc == QS_OK && (g == 0 || g > 1000000))
			rc = qs_error_set(QS_EUSAGE, "bad --groups '%s' (at least 1)", arg);
		o->groups = g;
		return rc;
	}
	case OPT_NETWORK: o->network = arg; return QS_OK;
	case OPT_LAYERS: return parse_layers(arg, &o->quant_mask);
	case 'b': return qs_cli_parse_bits(arg, o->w.bits, QS_BITS_MAX + 1, &o->w.n_bits);
	case 'g':
		return qs_cli_parse_list(arg, "--granularity", o->w.grans, sizeof *o->w.grans, MAX_AXIS, &o->w.n_grans,
					 qs_cli_one_gran);
	case 's': return qs_cli_parse_pair(arg, "--scheme", "sym", "asym", o->w.asym, &o->w.n_asym);
	case 'r': return qs_cli_parse_pair(arg, "--range", "full", "narrow", o->w.narrow, &o->w.n_narrow);
	case OPT_CALIB:
		return qs_cli_parse_list(arg, "--calib", o->w.calibs, sizeof *o->w.calibs, MAX_AXIS, &o->w.n_calibs,
					 qs_cli_one_calib);
	case 'm': free(o->w.mults); return qs_cli_parse_multipliers(arg, &o->w.mults, &o->w.n_mults);
	case OPT_FLOAT_WEIGHTS: o->float_weights = true; return QS_OK;
	case OPT_ACT: return parse_mode(arg, &o->act_mode);
	case OPT_ACT_BITS: return qs_cli_parse_bits(arg, o->a.bits, QS_BITS_MAX + 1, &o->a.n_bits);
	case OPT_ACT_GRAN:
		return qs_cli_parse_list(arg, "--act-granularity", o->a.grans, sizeof *o->a.grans, MAX_AXIS, &o->a.n_grans,
					 qs_cli_one_gran);
	case OPT_ACT_SCHEME: return qs_cli_parse_pair(arg, "--act-scheme", "sym", "asym", o->a.asym, &o->a.n_asym);
	case OPT_ACT_RANGE: return qs_cli_parse_pair(arg, "--act-range", "full", "narrow", o->a.narrow, &o->a.n_narrow);
	case OPT_ACT_UNSIGNED: o->a.is_signed = false; return QS_OK;
	case OPT_ACT_CALIB:
		return qs_cli_parse_list(arg, "--act-calib", o->a.calibs, sizeof *o->a.calibs, MAX_AXIS, &o->a.n_calibs,
					 qs_cli_one_calib);
	case OPT_ACT_MULT: free(o->a.mults); return qs_cli_parse_multipliers(arg, &o->a.mults, &o->a.n_mults);
	case OPT_BATCH: {
		int rc = qs_cli_parse_ulong(arg, "--batch", &o->batch);
		if (rc == QS_OK && o->batch == 0)
			rc = qs_error_set(QS_EUSAGE, "bad --batch '%s' (at least 1)", arg);
		return rc;
	}
	case OPT_OUT_BITS: return parse_int_range(arg, "--out-bits", QS_BITS_MIN, QS_BITS_MAX, &o->out_bits);
	case OPT_OUT_SCHEME: {
		bool v[2];
		size_t n;
		int rc = qs_cli_parse_pair(arg, "--out-scheme", "sym", "asym", v, &n);
		if (rc == QS_OK && n != 1)
			rc = qs_error_set(QS_EUSAGE, "bad --out-scheme '%s' (one of sym, asym)", arg);
		o->out_asym = v[0];
		return rc;
	}
	case OPT_OUT_CALIB: return qs_calib_parse(arg, &o->out_calib);
	case OPT_PROFILE: return qs_profile_parse(arg, &o->profile);
	case OPT_ROUNDING: return qs_rounding_parse(arg, &o->rounding);
	case OPT_SEED: return qs_cli_parse_ulong(arg, "--seed", &o->seed);
	case OPT_POW2: o->pow2 = true; return QS_OK;
	case OPT_INTEGER: o->integer = true; return QS_OK;
	case OPT_ACC_BITS:
		return parse_int_range(arg, "--acc-bits", QS_ACC_BITS_MIN, QS_ACC_BITS_MAX, &o->int_spec.acc_bits);
	case OPT_OVERFLOW:
		if (strcmp(arg, "count") != 0 && strcmp(arg, "error") != 0)
			return qs_error_set(QS_EUSAGE, "bad --overflow '%s' (use count or error)", arg);
		o->int_spec.overflow_error = strcmp(arg, "error") == 0;
		return QS_OK;
	case OPT_SAVE_OUTPUTS: o->save_outputs = true; return QS_OK;
	case QS_CLI_OPT_TARGET_REL:
	case QS_CLI_OPT_TARGET_SQNR: return qs_cli_parse_target(c, arg, &o->target);
	case 'q': o->quiet = true; return QS_OK;
	}
	return qs_error_set(QS_EUSAGE, "unknown option");
}

static int axes_defaults(struct axes *a, const char *gran, bool asym)
{
	if (!a->n_bits) {
		a->bits[0] = 8;
		a->n_bits = 1;
	}
	if (!a->n_grans) {
		qs_gran_parse(gran, &a->grans[0]);
		a->n_grans = 1;
	}
	if (!a->n_asym) {
		a->asym[0] = asym;
		a->n_asym = 1;
	}
	if (!a->n_narrow) {
		a->narrow[0] = false;
		a->n_narrow = 1;
	}
	if (!a->n_calibs) {
		int rc = qs_calib_parse("minmax", &a->calibs[0]);
		if (rc)
			return rc;
		a->n_calibs = 1;
	}
	if (!a->n_mults)
		return qs_cli_parse_multipliers("1", &a->mults, &a->n_mults);
	return QS_OK;
}

/* Fills o from the command line; returns a status, or -1 when help was printed. */
static int parse_args(int argc, char **argv, struct sim_opts *o)
{
	int rc = QS_OK, c;
	opterr = 0;
	while (rc == QS_OK && (c = getopt_long(argc, argv, ":o:b:g:s:r:m:qh", long_opts, NULL)) != -1) {
		if (c == 'h') {
			printf(simulate_help, qs_calib_names(), QS_ACC_BITS_MIN, QS_ACC_BITS_MAX);
			return -1;
		}
		if (c == ':')
			rc = qs_error_set(QS_EUSAGE, "option '%s' needs a value", argv[optind - 1]);
		else if (c == '?')
			rc = qs_error_set(QS_EUSAGE, "unknown option '%s'", argv[optind - 1]);
		else
			rc = parse_option(c, optarg, o);
	}
	if (rc == QS_OK && optind < argc)
		rc = qs_error_set(QS_EUSAGE, "unexpected argument '%s' (files are given with --weight/--input/--network)",
				  argv[optind]);
	if (rc == QS_OK)
		rc = axes_defaults(&o->w, "channel", false);
	if (rc == QS_OK)
		rc = axes_defaults(&o->a, "tensor", true);
	if (rc)
		return rc;
	if (!o->network && (!o->have_op || !o->weight || o->n_inputs != 1))
		return qs_error_set(QS_EUSAGE, "a layer needs --op, --weight and one --input (or use --network FILE)");
	if (o->network && (o->have_op || o->weight || o->bias))
		return qs_error_set(QS_EUSAGE, "--network takes its layers from the config; drop --op/--weight/--bias");
	if (o->integer && (o->act_mode == QS_SIM_ACT_NONE || o->float_weights))
		return qs_error_set(QS_EUSAGE, "--integer needs quantized weights and activations (--act static|dynamic)");
	if (o->batch && o->act_mode != QS_SIM_ACT_DYNAMIC)
		return qs_error_set(QS_EUSAGE, "--batch applies to --act dynamic");
	if (o->float_weights && o->act_mode == QS_SIM_ACT_NONE && !o->out_bits)
		return qs_error_set(QS_EUSAGE, "nothing to quantize (--float-weights without --act or --out-bits)");
	return QS_OK;
}

/* ---- configurations ----------------------------------------------------------------------------------------- */

static size_t axes_count(const struct axes *a)
{
	return a->n_bits * a->n_grans * a->n_asym * a->n_narrow * a->n_calibs * a->n_mults;
}

/* Setting k of the axes, bits outermost and multipliers innermost. */
static void axes_spec(const struct axes *a, size_t k, const struct sim_opts *o, struct qs_sim_qspec *s)
{
	size_t im = k % a->n_mults;
	k /= a->n_mults;
	size_t ic = k % a->n_calibs;
	k /= a->n_calibs;
	size_t ir = k % a->n_narrow;
	k /= a->n_narrow;
	size_t is = k % a->n_asym;
	k /= a->n_asym;
	size_t ig = k % a->n_grans;
	k /= a->n_grans;
	memset(s, 0, sizeof *s);
	s->quant = (struct qs_quantizer){.bits = a->bits[k], .is_signed = a->is_signed, .narrow = a->narrow[ir],
					 .asym = a->asym[is], .pow2 = o->pow2, .rounding = o->rounding,
					 .profile = o->profile};
	s->gran = a->grans[ig];
	s->calib = a->calibs[ic];
	s->multiplier = a->mults[im];
	s->seed = o->seed;
}

/* Setting (iw, ia) of the weight × activation product: its quantizer specs and the run configuration. */
struct setting {
	struct qs_sim_qspec w, a, out;
	struct qs_sim_config cfg;
};

static void setting_config(const struct sim_opts *o, size_t iw, size_t ia, struct setting *st)
{
	axes_spec(&o->w, iw, o, &st->w);
	axes_spec(&o->a, ia, o, &st->a);
	st->out = (struct qs_sim_qspec){.quant = {.bits = o->out_bits, .is_signed = true, .asym = o->out_asym,
						  .pow2 = o->pow2, .rounding = o->rounding, .profile = o->profile},
					.calib = o->out_calib, .multiplier = 1.0, .seed = o->seed};
	st->cfg = (struct qs_sim_config){.weight = o->float_weights ? NULL : &st->w, .act_mode = o->act_mode,
					 .act = &st->a, .act_rows = o->batch, .out = o->out_bits ? &st->out : NULL,
					 .integer = o->integer ? &o->int_spec : NULL};
}

static void spec_text(const struct qs_sim_qspec *s, char *buf, size_t len)
{
	char g[64];
	qs_gran_format(&s->gran, g, sizeof g);
	snprintf(buf, len, "%db%s %s %s%s %s x%g", s->quant.bits, s->quant.is_signed ? "" : "u", g,
		 s->quant.asym ? "asym" : "sym", s->quant.narrow ? " narrow" : "", s->calib.label, s->multiplier);
}

static const char *const mode_names[] = {"none", "static", "dynamic"};

/* The configuration columns shared by both CSVs. */
static void put_config(FILE *f, const struct sim_opts *o, const struct qs_sim_qspec *w, const struct qs_sim_qspec *a)
{
	char g[64];
	if (w) {
		qs_gran_format(&w->gran, g, sizeof g);
		fprintf(f, "%d,%s,%s,%s,", w->quant.bits, g, w->quant.asym ? "asym" : "sym",
			w->quant.narrow ? "narrow" : "full");
		qs_csv_write_field(f, w->calib.label);
		qs_csv_put_num(f, w->multiplier);
	} else {
		fprintf(f, "float,,,,,");
	}
	fprintf(f, ",%s,", mode_names[o->act_mode]);
	if (a) {
		qs_gran_format(&a->gran, g, sizeof g);
		fprintf(f, "%d,%d,%s,%s,%s,", a->quant.bits, a->quant.is_signed, g, a->quant.asym ? "asym" : "sym",
			a->quant.narrow ? "narrow" : "full");
		qs_csv_write_field(f, a->calib.label);
		qs_csv_put_num(f, a->multiplier);
	} else {
		fprintf(f, ",,,,,,");
	}
	fprintf(f, ",%d,%s,%s,%s,%d", o->out_bits, qs_profile_name(o->profile), qs_rounding_name(o->rounding),
		o->integer ? "integer" : "fake", o->integer ? o->int_spec.acc_bits : 0);
}

static const char config_header[] = "w_bits,w_granularity,w_scheme,w_range,w_calib,w_multiplier,act_mode,act_bits,"
				    "act_signed,act_granularity,act_scheme,act_range,act_calib,act_multiplier,"
				    "out_bits,profile,rounding,pipeline,acc_bits";

static int load_one(const char *path, const char *what, struct qs_tensor **out)
{
	struct qs_load_opts opts = {.rank = -1};
	int rc = qs_source_read_first(path, &opts, what, out);
	for (size_t i = 0; rc == QS_OK && i < (*out)->n; i++)
		if (!isfinite((*out)->data[i]))
			rc = qs_error_set(QS_ENONFINITE, "'%s': %s contains non-finite values (NaN/Inf)", path, what);
	if (rc) {
		qs_tensor_free(*out);
		*out = NULL;
	}
	return rc;
}

static int save_npy(struct qs_stage *stage, const char *name, const double *data, int rank, const size_t *shape)
{
	FILE *f;
	int rc = qs_stage_fopen(stage, name, &f);
	if (rc)
		return rc;
	rc = qs_npy_write_f64(f, data, rank, shape);
	int rc2 = qs_stage_fclose(stage, f);
	return rc ? rc : rc2;
}

static void shape_text(int rank, const size_t *shape, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (int i = 0; i < rank && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, i ? "x%zu" : "%zu", shape[i]);
}

/* Messages about a tensor name it by its file. */
static int rename_tensor(struct qs_tensor *t, const char *path)
{
	char *name = strdup(path);
	if (!name)
		return qs_error_set(QS_ENOMEM, "out of memory");
	free(t->name);
	t->name = name;
	return QS_OK;
}

/* ---- one layer ---------------------------------------------------------------------------------------------- */

struct best {
	double rel;
	char what[512];
};

/* A layer-mode CSV row held back until the recommendation is known. */
struct layer_row {
	char *text;          /* the row up to out_* and integer columns, no newline */
	double w_eff_bits;   /* weight bits per value incl. scale/zero-point overhead (32: float weights) */
	int act_bits;        /* 32: float activations */
	double out_rel, out_sqnr;
	bool meets;
	char label[512];
};

/* b + groups · (scale bits + zero-point bits if asymmetric) / n, as in qscope sweep's eff_bits. */
static double eff_bits(const struct qs_sim_qspec *w, size_t groups, size_t n)
{
	if (!w)
		return 32.0;
	double scale_bits = w->gran.kind == QS_GRAN_GROUP ? 16.0 : 32.0;
	return w->quant.bits + (double)groups * (scale_bits + (w->quant.asym ? w->quant.bits : 0)) / (double)(n ? n : 1);
}

/* Fewest weight effective bits, then activation bits, then lowest output rel, among rows meeting the target;
 * the lowest output rel when none does. */
static size_t recommend_row(const struct layer_row *rows, size_t n)
{
	size_t best = 0;
	for (size_t i = 1; i < n; i++) {
		const struct layer_row *a = &rows[i], *b = &rows[best];
		bool better;
		if (a->meets != b->meets)
			better = a->meets;
		else if (!a->meets)
			better = a->out_rel < b->out_rel;
		else if (a->w_eff_bits != b->w_eff_bits)
			better = a->w_eff_bits < b->w_eff_bits;
		else if (a->act_bits != b->act_bits)
			better = a->act_bits < b->act_bits;
		else
			better = a->out_rel < b->out_rel;
		if (better)
			best = i;
	}
	return best;
}

static bool target_met(const struct qs_target *t, double rel, double sqnr)
{
	return t->kind == QS_TARGET_REL ? rel <= t->value : sqnr >= t->value;
}

static void note_best(struct best *b, double rel, const char *what)
{
	if (!b->what[0] || rel < b->rel) {
		b->rel = rel;
		snprintf(b->what, sizeof b->what, "%s", what);
	}
}

static int run_layer(const struct sim_opts *o, struct qs_stage *stage, FILE *csv, size_t *rows)
{
	struct qs_tensor *w = NULL, *b = NULL, *x = NULL;
	double *yref = NULL, *ysim = NULL;
	int rc = load_one(o->weight, "weight", &w);
	if (rc == QS_OK && o->bias)
		rc = load_one(o->bias, "bias", &b);
	if (rc == QS_OK)
		rc = load_one(o->inputs[0], "input", &x);
	struct qs_sim_layer l = {.op = o->op, .weight = w, .bias = b, .groups = o->groups};
	memcpy(l.stride, o->stride, sizeof l.stride);
	memcpy(l.padding, o->padding, sizeof l.padding);
	memcpy(l.dilation, o->dilation, sizeof l.dilation);
	int yrank = 0;
	size_t yshape[QS_MAX_RANK], ny = 1;
	if (rc == QS_OK)
		rc = rename_tensor(w, o->weight);
	if (rc == QS_OK && b)
		rc = rename_tensor(b, o->bias);
	if (rc == QS_OK)
		rc = qs_sim_layer_check(&l);
	if (rc == QS_OK && (rc = qs_sim_layer_shape(&l, x->rank, x->shape, &yrank, yshape)) != QS_OK)
		rc = qs_error_prefix(rc, "'%s': ", o->inputs[0]);
	for (int i = 0; i < yrank; i++)
		ny *= yshape[i];
	if (rc == QS_OK && (!(yref = malloc((ny ? ny : 1) * sizeof *yref)) || !(ysim = malloc((ny ? ny : 1) *
										      sizeof *ysim))))
		rc = qs_error_set(QS_ENOMEM, "out of memory for a %zu-value output", ny);
	if (rc)
		goto out;
	char ws[128], xs[128], ys[128];
	shape_text(w->rank, w->shape, ws, sizeof ws);
	shape_text(x->rank, x->shape, xs, sizeof xs);
	shape_text(yrank, yshape, ys, sizeof ys);
	fprintf(csv, "op,weight,input,%s,w_rel,w_sqnr_db,w_clipped,act_rel,act_sqnr_db,act_clipped,out_rel_w_only,"
		     "out_rel_act_only,out_rel,out_sqnr_db,out_max_abs,out_cosine,overflows,int_vs_fake_max_abs,w_eff_bits,"
		     "meets_target,recommended\n",
		config_header);
	size_t nw = o->float_weights ? 1 : axes_count(&o->w), na = o->act_mode == QS_SIM_ACT_NONE ? 1 : axes_count(&o->a);
	struct best best_out = {0}, best_w = {0};
	struct layer_row *held = calloc(nw * na, sizeof *held);
	size_t n_held = 0;
	if (!held)
		rc = qs_error_set(QS_ENOMEM, "out of memory");
	for (size_t iw = 0; iw < nw && rc == QS_OK; iw++)
		for (size_t ia = 0; ia < na && rc == QS_OK; ia++) {
			struct setting st;
			setting_config(o, iw, ia, &st);
			struct qs_sim_result r;
			rc = qs_sim_layer_run(&l, &st.cfg, x, NULL, yref, ysim, &r);
			if (rc)
				break;
			bool act = o->act_mode != QS_SIM_ACT_NONE;
			struct layer_row *hr = &held[n_held];
			size_t text_len = 0;
			FILE *mem = open_memstream(&hr->text, &text_len);
			if (!mem) {
				rc = qs_error_set(QS_ENOMEM, "out of memory");
				break;
			}
			n_held++;
			qs_csv_write_field(mem, qs_sim_op_name(o->op));
			fputc(',', mem);
			qs_csv_write_field(mem, o->weight);
			fputc(',', mem);
			qs_csv_write_field(mem, o->inputs[0]);
			fputc(',', mem);
			put_config(mem, o, st.cfg.weight, act ? &st.a : NULL);
			qs_csv_put_num(mem, st.cfg.weight ? qs_sim_err_rel(&r.w) : 0.0);
			qs_csv_put_num(mem, st.cfg.weight ? qs_sim_err_sqnr_db(&r.w) : INFINITY);
			fprintf(mem, ",%zu", r.w_clipped);
			qs_csv_put_num(mem, act ? qs_sim_err_rel(&r.act) : 0.0);
			qs_csv_put_num(mem, act ? qs_sim_err_sqnr_db(&r.act) : INFINITY);
			fprintf(mem, ",%zu", r.act_clipped);
			qs_csv_put_num(mem, qs_sim_err_rel(&r.out_w));
			qs_csv_put_num(mem, qs_sim_err_rel(&r.out_act));
			qs_csv_put_num(mem, qs_sim_err_rel(&r.out));
			qs_csv_put_num(mem, qs_sim_err_sqnr_db(&r.out));
			qs_csv_put_num(mem, r.out.max_abs);
			qs_csv_put_num(mem, qs_sim_err_cosine(&r.out));
			fprintf(mem, ",%zu", r.n_overflow);
			qs_csv_put_num(mem, r.int_vs_fake.max_abs);
			if (fclose(mem) != 0) {
				rc = qs_error_set(QS_ENOMEM, "out of memory");
				break;
			}
			hr->w_eff_bits = eff_bits(st.cfg.weight, r.w_groups, w->n);
			hr->act_bits = act ? st.a.quant.bits : 32;
			hr->out_rel = qs_sim_err_rel(&r.out);
			hr->out_sqnr = qs_sim_err_sqnr_db(&r.out);
			hr->meets = target_met(&o->target, hr->out_rel, hr->out_sqnr);
			(*rows)++;
			char wt[192] = "float", at[256] = "float", line[512];
			if (st.cfg.weight)
				spec_text(&st.w, wt, sizeof wt);
			if (act) {
				char t[192];
				spec_text(&st.a, t, sizeof t);
				snprintf(at, sizeof at, "%s %s", mode_names[o->act_mode], t);
			}
			snprintf(line, sizeof line, "W %s, X %s", wt, at);
			snprintf(hr->label, sizeof hr->label, "%s", line);
			note_best(&best_out, qs_sim_err_rel(&r.out), line);
			if (st.cfg.weight)
				note_best(&best_w, qs_sim_err_rel(&r.w), wt);
			if (!o->quiet && n_held == 1) /* the header once the first setting has run: not above an error */
				printf("%s: W [%s] · X [%s] -> Y [%s]\n%-34s %-36s %9s %9s %9s %9s %9s %8s %9s\n",
				       qs_sim_op_name(o->op), ws, xs, ys, "weights", "activations", "w_rel", "act_rel", "out(w)",
				       "out(act)", "out_rel", "sqnr_db", "cosine");
			if (!o->quiet)
				printf("%-34s %-36s %9.3g %9.3g %9.3g %9.3g %9.3g %8.2f %9.6f\n", wt, at,
				       qs_sim_err_rel(&r.w), qs_sim_err_rel(&r.act), qs_sim_err_rel(&r.out_w),
				       qs_sim_err_rel(&r.out_act), qs_sim_err_rel(&r.out), qs_sim_err_sqnr_db(&r.out),
				       qs_sim_err_cosine(&r.out));
			if (!o->quiet && o->integer)
				printf("%-34s integer, %d-bit accumulator: %zu of %zu outputs overflowed; max |int - fake| "
				       "= %.3g\n", "", o->int_spec.acc_bits, r.n_overflow, r.n_out, r.int_vs_fake.max_abs);
			if (rc == QS_OK && o->save_outputs && iw == 0 && ia == 0) {
				rc = save_npy(stage, "reference.npy", yref, yrank, yshape);
				if (rc == QS_OK)
					rc = save_npy(stage, "simulated.npy", ysim, yrank, yshape);
			}
		}
	size_t rec = rc == QS_OK && n_held ? recommend_row(held, n_held) : 0;
	for (size_t i = 0; rc == QS_OK && i < n_held; i++) {
		fputs(held[i].text, csv);
		qs_csv_put_num(csv, held[i].w_eff_bits);
		fprintf(csv, ",%d,%d\n", held[i].meets, i == rec);
	}
	if (rc == QS_OK && !o->quiet && nw * na > 1) {
		printf("lowest output rel %.4g: %s\n", best_out.rel, best_out.what);
		if (best_w.what[0])
			printf("lowest weight rel %.4g: W %s\n", best_w.rel, best_w.what);
	}
	if (rc == QS_OK && !o->quiet && n_held)
		printf("recommended (%s %g on the output; fewest weight bits, then activation bits): %s, %.3g effective "
		       "weight bits, output rel %.4g%s\n", o->target.kind == QS_TARGET_REL ? "rel <=" : "SQNR >=",
		       o->target.value, held[rec].label, held[rec].w_eff_bits, held[rec].out_rel,
		       held[rec].meets ? "" : " (target not met: lowest output rel)");
	for (size_t i = 0; i < n_held; i++)
		free(held[i].text);
	free(held);
out:
	free(yref);
	free(ysim);
	qs_tensor_free(w);
	qs_tensor_free(b);
	qs_tensor_free(x);
	return rc;
}

/* ---- a network ---------------------------------------------------------------------------------------------- */

static int run_network(const struct sim_opts *o, struct qs_stage *stage, FILE *csv, size_t *rows)
{
	struct qs_net *net = NULL;
	struct qs_tensor *batches[MAX_INPUTS] = {0};
	size_t B = 0;
	int rc = qs_net_load(o->network, &net);
	if (rc)
		return rc;
	const char *const *paths = o->n_inputs ? o->inputs : (const char *const *)net->inputs;
	B = o->n_inputs ? o->n_inputs : net->n_inputs;
	if (B == 0)
		rc = qs_error_set(QS_EUSAGE, "'%s': no input batches (give --input FILE or 'input = FILE' in [network])",
				  o->network);
	if (B > MAX_INPUTS)
		rc = qs_error_set(QS_EFORMAT, "'%s': more than %d input batches", o->network, MAX_INPUTS);
	int ranks[64];
	size_t shapes[64][QS_MAX_RANK];
	for (size_t b = 0; b < B && rc == QS_OK; b++) {
		rc = load_one(paths[b], "input", &batches[b]);
		if (rc == QS_OK && net->n_layers <= 64 &&
		    (rc = qs_net_shapes(net, batches[b]->rank, batches[b]->shape, ranks, shapes)) != QS_OK)
			rc = qs_error_suffix(rc, " (input '%s')", paths[b]);
	}
	if (rc)
		goto out;
	fprintf(csv, "network,%s,layer_index,layer,type,quantized,w_rel,rel,sqnr_db,max_abs,cosine,overflows,"
		     "top1_agree,samples\n", config_header);
	size_t nw = o->float_weights ? 1 : axes_count(&o->w), na = o->act_mode == QS_SIM_ACT_NONE ? 1 : axes_count(&o->a);
	for (size_t iw = 0; iw < nw && rc == QS_OK; iw++)
		for (size_t ia = 0; ia < na && rc == QS_OK; ia++) {
			struct setting st;
			setting_config(o, iw, ia, &st);
			struct qs_net_result r;
			rc = qs_net_run(net, &st.cfg, o->quant_mask, batches, B, &r);
			if (rc)
				break;
			bool act = o->act_mode != QS_SIM_ACT_NONE;
			char wt[192] = "float", at[256] = "float";
			if (st.cfg.weight)
				spec_text(&st.w, wt, sizeof wt);
			if (act) {
				char t[192];
				spec_text(&st.a, t, sizeof t);
				snprintf(at, sizeof at, "%s %s", mode_names[o->act_mode], t);
			}
			char text[1024];
			if (!o->quiet)
				printf("%s: weights %s, activations %s%s\n  %-3s %-12s %-8s %5s %9s %9s %8s %9s %9s\n",
				       qs_escape(o->network, text, sizeof text), wt, at, o->integer ? ", integer pipeline" : "",
				       "#", "layer", "type", "quant", "w_rel", "rel", "sqnr_db", "max_abs", "cosine");
			for (size_t i = 0; i < net->n_layers; i++) {
				const struct qs_net_layer *l = &net->layers[i];
				qs_csv_write_field(csv, o->network);
				fputc(',', csv);
				put_config(csv, o, st.cfg.weight, act ? &st.a : NULL);
				fprintf(csv, ",%zu,", i);
				qs_csv_write_field(csv, l->name);
				fprintf(csv, ",%s,%d", qs_net_kind_name(l->kind), r.quantized[i]);
				qs_csv_put_num(csv, r.quantized[i] && st.cfg.weight ? qs_sim_err_rel(&r.w_err[i]) : 0.0);
				qs_csv_put_num(csv, qs_sim_err_rel(&r.err[i]));
				qs_csv_put_num(csv, qs_sim_err_sqnr_db(&r.err[i]));
				qs_csv_put_num(csv, r.err[i].max_abs);
				qs_csv_put_num(csv, qs_sim_err_cosine(&r.err[i]));
				fprintf(csv, ",%zu,%zu,%zu\n", r.n_overflow[i], r.top1_agree, r.samples);
				(*rows)++;
				if (!o->quiet) {
					/* the name escaped (it comes from the user's INI), padded to 12 terminal columns */
					int pad = 12 - (int)qs_text_columns(qs_escape(l->name, text, sizeof text));
					printf("  %-3zu %s%*s %-8s %5s %9.3g %9.3g %8.2f %9.3g %9.6f%s\n", i, text,
					       pad > 0 ? pad : 0, "", qs_net_kind_name(l->kind), r.quantized[i] ? "yes" : "no",
					       r.quantized[i] && st.cfg.weight ? qs_sim_err_rel(&r.w_err[i]) : 0.0,
					       qs_sim_err_rel(&r.err[i]), qs_sim_err_sqnr_db(&r.err[i]), r.err[i].max_abs,
					       qs_sim_err_cosine(&r.err[i]), r.n_overflow[i] ? "  (overflows)" : "");
				}
			}
			if (!o->quiet)
				printf("  top-1 agreement with the float model: %zu/%zu (%.1f%%)\n\n", r.top1_agree,
				       r.samples, r.samples ? 100.0 * (double)r.top1_agree / (double)r.samples : 0.0);
			for (size_t b = 0; rc == QS_OK && o->save_outputs && iw == 0 && ia == 0 && b < B; b++) {
				char name[64];
				rc = qs_net_shapes(net, batches[b]->rank, batches[b]->shape, ranks, shapes);
				size_t L = net->n_layers - 1;
				snprintf(name, sizeof name, "float_batch%zu.npy", b);
				if (rc == QS_OK)
					rc = save_npy(stage, name, r.outputs_float[b], ranks[L], shapes[L]);
				snprintf(name, sizeof name, "quant_batch%zu.npy", b);
				if (rc == QS_OK)
					rc = save_npy(stage, name, r.outputs_quant[b], ranks[L], shapes[L]);
			}
			qs_net_result_free(&r);
		}
out:
	for (size_t b = 0; b < B && b < MAX_INPUTS; b++)
		qs_tensor_free(batches[b]);
	qs_net_free(net);
	return rc;
}

int qs_cli_simulate(int argc, char **argv)
{
	struct sim_opts o = {.stride = {1, 1}, .dilation = {1, 1}, .groups = 1, .out_asym = true,
			     .int_spec = {.acc_bits = 32}, .quant_mask = QS_NET_QUANT_ALL,
			     .target = {QS_TARGET_REL, QS_TARGET_DEFAULT_REL}};
	o.w.is_signed = o.a.is_signed = true;
	qs_calib_parse("minmax", &o.out_calib);
	struct qs_stage *stage = NULL;
	FILE *csv = NULL;
	size_t rows = 0;
	char outdir[4096];
	int rc = parse_args(argc, argv, &o);
	if (rc == -1) {
		rc = QS_OK;
		goto out;
	}
	if (rc)
		goto out;
	if (o.outdir) {
		snprintf(outdir, sizeof outdir, "%s", o.outdir);
	} else {
		char stem[256];
		qs_path_stem(o.network ? o.network : o.weight, stem, sizeof stem);
		snprintf(outdir, sizeof outdir, "reports/simulate_%s", stem);
	}
	const char *csv_name = o.network ? "network.csv" : "simulate.csv";
	rc = qs_cli_stage_open(outdir, &stage);
	if (rc == QS_OK)
		rc = qs_stage_fopen(stage, csv_name, &csv);
	if (rc == QS_OK)
		rc = o.network ? run_network(&o, stage, csv, &rows) : run_layer(&o, stage, csv, &rows);
	if (csv) {
		int rc_close = qs_stage_fclose(stage, csv);
		if (rc == QS_OK)
			rc = rc_close;
	}
	if (rc == QS_OK) {
		rc = qs_stage_commit(stage);
		stage = NULL;
	}
	if (rc == QS_OK)
		printf("%s/%s\t%zu rows\n", outdir, csv_name, rows);
out:
	qs_stage_abort(stage);
	free(o.w.mults);
	free(o.a.mults);
	return rc ? qs_cli_fail(rc, "simulate") : 0;
}
