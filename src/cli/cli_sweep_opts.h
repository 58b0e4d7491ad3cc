/* `qscope sweep`'s options: the command line and INI configs (-c FILE) into one set of sweep axes, plus the
 * [tensor GLOB] sections' own sets. Private to the sweep command (cli_sweep.c, cli_sweep_opts.c). */
#ifndef QS_CLI_SWEEP_OPTS_H
#define QS_CLI_SWEEP_OPTS_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"
#include "sweep/sweep.h"

#define MAX_AXIS 64

struct sweep_opts {
	int bits[QS_BITS_MAX + 1];
	struct qs_granularity grans[MAX_AXIS];
	bool asym[2], is_signed[2], narrow[2], pow2[2];
	enum qs_rounding roundings[3];
	enum qs_profile profiles[2];
	struct qs_calib calibs[MAX_AXIS];
	double *multipliers;
	struct qs_sweep_spec spec;
	struct qs_load_opts load;
	struct qs_filter filter;
	struct qs_target target;
	const char *outdir;
	bool save_qparams, quiet, want_signed, want_unsigned, plots;
	const char *batch_globs[64];   /* --batches: activation batch sets */
	size_t n_batch_globs;
	const char *calib_batches, *eval_batches;
	bool modes[2];                 /* --mode: false = static, true = dynamic */
	size_t n_modes;
	bool batches_from_config;
	bool filter_from_config;       /* the --tensor patterns came from a config: the first one on the CLI replaces them */
	struct sweep_opts *overrides;  /* [tensor GLOB] sections of a config, each a whole set of axes */
	const char **override_globs;
	size_t n_overrides;
};

/* Parses options into o (later values replace earlier ones; --tensor/--batches add, except that the first one on the
 * command line replaces a config's). Returns a status, or -1 when help was printed. */
int qs_sweep_opts_parse(int argc, char **argv, struct sweep_opts *o);
/* Defaults for every axis left out, and o->spec pointed at o's arrays. */
int qs_sweep_opts_defaults(struct sweep_opts *o);
void qs_sweep_opts_free(struct sweep_opts *o);

/* -c FILE, -cFILE, --config FILE or --config=FILE on the command line; NULL when absent. */
const char *qs_sweep_find_config(int argc, char **argv);
/* The config's [sweep] section, applied before the command line: options, `inputs` (added to inputs, relative to
 * the config) and `batches` (resolved patterns kept alive in held). Errors name the file, section and key. */
int qs_sweep_config_apply(struct sweep_opts *o, const struct qs_config *cfg, struct qs_strings *inputs,
			  struct qs_strings *held);
/* The config's [tensor GLOB] sections, after the command line: each the run's axes with the section's on top. */
int qs_sweep_config_overrides(struct sweep_opts *o, const struct qs_config *cfg);
/* The axes for one tensor: the first [tensor GLOB] section matching its name, else the run's. */
const struct qs_sweep_spec *qs_sweep_spec_for(const struct sweep_opts *o, const char *name);

#endif
