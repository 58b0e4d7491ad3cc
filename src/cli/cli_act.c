/* `qscope sweep --batches`: activation batch sets. Static quantization is calibrated on some batches (concatenated)
 * and, when evaluation batches are named, measured on those one batch at a time; dynamic quantization quantizes
 * every batch with its own scale (as at run time) and sums the errors over the batches. */
#include "cli_act.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep/kept.h"
#include "util/qs_error.h"

int qs_cli_parse_batch_list(const char *s, const char *what, size_t n_batches, struct qs_batch_list *out)
{
	memset(out, 0, sizeof *out);
	snprintf(out->text, sizeof out->text, "%s", s);
	bool *take = calloc(n_batches ? n_batches : 1, sizeof *take);
	if (!take)
		return qs_error_set(QS_ENOMEM, "out of memory");
	char buf[1024];
	snprintf(buf, sizeof buf, "%s", s);
	int rc = strlen(s) < sizeof buf && s[0] ? QS_OK : QS_EUSAGE;
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok && rc == QS_OK; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		unsigned long lo = strtoul(tok, &end, 10), hi = lo;
		if (end == tok)
			rc = QS_EUSAGE;
		else if (*end == '-') {
			char *e2;
			hi = strtoul(end + 1, &e2, 10);
			if (e2 == end + 1 || *e2 || hi < lo)
				rc = QS_EUSAGE;
		} else if (*end) {
			rc = QS_EUSAGE;
		}
		if (rc == QS_OK && hi >= n_batches) {
			free(take);
			return qs_error_set(QS_EUSAGE, "bad %s '%s': batch %lu does not exist (%zu batches: 0-%zu)", what, s,
					    hi, n_batches, n_batches ? n_batches - 1 : 0);
		}
		for (unsigned long i = lo; rc == QS_OK && i <= hi; i++)
			take[i] = true;
	}
	if (rc) {
		free(take);
		return qs_error_set(QS_EUSAGE, "bad %s '%s' (use batch numbers and ranges from 0, e.g. 0-7,9)", what, s);
	}
	out->idx = malloc(n_batches * sizeof *out->idx);
	if (!out->idx) {
		free(take);
		return qs_error_set(QS_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n_batches; i++)
		if (take[i])
			out->idx[out->n++] = i;
	free(take);
	return QS_OK;
}

/* Every batch not in `other` (all of them when other is empty), written as ranges. */
static int complement(const struct qs_batch_list *other, size_t n_batches, struct qs_batch_list *out)
{
	memset(out, 0, sizeof *out);
	out->idx = malloc((n_batches ? n_batches : 1) * sizeof *out->idx);
	if (!out->idx)
		return qs_error_set(QS_ENOMEM, "out of memory");
	size_t used = 0, k = 0;
	for (size_t i = 0; i < n_batches; i++) {
		while (k < other->n && other->idx[k] < i)
			k++;
		if (k < other->n && other->idx[k] == i)
			continue;
		out->idx[out->n++] = i;
	}
	for (size_t a = 0; a < out->n && used < sizeof out->text; a++) {
		size_t b = a;
		while (b + 1 < out->n && out->idx[b + 1] == out->idx[b] + 1)
			b++;
		used += (size_t)snprintf(out->text + used, sizeof out->text - used, b > a ? "%s%zu-%zu" : "%s%zu",
					 used ? "," : "", out->idx[a], out->idx[b]);
		a = b;
	}
	return QS_OK;
}

void qs_batch_list_free(struct qs_batch_list *l)
{
	free(l->idx);
	memset(l, 0, sizeof *l);
}

static int keep_row(void *ctx, const struct qs_sweep_row *row)
{
	return qs_kept_add(ctx, row, "");
}

/* Static quantization calibrated on `cal`; with evaluation batches, every point re-measured on them. */
static int run_static(const struct qs_act_run *run, const struct qs_batch_set *set, const struct qs_batch_list *cal,
		      const struct qs_batch_list *ev, size_t tensor_index)
{
	struct qs_tensor *t;
	int rc = qs_batch_concat(set, cal->idx, cal->n, run->load, &t);
	if (rc)
		return rc;
	struct qs_csv_act act = {"static", cal->text, ev->n ? ev->text : "", NULL};
	if (!ev->n) {
		struct qs_act_sink sink = {run, &act};
		rc = qs_sweep_tensor(run->spec, t, tensor_index, qs_act_sink_row, &sink, run->skipped);
		if (rc == QS_OK && run->calibrated)
			rc = run->calibrated(run->ctx, run->spec, t);
		qs_tensor_free(t);
		return rc;
	}
	/* per-token scales belong to the tokens they were computed on: not a static setting for other batches */
	struct qs_sweep_spec spec = *run->spec;
	struct qs_granularity grans[64];
	spec.n_grans = 0;
	for (size_t i = 0; i < run->spec->n_grans && spec.n_grans < 64; i++)
		if (run->spec->grans[i].kind != QS_GRAN_TOKEN)
			grans[spec.n_grans++] = run->spec->grans[i];
		else if (run->skipped)
			run->skipped(run->ctx, "static per-token scales cannot be evaluated on other batches (use --mode "
					       "dynamic for per-token quantization)");
	spec.grans = grans;
	struct qs_kept_points kept = {0};
	rc = spec.n_grans ? qs_sweep_tensor(&spec, t, tensor_index, keep_row, &kept, run->skipped) : QS_OK;
	for (size_t k = 0; k < ev->n && rc == QS_OK && kept.n; k++) {
		struct qs_tensor *b;
		rc = qs_batch_read(set, ev->idx[k], run->load, &b);
		if (rc == QS_OK) {
			free(b->name);
			b->name = strdup(set->name);
			b->channel_axis = t->channel_axis;
			rc = b->name ? qs_kept_eval_batch(&kept, b, ev->idx[k], run->spec->skip_nonfinite)
				     : qs_error_set(QS_ENOMEM, "out of memory");
			qs_tensor_free(b);
		}
	}
	for (size_t i = 0; i < kept.n && rc == QS_OK; i++) {
		struct qs_sweep_row *row = qs_kept_row(&kept.p[i]);
		row->tensor = t;
		act.eval = &kept.p[i].eval;
		rc = run->emit(run->ctx, row, &act);
	}
	if (rc == QS_OK && run->calibrated && kept.n)
		rc = run->calibrated(run->ctx, &spec, t);
	qs_kept_free(&kept);
	qs_tensor_free(t);
	return rc;
}

