/* `qscope sweep`'s options: parsing, defaults, and INI configs ([sweep] replays long options, [tensor GLOB] sets
 * the axes of matching tensors). */
#include "cli_sweep_opts.h"

#include <fnmatch.h>
#include <getopt.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/qs_error.h"

static const char sweep_help[] =
	"usage: qscope sweep [options] FILE|FOLDER...\n"
	"\n"
	"Quantize every tensor of the inputs under the cartesian product of the settings below and write one CSV row\n"
	"per (tensor, configuration, multiplier) to OUT/sweep.csv, with clipping and rounding error measured apart;\n"
	"OUT/recommend.csv and a model summary give the best settings (see qscope recommend --help).\n"
	"A folder stands for the tensor files in it. Several values of an axis are comma-separated.\n"
	"\n"
	"  -o, --output DIR         output folder (default: reports/<input stem>/)\n"
	"  -b, --bits LIST          bit widths 2..16, ranges allowed (default: 4,8; e.g. 2-8,16)\n"
	"  -g, --granularity LIST   tensor | channel[:AXIS] | group:G[:AXIS] (default: tensor,channel)\n"
	"  -s, --scheme LIST        sym | asym (default: sym)\n"
	"  -r, --range LIST         full | narrow (default: full)\n"
	"      --signed             signed integers (the default)\n"
	"      --unsigned           unsigned integers; with --signed, both are swept\n"
	"      --pow2[=on|off|both] power-of-two scales (default: off; --pow2 alone = on)\n"
	"      --rounding LIST      even | away | stochastic (default: even)\n"
	"      --seed N             seed of stochastic rounding (default: 0); each point has its own stream\n"
	"      --profile LIST       default | torch (torch.ao MinMaxObserver qparams) (default: default)\n"
	"      --calib LIST         calibrators (default: minmax; available: %s)\n"
	"  -m, --multipliers SPEC   clip-range multipliers START:STOP:COUNT or a list (default: 0.1:1.2:111)\n"
	"  -t, --tensor GLOB        only tensors whose name matches (repeatable; default: all)\n"
	"      --target-rel X       recommendation target ||X - X^||/||X|| <= X (default: 0.02)\n"
	"      --target-sqnr DB     recommendation target SQNR >= DB decibels (instead of --target-rel)\n"
	"      --save-qparams       also write every group's scale and zero-point to OUT/qparams/*.npy\n"
	"      --skip-nonfinite     drop NaN/Inf values (counted in the 'nonfinite' column) instead of failing\n"
	"      --dtype T            read inputs as raw binaries of f32 | f64 | f16 | bf16\n"
	"      --shape D0,D1,...    shape of raw binaries (default: 1-D)\n"
	"      --big-endian         raw binaries are big-endian (default: little-endian)\n"
	"      --no-plots           no charts and no report (default: .dat/.gp under OUT/plots/, rendered to PNG by\n"
	"                           gnuplot, and OUT/report.md + report.html)\n"
	"  -j, --jobs N             threads (default: all cores); output is identical for every N\n"
	"  -q, --quiet              no progress display\n"
	"  -c, --config FILE        read options from an INI file: [sweep] holds long options as 'key = value'\n"
	"                           (and 'inputs = PATH...'); [tensor GLOB] sections set the axes of matching tensors;\n"
	"                           options on the command line override the file (see configs/README.md)\n"
	"  -h, --help               this help\n"
	"\n"
	"Exit status: 0 ok, 1 data or I/O error, 2 usage error. Nothing is written unless the whole run succeeds.\n";

static void print_help(void)
{
	printf(sweep_help, qs_calib_names());
}

enum { OPT_CALIB = 255, OPT_SIGNED = 256, OPT_UNSIGNED, OPT_POW2, OPT_ROUNDING, OPT_SEED, OPT_PROFILE, OPT_SAVE_QPARAMS,
       OPT_SKIP_NONFINITE, OPT_DTYPE, OPT_SHAPE, OPT_BIG_ENDIAN, OPT_NO_PLOTS, OPT_BATCHES, OPT_CALIB_BATCHES,
       OPT_EVAL_BATCHES, OPT_MODE };

