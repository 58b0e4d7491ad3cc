/* Internal to src/output/plots*.c: the gnuplot scaffolding the chart writers share, and the per-tensor view and
 * chart writers that qs_plots_write (plots.c) calls. */
#ifndef QS_PLOTS_GP_H
#define QS_PLOTS_GP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "../recommend/recommend.h"
#include "chart_data.h"
#include "plots.h"
#include "stage.h"

#define STEM_MAX 200
#define LABEL_MAX 512

#define QS_GP_N_COLOURS 8
extern const char *const qs_gp_colours[QS_GP_N_COLOURS];
#define COLOUR_MET "#2ca02c"
#define COLOUR_MISSED "#d62728"

/* s as a single-quoted gnuplot string: '' for a quote, control characters as spaces. */
void qs_gp_quote(FILE *f, const char *s);
/* s as a double-quoted field of a gnuplot data file, which has no escapes: '"' becomes '\'', controls spaces. */
void qs_gp_dat_quote(FILE *f, const char *s);
/* "channel sym", plus whatever differs from the defaults; config_label puts "8-bit " in front. */
void qs_gp_family_label(const struct qs_rec_point *p, char *buf, size_t len);
void qs_gp_config_label(const struct qs_rec_point *p, char *buf, size_t len);
/* Numbers read back exactly; non-finite ones as NaN (gnuplot skips them). */
void qs_gp_put_num(FILE *f, double v);

/* A log axis over the positive values seen, widened to whole decades. */
struct qs_gp_log_range {
	double lo, hi;
};
void qs_gp_log_range_add(struct qs_gp_log_range *r, double v);
/* Sets a log axis from whole decades around the values (times `headroom` at the top); spans of at most two
 * decades get tics at 2 and 5 too. False when there is no positive value. */
bool qs_gp_log_range_set(const struct qs_gp_log_range *r, FILE *f, char axis, double headroom);
/* A linear axis over [lo, hi] with a margin; *used (if given) receives the range set. */
void qs_gp_lin_range_set(FILE *f, char axis, double lo, double hi, double used[2]);

/* Terminal chosen by the gnuplot variable fmt; output STEM.fmt beside the script. */
void qs_gp_header(FILE *f, const char *stem, int w, int h);
/* A chart with nothing to draw on a log axis (every error 0): a framed note instead of a warning. */
void qs_gp_nothing(FILE *f, const char *what);
/* Opens plots/STEM{dat_suffix} and plots/STEM.gp in the stage. */
int qs_gp_open_pair(struct qs_stage *st, const char *stem, const char *dat_suffix, FILE **dat, FILE **gp);
/* Closes the non-NULL files (setting them NULL); returns rc, or the first close error when rc is QS_OK. */
int qs_gp_close_files(struct qs_stage *st, FILE **files, size_t n, int rc);

/* One tensor as the chart writers see it. */
struct qs_plots_view {
	const char *name;
	char stem[STEM_MAX + 24];
	const struct qs_rec_point *const *pts; /* sorted by family, bits, calibrator, multiplier */
	size_t n_pts;
	const struct qs_rec_config *cfgs;      /* the tensor's configurations in rec */
	size_t n_cfgs;
	const struct qs_rec_config *chosen;    /* the recommended one */
	const struct qs_chart_tensor *data;    /* histogram and channel data, or NULL */
};

/* Opens plots/STEM.dat and plots/STEM.gp for tensor t's chart SUFFIX (STEM = "<t's stem>.<suffix>", written into
 * stem) and starts the .dat with "# qscope: <lead><t's name, quoted>". On error both files are closed (fs[0..1]). */
int qs_gp_open_tensor_chart(struct qs_stage *st, const struct qs_plots_view *t, const char *suffix, const char *lead,
			    char *stem, size_t stem_len, FILE **fs);

/* Per-tensor charts (plots_tensor.c, plots_values.c); cfgs: scratch room for the tensor's configurations. */
int qs_plots_err_vs_scale(struct qs_stage *st, const struct qs_plots_view *t);
int qs_plots_err_vs_bits(struct qs_stage *st, const struct qs_plots_view *t, const struct qs_rec_config **cfgs);
int qs_plots_pareto(struct qs_stage *st, const struct qs_plots_view *t, const struct qs_rec_config **cfgs);
int qs_plots_histogram(struct qs_stage *st, const struct qs_plots_view *t);
int qs_plots_channels(struct qs_stage *st, const struct qs_plots_view *t);
/* Per-model charts (plots_model.c); ch: scratch room for n_t configuration pointers. */
int qs_plots_ranked(struct qs_stage *st, const struct qs_plots_view *tv, size_t n_t, const struct qs_rec_config **ch);
int qs_plots_sqnr(struct qs_stage *st, const struct qs_plots_view *tv, size_t n_t);

#endif