struct dyn_sink {
	struct qs_kept_points *kept;
	size_t n_multipliers;
};

static int accumulate_row(void *ctx, const struct qs_sweep_row *row)
{
	struct dyn_sink *d = ctx;
	return qs_kept_accumulate(d->kept, row, d->n_multipliers);
}

/* Dynamic quantization: every batch of `use` swept on its own, the points summed over batches. */
static int run_dynamic(const struct qs_act_run *run, const struct qs_batch_set *set, const struct qs_batch_list *use,
		       bool is_eval, size_t tensor_index)
{
	struct qs_kept_points kept = {0};
	struct dyn_sink d = {&kept, run->spec->n_multipliers};
	struct qs_tensor shape = {.name = set->name, .channel_axis = -1};
	int rc = QS_OK;
	for (size_t k = 0; k < use->n && rc == QS_OK; k++) {
		struct qs_tensor *b;
		rc = qs_batch_read(set, use->idx[k], run->load, &b);
		if (rc)
			break;
		free(b->name);
		b->name = strdup(set->name);
		b->channel_axis = b->rank >= 2 ? 1 : -1;
		if (k == 0) {
			shape.rank = b->rank;
			memcpy(shape.shape, b->shape, sizeof shape.shape);
			shape.shape[0] = 0;
		}
		shape.shape[0] += b->shape[0];
		shape.n += b->n;
		rc = b->name ? qs_sweep_tensor(run->spec, b, tensor_index, accumulate_row, &d, k ? NULL : run->skipped)
			     : qs_error_set(QS_ENOMEM, "out of memory");
		qs_tensor_free(b);
	}
	qs_kept_finish_dynamic(&kept);
	struct qs_csv_act act = {"dynamic", "", is_eval ? use->text : "", NULL};
	for (size_t i = 0; i < kept.n && rc == QS_OK; i++) {
		if (!kept.p[i].n_batches)
			continue; /* a configuration skipped for this tensor */
		struct qs_sweep_row *row = qs_kept_row(&kept.p[i]);
		row->tensor = &shape;
		act.eval = is_eval ? &row->err : NULL;
		rc = run->emit(run->ctx, row, &act);
	}
	qs_kept_free(&kept);
	return rc;
}

int qs_cli_sweep_batch_set(const struct qs_act_run *run, const struct qs_batch_set *set, size_t tensor_index)
{
	struct qs_batch_list cal = {0}, ev = {0};
	int rc = QS_OK;
	if (run->eval_batches)
		rc = qs_cli_parse_batch_list(run->eval_batches, "--eval-batches", set->n, &ev);
	if (rc == QS_OK && run->calib_batches)
		rc = qs_cli_parse_batch_list(run->calib_batches, "--calib-batches", set->n, &cal);
	else if (rc == QS_OK)
		rc = complement(&ev, set->n, &cal);
	if (rc == QS_OK && !cal.n && run->static_mode)
		rc = qs_error_set(QS_EUSAGE, "'%s': no calibration batch left (%zu batches)", set->name, set->n);
	if (rc && !strstr(qs_error_message(), set->name))
		rc = qs_error_prefix(rc, "'%s': ", set->name);
	if (rc == QS_OK && run->static_mode)
		rc = run_static(run, set, &cal, &ev, tensor_index);
	if (rc == QS_OK && run->dynamic_mode) {
		struct qs_batch_list all = {0};
		if (!ev.n)
			rc = complement(&ev, set->n, &all);
		if (rc == QS_OK)
			rc = run_dynamic(run, set, ev.n ? &ev : &all, ev.n > 0, tensor_index);
		qs_batch_list_free(&all);
	}
	qs_batch_list_free(&cal);
	qs_batch_list_free(&ev);
	return rc;
}

int qs_act_sink_row(void *ctx, const struct qs_sweep_row *row)
{
	const struct qs_act_sink *s = ctx;
	return s->run->emit(s->run->ctx, row, s->act);
}