static const struct option sweep_long_opts[] = {
	{"output", required_argument, NULL, 'o'},
	{"bits", required_argument, NULL, 'b'},
	{"granularity", required_argument, NULL, 'g'},
	{"scheme", required_argument, NULL, 's'},
	{"range", required_argument, NULL, 'r'},
	{"signed", no_argument, NULL, OPT_SIGNED},
	{"unsigned", no_argument, NULL, OPT_UNSIGNED},
	{"pow2", optional_argument, NULL, OPT_POW2},
	{"rounding", required_argument, NULL, OPT_ROUNDING},
	{"seed", required_argument, NULL, OPT_SEED},
	{"profile", required_argument, NULL, OPT_PROFILE},
	{"calib", required_argument, NULL, OPT_CALIB},
	{"multipliers", required_argument, NULL, 'm'},
	{"tensor", required_argument, NULL, 't'},
	{"save-qparams", no_argument, NULL, OPT_SAVE_QPARAMS},
	{"target-rel", required_argument, NULL, QS_CLI_OPT_TARGET_REL},
	{"target-sqnr", required_argument, NULL, QS_CLI_OPT_TARGET_SQNR},
	{"skip-nonfinite", no_argument, NULL, OPT_SKIP_NONFINITE},
	{"dtype", required_argument, NULL, OPT_DTYPE},
	{"shape", required_argument, NULL, OPT_SHAPE},
	{"big-endian", no_argument, NULL, OPT_BIG_ENDIAN},
	{"jobs", required_argument, NULL, 'j'},
	{"no-plots", no_argument, NULL, OPT_NO_PLOTS},
	{"quiet", no_argument, NULL, 'q'},
	{"batches", required_argument, NULL, OPT_BATCHES},
	{"calib-batches", required_argument, NULL, OPT_CALIB_BATCHES},
	{"eval-batches", required_argument, NULL, OPT_EVAL_BATCHES},
	{"mode", required_argument, NULL, OPT_MODE},
	{"config", required_argument, NULL, 'c'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* --jobs N: the number of OpenMP threads (ignored in a build without OpenMP). */
static int set_jobs(const char *arg)
{
	unsigned long n;
	int rc = qs_cli_parse_ulong(arg, "--jobs", &n);
	if (rc == QS_OK && (n == 0 || n > 1024))
		rc = qs_error_set(QS_EUSAGE, "bad --jobs '%s' (1 to 1024)", arg);
#ifdef _OPENMP
	if (rc == QS_OK)
		omp_set_num_threads((int)n);
#endif
	return rc;
}

static int parse_pow2(const char *arg, struct sweep_opts *o)
{
	struct qs_sweep_spec *sp = &o->spec;
	if (!arg || strcmp(arg, "on") == 0) {
		o->pow2[0] = true;
		sp->n_pow2 = 1;
	} else if (strcmp(arg, "off") == 0) {
		o->pow2[0] = false;
		sp->n_pow2 = 1;
	} else if (strcmp(arg, "both") == 0) {
		o->pow2[0] = false;
		o->pow2[1] = true;
		sp->n_pow2 = 2;
	} else {
		return qs_error_set(QS_EUSAGE, "bad --pow2 '%s' (use on, off or both)", arg);
	}
	return QS_OK;
}

/* Fills o from the command line; returns a status, or -1 when help was printed. */
int qs_sweep_opts_parse(int argc, char **argv, struct sweep_opts *o)
{
	struct qs_sweep_spec *sp = &o->spec;
	int rc = QS_OK;
	int c;
	opterr = 0;
	optind = 0; /* full getopt reset: configs parse several argument vectors */
	while (rc == QS_OK && (c = getopt_long(argc, argv, ":o:b:g:s:r:m:t:j:c:qh", sweep_long_opts, NULL)) != -1) {
		switch (c) {
		case 'o': o->outdir = optarg; break;
		case 'b': rc = qs_cli_parse_bits(optarg, o->bits, QS_BITS_MAX + 1, &sp->n_bits); break;
		case 'g':
			rc = qs_cli_parse_list(optarg, "--granularity", o->grans, sizeof *o->grans, MAX_AXIS, &sp->n_grans,
					       qs_cli_one_gran);
			break;
		case 's': rc = qs_cli_parse_pair(optarg, "--scheme", "sym", "asym", o->asym, &sp->n_asym); break;
		case 'r': rc = qs_cli_parse_pair(optarg, "--range", "full", "narrow", o->narrow, &sp->n_narrow); break;
		case OPT_SIGNED: o->want_signed = true; break;
		case OPT_UNSIGNED: o->want_unsigned = true; break;
		case OPT_POW2: rc = parse_pow2(optarg, o); break;
		case OPT_ROUNDING:
			rc = qs_cli_parse_list(optarg, "--rounding", o->roundings, sizeof *o->roundings, 3, &sp->n_roundings,
					       qs_cli_one_rounding);
			break;
		case OPT_SEED: rc = qs_cli_parse_ulong(optarg, "--seed", &sp->seed); break;
		case OPT_PROFILE:
			rc = qs_cli_parse_list(optarg, "--profile", o->profiles, sizeof *o->profiles, 2, &sp->n_profiles,
					       qs_cli_one_profile);
			break;
		case OPT_CALIB:
			rc = qs_cli_parse_list(optarg, "--calib", o->calibs, sizeof *o->calibs, MAX_AXIS, &sp->n_calibs,
					       qs_cli_one_calib);
			break;
		case 'm':
			free(o->multipliers);
			rc = qs_cli_parse_multipliers(optarg, &o->multipliers, &sp->n_multipliers);
			break;
		case 't':
			if (o->filter_from_config) {
				o->filter.n = 0;
				o->filter_from_config = false;
			}
			if (o->filter.n == sizeof o->filter.globs / sizeof *o->filter.globs)
				rc = qs_error_set(QS_EUSAGE, "too many --tensor patterns");
			else
				o->filter.globs[o->filter.n++] = optarg;
			break;
		case OPT_SAVE_QPARAMS: o->save_qparams = true; break;
		case QS_CLI_OPT_TARGET_REL:
		case QS_CLI_OPT_TARGET_SQNR: rc = qs_cli_parse_target(c, optarg, &o->target); break;
		case OPT_SKIP_NONFINITE: sp->skip_nonfinite = true; break;
		case OPT_DTYPE: o->load.dtype = optarg; break;
		case OPT_SHAPE: rc = qs_cli_parse_shape(optarg, &o->load); break;
		case OPT_BIG_ENDIAN: o->load.big_endian = true; break;
		case 'j': rc = set_jobs(optarg); break;
		case OPT_NO_PLOTS: o->plots = false; break;
		case 'q': o->quiet = true; break;
		case 'c': break; /* read before the other options, see find_config */
		case OPT_BATCHES:
			if (o->batches_from_config) {
				o->n_batch_globs = 0;
				o->batches_from_config = false;
			}
			if (o->n_batch_globs == sizeof o->batch_globs / sizeof *o->batch_globs)
				rc = qs_error_set(QS_EUSAGE, "too many --batches patterns");
			else
				o->batch_globs[o->n_batch_globs++] = optarg;
			break;
		case OPT_CALIB_BATCHES: o->calib_batches = optarg; break;
		case OPT_EVAL_BATCHES: o->eval_batches = optarg; break;
		case OPT_MODE: rc = qs_cli_parse_pair(optarg, "--mode", "static", "dynamic", o->modes, &o->n_modes); break;
		case 'h': print_help(); return -1;
		case ':': rc = qs_error_set(QS_EUSAGE, "option '%s' needs a value", argv[optind - 1]); break;
		default: rc = qs_error_set(QS_EUSAGE, "unknown option '%s'", argv[optind - 1]); break;
		}
	}
	return rc;
}

/* Defaults for every axis the command line left out. */
int qs_sweep_opts_defaults(struct sweep_opts *o)
{
	struct qs_sweep_spec *sp = &o->spec;
	if (!sp->n_bits) {
		o->bits[0] = 4;
		o->bits[1] = 8;
		sp->n_bits = 2;
	}
	if (!sp->n_grans) {
		qs_gran_parse("tensor", &o->grans[0]);
		qs_gran_parse("channel", &o->grans[1]);
		sp->n_grans = 2;
	}
	if (!sp->n_asym)
		sp->n_asym = 1;
	if (!sp->n_narrow)
		sp->n_narrow = 1;
	if (!sp->n_pow2)
		sp->n_pow2 = 1;
	if (!sp->n_roundings)
		sp->n_roundings = 1;
	if (!sp->n_profiles)
		sp->n_profiles = 1;
	if (!sp->n_calibs) {
		int rc = qs_calib_parse("minmax", &o->calibs[0]);
		if (rc)
			return rc;
		sp->n_calibs = 1;
	}
	if (!sp->n_multipliers) {
		int rc = qs_cli_parse_multipliers("0.1:1.2:111", &o->multipliers, &sp->n_multipliers);
		if (rc)
			return rc;
	}
	size_t ns = 0;
	if (o->want_signed || !o->want_unsigned)
		o->is_signed[ns++] = true;
	if (o->want_unsigned)
		o->is_signed[ns++] = false;
	sp->n_signed = ns;
	sp->bits = o->bits;
	sp->grans = o->grans;
	sp->asym = o->asym;
	sp->is_signed = o->is_signed;
	sp->narrow = o->narrow;
	sp->pow2 = o->pow2;
	sp->roundings = o->roundings;
	sp->profiles = o->profiles;
	sp->calibs = o->calibs;
	sp->multipliers = o->multipliers;
	return QS_OK;
}

/* --- INI configs: [sweep] replays long options, [tensor GLOB] sets the axes of matching tensors ------------- */

/* The options a [tensor GLOB] section may set (the axes of one tensor's sweep; one multiplier grid per run). */
static const char *const tensor_section_keys[] = {"bits", "granularity", "scheme", "range", "signed", "unsigned",
						  "pow2", "rounding", "seed", "profile", "calib", NULL};

static bool key_listed(const char *const *keys, const char *key)
{
	for (size_t i = 0; keys[i]; i++)
		if (strcmp(keys[i], key) == 0)
			return true;
	return false;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1", NULL}, *const no[] = {"false", "no", "off", "0", NULL};
	*out = key_listed(yes, v);
	return *out || key_listed(no, v) ? QS_OK : QS_EINVAL;
}

/* Applies one entry as the long option --KEY VALUE (a flag when the option takes no value). */
static int apply_entry(struct sweep_opts *o, const struct qs_config *cfg, const struct qs_config_entry *e)
{
	const struct option *opt = sweep_long_opts;
	while (opt->name && strcmp(opt->name, e->key) != 0)
		opt++;
	if (!opt->name || strcmp(e->key, "config") == 0 || strcmp(e->key, "help") == 0)
		return qs_error_set(QS_EFORMAT, "'%s': [%s]: unknown key '%s'", cfg->path, e->section, e->key);
	char name[64], with_value[4200];
	snprintf(name, sizeof name, "--%s", e->key);
	char *argv[] = {"config", name, e->value, NULL};
	int argc = 3;
	if (opt->has_arg == no_argument) {
		bool on;
		if (parse_bool(e->value, &on))
			return qs_error_set(QS_EFORMAT, "'%s': [%s] %s = %s: not a boolean (true or false)", cfg->path,
					    e->section, e->key, e->value);
		if (!on)
			return QS_OK;
		argc = 2;
	} else if (opt->has_arg == optional_argument) {
		snprintf(with_value, sizeof with_value, "--%s=%s", e->key, e->value);
		argv[1] = with_value;
		argc = 2;
	}
	argv[argc] = NULL;
	int rc = qs_sweep_opts_parse(argc, argv, o);
	if (rc)
		return qs_error_prefix(QS_EFORMAT, "'%s': [%s] %s = %s: ", cfg->path, e->section, e->key, e->value);
	return QS_OK;
}

/* Adds the whitespace-separated paths of an 'inputs' entry, relative to the config's folder. */
static int add_config_inputs(struct qs_strings *inputs, const struct qs_config *cfg, const char *value)
{
	char buf[4096], path[8200];
	snprintf(buf, sizeof buf, "%s", value);
	for (char *save = NULL, *tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		qs_config_path(cfg, tok, path, sizeof path);
		int rc = qs_strings_add(inputs, path);
		if (rc)
			return rc;
	}
	return QS_OK;
}

/* The [sweep] section: options (before the command line's) and input paths (`inputs`, and `batches` patterns,
 * which are relative to the config file; `held` keeps the resolved patterns alive). */
int qs_sweep_config_apply(struct sweep_opts *o, const struct qs_config *cfg, struct qs_strings *inputs,
			       struct qs_strings *held)
{
	int rc = QS_OK;
	for (size_t i = 0; i < cfg->n && rc == QS_OK; i++) {
		const struct qs_config_entry *e = &cfg->entries[i];
		if (strcmp(e->section, "sweep") != 0) {
			if (strncmp(e->section, "tensor ", 7) != 0 || !e->section[7])
				rc = qs_error_set(QS_EFORMAT, "'%s': unknown section [%s] (use [sweep] and [tensor GLOB])",
						  cfg->path, e->section);
		} else if (strcmp(e->key, "inputs") == 0) {
			rc = add_config_inputs(inputs, cfg, e->value);
		} else if (strcmp(e->key, "batches") == 0) {
			char path[8200];
			qs_config_path(cfg, e->value, path, sizeof path);
			rc = qs_strings_add(held, path);
			struct qs_config_entry resolved = *e;
			resolved.value = rc ? e->value : held->items[held->n - 1];
			if (rc == QS_OK)
				rc = apply_entry(o, cfg, &resolved);
		} else {
			rc = apply_entry(o, cfg, e);
		}
	}
	o->filter_from_config = o->filter.n > 0;
	o->batches_from_config = o->n_batch_globs > 0;
	return rc;
}

/* One [tensor GLOB] section: the run's axes (after the command line), with the section's keys applied on top. */
static int add_override(struct sweep_opts *o, const struct qs_config *cfg, const char *section)
{
	struct sweep_opts *grown = realloc(o->overrides, (o->n_overrides + 1) * sizeof *grown);
	const char **globs = grown ? realloc(o->override_globs, (o->n_overrides + 1) * sizeof *globs) : NULL;
	if (grown)
		o->overrides = grown;
	if (globs)
		o->override_globs = globs;
	if (!grown || !globs)
		return qs_error_set(QS_ENOMEM, "out of memory reading '%s'", cfg->path);
	struct sweep_opts *ov = &o->overrides[o->n_overrides];
	*ov = *o;
	ov->overrides = NULL;
	ov->n_overrides = 0;
	ov->multipliers = malloc(o->spec.n_multipliers * sizeof *ov->multipliers);
	if (!ov->multipliers)
		return qs_error_set(QS_ENOMEM, "out of memory reading '%s'", cfg->path);
	memcpy(ov->multipliers, o->multipliers, o->spec.n_multipliers * sizeof *ov->multipliers);
	o->override_globs[o->n_overrides++] = section + 7;
	int rc = QS_OK;
	for (size_t i = 0; i < cfg->n && rc == QS_OK; i++) {
		const struct qs_config_entry *e = &cfg->entries[i];
		if (strcmp(e->section, section) != 0)
			continue;
		if (!key_listed(tensor_section_keys, e->key))
			return qs_error_set(QS_EFORMAT, "'%s': [%s]: key '%s' cannot be set per tensor (allowed: bits, "
					    "granularity, scheme, range, signed, unsigned, pow2, rounding, seed, profile, calib)",
					    cfg->path, section, e->key);
		if (strcmp(e->key, "signed") == 0 || strcmp(e->key, "unsigned") == 0)
			ov->want_signed = ov->want_unsigned = false; /* the section says which */
		rc = apply_entry(ov, cfg, e);
	}
	return rc ? rc : qs_sweep_opts_defaults(ov);
}

int qs_sweep_config_overrides(struct sweep_opts *o, const struct qs_config *cfg)
{
	for (size_t i = 0; i < cfg->n; i++) {
		const char *section = cfg->entries[i].section;
		bool seen = strcmp(section, "sweep") == 0;
		for (size_t k = 0; k < o->n_overrides && !seen; k++)
			seen = strcmp(o->override_globs[k], section + 7) == 0;
		int rc = seen ? QS_OK : add_override(o, cfg, section);
		if (rc)
			return rc;
	}
	/* the list moved while it grew: point every section's axes at its own arrays again */
	for (size_t k = 0; k < o->n_overrides; k++) {
		int rc = qs_sweep_opts_defaults(&o->overrides[k]);
		if (rc)
			return rc;
	}
	return QS_OK;
}

/* -c FILE, -cFILE, --config FILE or --config=FILE; NULL when absent (a missing value is left to getopt). */
const char *qs_sweep_find_config(int argc, char **argv)
{
	const char *path = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0)
			break;
		if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && i + 1 < argc)
			path = argv[++i];
		else if (strncmp(a, "--config=", 9) == 0)
			path = a + 9;
		else if (strncmp(a, "-c", 2) == 0 && a[2])
			path = a + 2;
	}
	return path;
}

/* The axes for one tensor: the first [tensor GLOB] section matching its name, else the run's. */
const struct qs_sweep_spec *qs_sweep_spec_for(const struct sweep_opts *o, const char *name)
{
	for (size_t k = 0; k < o->n_overrides; k++)
		if (fnmatch(o->override_globs[k], name, 0) == 0)
			return &o->overrides[k].spec;
	return &o->spec;
}

void qs_sweep_opts_free(struct sweep_opts *o)
{
	free(o->multipliers);
	for (size_t k = 0; k < o->n_overrides; k++)
		free(o->overrides[k].multipliers);
	free(o->overrides);
	free(o->override_globs);
}
