/* Charts of a sweep: which charts each tensor and the model get, the manifest plots/charts.txt, pruning, stems. */
#include "plots.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../util/qs_alloc.h"
#include "../util/qs_error.h"
#include "../util/qs_names.h"
#include "plots_gp.h"

/* Points by tensor name, family, bits, calibrator, multiplier. */
static int cmp_point(const void *va, const void *vb)
{
	const struct qs_rec_point *a = *(const struct qs_rec_point *const *)va;
	const struct qs_rec_point *b = *(const struct qs_rec_point *const *)vb;
	int c;
	if ((c = strcmp(a->tensor, b->tensor)) || (c = qs_rec_cmp_family(a, b)))
		return c;
	if (a->bits != b->bits)
		return a->bits < b->bits ? -1 : 1;
	if ((c = strcmp(a->calib, b->calib)))
		return c;
	return (a->multiplier > b->multiplier) - (a->multiplier < b->multiplier);
}

/* ---- qs_plots_write ------------------------------------------------------------------------------------------- */

int qs_plots_write(struct qs_stage *st, const struct qs_rec_points *pts, const struct qs_recommendation *rec,
		   const struct qs_chart_data *cd)
{
	size_t n_t = rec->n_tensors;
	struct qs_plots_view *tv = calloc(n_t ? n_t : 1, sizeof *tv);
	const struct qs_rec_point **sorted = malloc((pts->n ? pts->n : 1) * sizeof *sorted);
	const struct qs_rec_config **cfgs = malloc((rec->n_configs > n_t ? rec->n_configs : n_t) * sizeof *cfgs + 1);
	FILE *manifest = NULL;
	int rc = QS_OK;
	if (!tv || !sorted || !cfgs) {
		rc = qs_error_set(QS_ENOMEM, "out of memory writing charts");
		goto out;
	}
	for (size_t i = 0; i < pts->n; i++)
		sorted[i] = &pts->p[i];
	qsort(sorted, pts->n, sizeof *sorted, cmp_point);
	for (size_t r = 0; r < n_t; r++) {
		struct qs_plots_view *t = &tv[r];
		t->name = rec->tensors[r].name;
		t->cfgs = rec->tensors[r].cfgs;
		t->n_cfgs = rec->tensors[r].n_cfgs;
		t->chosen = rec->tensors[r].chosen;
		if (!t->cfgs || !t->chosen) {
			rc = qs_error_set(QS_EINVAL, "recommendation does not match its points");
			goto out;
		}
		/* the tensor's points: binary search for the first of its name */
		size_t lo = 0, hi = pts->n;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (strcmp(sorted[mid]->tensor, t->name) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		size_t end = lo;
		while (end < pts->n && strcmp(sorted[end]->tensor, t->name) == 0)
			end++;
		t->pts = sorted + lo;
		t->n_pts = end - lo;
		qs_plots_tensor_stem(rec, r, t->stem, sizeof t->stem);
		t->data = qs_chart_data_find(cd, t->name);
	}
	for (size_t r = 0; r < n_t && rc == QS_OK; r++) {
		rc = qs_plots_err_vs_scale(st, &tv[r]);
		if (rc == QS_OK)
			rc = qs_plots_err_vs_bits(st, &tv[r], cfgs);
		if (rc == QS_OK)
			rc = qs_plots_pareto(st, &tv[r], cfgs);
		if (rc == QS_OK && tv[r].data && tv[r].data->n_bins)
			rc = qs_plots_histogram(st, &tv[r]);
		if (rc == QS_OK && tv[r].data && tv[r].data->n_channels)
			rc = qs_plots_channels(st, &tv[r]);
	}
	if (rc == QS_OK)
		rc = qs_plots_ranked(st, tv, n_t, cfgs);
	if (rc == QS_OK)
		rc = qs_plots_sqnr(st, tv, n_t);
	if (rc == QS_OK)
		rc = qs_stage_fopen(st, "plots/charts.txt", &manifest);
	if (rc == QS_OK) {
		for (size_t r = 0; r < n_t; r++) {
			fprintf(manifest, "%s.err_vs_scale\n%s.err_vs_bits\n%s.pareto\n", tv[r].stem, tv[r].stem, tv[r].stem);
			if (tv[r].data && tv[r].data->n_bins)
				fprintf(manifest, "%s.histogram\n", tv[r].stem);
			if (tv[r].data && tv[r].data->n_channels)
				fprintf(manifest, "%s.channels\n", tv[r].stem);
		}
		fputs("model.ranked_error\nmodel.sqnr_by_layer\n", manifest);
		rc = qs_stage_fclose(st, manifest);
	}
out:
	free(tv);
	free(sorted);
	free(cfgs);
	return rc;
}

/* ---- the manifest, pruning ------------------------------------------------------------------------------------ */

void qs_plots_stems_free(char **stems, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(stems[i]);
	free(stems);
}

int qs_plots_stems(const char *plots_dir, char ***stems, size_t *n)
{
	char path[4096], line[STEM_MAX + 64];
	*stems = NULL;
	*n = 0;
	snprintf(path, sizeof path, "%s/charts.txt", plots_dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return qs_error_set(QS_EIO, "'%s': cannot open: %s", path, strerror(errno));
	size_t cap = 0;
	int rc = QS_OK;
	while (rc == QS_OK && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0])
			continue;
		if (!qs_grow(stems, &cap, *n, sizeof **stems, 64) || !((*stems)[*n] = strdup(line)))
			rc = qs_error_set(QS_ENOMEM, "out of memory");
		else
			(*n)++;
	}
	fclose(f);
	if (rc) {
		qs_plots_stems_free(*stems, *n);
		*stems = NULL;
		*n = 0;
	}
	return rc;
}

