/* Shared pieces of the command-line front end: the only layer that prints or exits. */
#ifndef QS_CLI_H
#define QS_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "formats/format.h"
#include "output/chart_data.h"
#include "output/stage.h"
#include "recommend/recommend.h"

/* Each command returns its process exit status (0 ok, 1 data error, 2 usage error). */
int qs_cli_sweep(int argc, char **argv);
int qs_cli_inspect(int argc, char **argv);
int qs_cli_recommend(int argc, char **argv);
int qs_cli_export(int argc, char **argv);
int qs_cli_plot(int argc, char **argv);
int qs_cli_simulate(int argc, char **argv);

/* Call first in main(), before any other thread exists. SIGINT, SIGTERM and SIGHUP are then taken by a thread of
 * their own. It removes every open stage (qs_stage_discard_all), prints one line when there was one, and lets the
 * signal end the process (exit status 128 + signal in a shell). Every thread created afterwards inherits the blocked
 * signals; child processes must unblock them after fork(). Returns 0, or -1 when the thread cannot be started (the
 * signals then keep their default action). */
int qs_cli_catch_signals(void);

/* --target-rel / --target-sqnr, shared by sweep and recommend. */
enum { QS_CLI_OPT_TARGET_REL = 512, QS_CLI_OPT_TARGET_SQNR };
int qs_cli_parse_target(int opt, const char *arg, struct qs_target *t);
/* Computes the recommendation of pts, stages OUT/recommend.csv (and, when `run_config` is not NULL, the charts'
 * .dat/.gp under OUT/plots/ and OUT/report.md + report.html, which describe that command line) and prints the
 * model summary on stdout. charts (NULL: none) adds the histogram and per-channel charts and their notes. */
int qs_cli_write_recommendation(struct qs_stage *stage, struct qs_rec_points *pts, const struct qs_target *target,
				const char *run_config, const struct qs_chart_data *charts);

/* qs_stage_open, with a note on stderr when it removed (or found) staging folders that killed runs left behind. */
int qs_cli_stage_open(const char *outdir, struct qs_stage **stage);

/* Prints "qscope: MESSAGE" on stderr and returns the exit status for `status`; usage errors add a usage hint for
 * `command`. */
int qs_cli_fail(int status, const char *command);

/* A comma-separated list split in place into at most `max` items; returns the count, or -1 if too many/empty. */
int qs_cli_split(char *list, char **items, int max);
/* "2-8,16" -> bits (each within [QS_BITS_MIN, QS_BITS_MAX], duplicates dropped). */
int qs_cli_parse_bits(const char *s, int *bits, size_t max, size_t *n);
/* "start:stop:count" (evenly spaced, inclusive) or "a,b,c"; every value > 0. Allocates *out. */
int qs_cli_parse_multipliers(const char *s, double **out, size_t *n);
/* "64,3,3,3" -> rank and shape. */
int qs_cli_parse_shape(const char *s, struct qs_load_opts *opts);
/* Parses an unsigned integer option value. */
int qs_cli_parse_ulong(const char *s, const char *what, unsigned long *out);

/* Tensor name filters (--tensor GLOB, repeatable); no pattern selects everything. */
struct qs_filter {
	const char *globs[64];
	size_t n;
};
bool qs_cli_selected(const struct qs_filter *f, const char *name);

/* A growable list of owned strings. */
struct qs_strings {
	char **items;
	size_t n, cap;
};
int qs_strings_add(struct qs_strings *l, const char *s);
void qs_strings_free(struct qs_strings *l);

/* Input files: directories expand to their readable tensor files, in natural name order. */
struct qs_inputs {
	struct qs_strings paths;
	char stem[256]; /* default output name: the single file's stem, or the folder holding the inputs */
};
int qs_cli_inputs(char **args, int n_args, struct qs_inputs *out);
void qs_cli_inputs_free(struct qs_inputs *in);

/* An INI configuration file: its entries in file order ([section] key = value; a key given on several lines, or
 * continued on indented lines, gives several entries). */
struct qs_config_entry {
	char *section, *key, *value;
};
struct qs_config {
	char path[4096];
	char dir[4096];                 /* the file's folder with a trailing '/', or "" */
	struct qs_config_entry *entries;
	size_t n;
};
/* Reads an INI file; a line that is not INI is QS_EFORMAT naming the file and the line. */
int qs_config_read(const char *path, struct qs_config *out);
void qs_config_free(struct qs_config *c);
/* A path written in the config, relative to the config file's folder unless absolute. */
void qs_config_path(const struct qs_config *c, const char *value, char *buf, size_t len);

/* "sym,asym" -> booleans: n0 -> false, n1 -> true (duplicates dropped; QS_EUSAGE naming `what` otherwise). */
int qs_cli_parse_pair(const char *s, const char *what, const char *n0, const char *n1, bool *out, size_t *n);
/* A comma-separated list of at most `max` items, each parsed by `one` into out[i] (`elem` bytes each). */
int qs_cli_parse_list(const char *s, const char *what, void *out, size_t elem, size_t max, size_t *n,
		      int (*one)(const char *item, void *dst));
/* `one` parsers for qs_cli_parse_list: granularity, calibrator, rounding, profile. */
int qs_cli_one_gran(const char *s, void *dst);
int qs_cli_one_calib(const char *s, void *dst);
int qs_cli_one_rounding(const char *s, void *dst);
int qs_cli_one_profile(const char *s, void *dst);


#endif
