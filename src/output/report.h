/* A human-readable report of a sweep: OUT/report.md and OUT/report.html (self-contained: inline CSS, no scripts, no
 * network; charts by relative path plots/STEM.png, as written by qs_plots_write and rendered by qs_plots_render).
 * Sections: run configuration, model summary, recommendation table, model charts, the worst tensors (top
 * QS_REPORT_WORST by rel at the recommended setting) with their charts, and a plain-language note per tensor. */
#ifndef QS_REPORT_H
#define QS_REPORT_H

#include "../recommend/recommend.h"
#include "chart_data.h"
#include "stage.h"

/* Most tensors in the "worst tensors" section. */
#define QS_REPORT_WORST 10

/* Stages report.md and report.html. rec must come from qs_recommend(pts, target, ...); run_config is shown verbatim
 * (e.g. the command line; NULL: omitted); cd (NULL: none) adds the histogram and per-channel charts of the worst
 * tensors and a per-channel sentence to each tensor's note. */
int qs_report_write(struct qs_stage *st, const struct qs_rec_points *pts, const struct qs_recommendation *rec,
		    const struct qs_target *target, const char *run_config, const struct qs_chart_data *cd);

#endif