static const char *const chart_suffixes[] = {".best.dat", ".dat", ".gp", ".png", ".svg", ".pdf"};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int qs_plots_prune(const char *plots_dir)
{
	char **stems;
	size_t n;
	int rc = qs_plots_stems(plots_dir, &stems, &n);
	if (rc)
		return rc;
	qsort(stems, n, sizeof *stems, cmp_str);
	DIR *d = opendir(plots_dir);
	if (!d) {
		rc = qs_error_set(QS_EIO, "'%s': cannot open folder: %s", plots_dir, strerror(errno));
		qs_plots_stems_free(stems, n);
		return rc;
	}
	struct dirent *e;
	char stem[STEM_MAX + 64], path[4096];
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		for (size_t s = 0; s < sizeof chart_suffixes / sizeof *chart_suffixes; s++) {
			size_t ls = strlen(chart_suffixes[s]);
			if (len <= ls || len - ls >= sizeof stem || strcmp(e->d_name + len - ls, chart_suffixes[s]))
				continue;
			memcpy(stem, e->d_name, len - ls);
			stem[len - ls] = '\0';
			const char *key = stem;
			if (!bsearch(&key, stems, n, sizeof *stems, cmp_str)) {
				snprintf(path, sizeof path, "%s/%s", plots_dir, e->d_name);
				unlink(path);
			}
			break;
		}
	}
	closedir(d);
	qs_plots_stems_free(stems, n);
	return QS_OK;
}

/* The stem before clashes are resolved. */
static void plain_stem(const char *name, char *stem, size_t len)
{
	char base[STEM_MAX + 1];
	snprintf(base, sizeof base, "%s", name);
	qs_name_file_safe(base);
	bool reserved = strcmp(base, "model") == 0;
	snprintf(stem, len, reserved ? "_%s" : "%s", base);
}

void qs_plots_tensor_stem(const struct qs_recommendation *rec, size_t r, char *stem, size_t len)
{
	char other[STEM_MAX + 2];
	plain_stem(rec->tensors[r].name, stem, len);
	for (size_t q = 0; q < r; q++) {
		plain_stem(rec->tensors[q].name, other, sizeof other);
		if (strcmp(other, stem) == 0) {
			size_t used = strlen(stem);
			snprintf(stem + used, len - used, "-%zu", r);
			return;
		}
	}
}
