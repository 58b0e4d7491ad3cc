/* Activation batch sets: expansion of --batches patterns, naming, and reading by concatenation along axis 0. */
#include "batches.h"

#include <ctype.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>

#include "../util/qs_error.h"
#include "../util/qs_alloc.h"

void qs_batch_set_name(const char *path, const char *stem, char *buf, size_t len)
{
	size_t end = strlen(stem);
	while (end > 0 && isdigit((unsigned char)stem[end - 1]))
		end--;
	bool numbered = end < strlen(stem);
	if (numbered && end > 0 && strchr("._-/:", stem[end - 1]))
		end--;
	if (!numbered)
		end = strlen(stem);
	if (end > 0) {
		snprintf(buf, len, "%.*s", (int)end, stem);
		return;
	}
	/* only a number: the folder's name */
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof dir, ".");
	char *base = strrchr(dir, '/');
	snprintf(buf, len, "%s", base ? base + 1 : dir);
}

static int cmp_batch(const void *pa, const void *pb)
{
	const struct qs_batch *a = pa, *b = pb;
	int c = qs_natural_cmp(a->path, b->path);
	return c ? c : qs_natural_cmp(a->key ? a->key : "", b->key ? b->key : "");
}

static int cmp_set(const void *pa, const void *pb)
{
	return qs_natural_cmp(((const struct qs_batch_set *)pa)->name, ((const struct qs_batch_set *)pb)->name);
}

static int add_batch(struct qs_batch_sets *sets, const char *name, const char *path, const char *key)
{
	struct qs_batch_set *s = NULL;
	for (size_t i = 0; i < sets->n && !s; i++)
		if (strcmp(sets->sets[i].name, name) == 0)
			s = &sets->sets[i];
	if (!s) {
		if (!qs_grow(&sets->sets, &sets->cap, sets->n, sizeof *sets->sets, 8))
			return qs_error_set(QS_ENOMEM, "out of memory listing batches");
		s = &sets->sets[sets->n];
		memset(s, 0, sizeof *s);
		if (!(s->name = strdup(name)))
			return qs_error_set(QS_ENOMEM, "out of memory listing batches");
		sets->n++;
	}
	if (!qs_grow(&s->batches, &s->cap, s->n, sizeof *s->batches, 16))
		return qs_error_set(QS_ENOMEM, "out of memory listing batches");
	struct qs_batch *b = &s->batches[s->n];
	b->path = strdup(path);
	b->key = key ? strdup(key) : NULL;
	if (!b->path || (key && !b->key)) {
		free(b->path);
		free(b->key);
		return qs_error_set(QS_ENOMEM, "out of memory listing batches");
	}
	s->n++;
	return QS_OK;
}

/* One matched file: its arrays, named by the convention above. A .npy file holds one array and is not opened here;
 * a container is read once to list its arrays (the data are dropped). */
static int add_file(struct qs_batch_sets *sets, const char *path, const struct qs_load_opts *opts)
{
	char name[256], stem[256];
	size_t len = strlen(path);
	if (!opts->dtype && len > 4 && strcmp(path + len - 4, ".npy") == 0) {
		qs_path_stem(path, stem, sizeof stem);
		qs_batch_set_name(path, stem, name, sizeof name);
		return add_batch(sets, name, path, NULL);
	}
	struct qs_source *src;
	int rc = qs_source_open(path, opts, &src);
	if (rc)
		return rc;
	struct qs_tensor *t, *first = NULL;
	size_t count = 0;
	while (rc == QS_OK && (rc = qs_source_next(src, &t)) == QS_OK && t) {
		if (count == 1) { /* a container: the first array is a batch by its key too */
			qs_batch_set_name(path, first->name, name, sizeof name);
			rc = add_batch(sets, name, path, first->name);
		}
		if (rc == QS_OK && count >= 1) {
			qs_batch_set_name(path, t->name, name, sizeof name);
			rc = add_batch(sets, name, path, t->name);
		}
		if (count == 0)
			first = t;
		else
			qs_tensor_free(t);
		count++;
	}
	qs_source_close(src);
	if (rc == QS_OK && count == 0)
		rc = qs_error_set(QS_EFORMAT, "'%s': no float tensor in this batch file", path);
	if (rc == QS_OK && count == 1) {
		qs_path_stem(path, stem, sizeof stem);
		qs_batch_set_name(path, stem, name, sizeof name);
		rc = add_batch(sets, name, path, NULL);
	}
	qs_tensor_free(first);
	return rc;
}

int qs_batch_sets_add_glob(struct qs_batch_sets *sets, const char *pattern, const struct qs_load_opts *opts)
{
	glob_t g;
	int grc = glob(pattern, 0, NULL, &g);
	if (grc == GLOB_NOMATCH)
		return qs_error_set(QS_EIO, "'%s': no batch file matches", pattern);
	if (grc != 0)
		return qs_error_set(QS_EIO, "'%s': cannot expand the batch pattern", pattern);
	int rc = QS_OK;
	for (size_t i = 0; i < g.gl_pathc && rc == QS_OK; i++)
		rc = add_file(sets, g.gl_pathv[i], opts);
	globfree(&g);
	for (size_t i = 0; i < sets->n; i++)
		qsort(sets->sets[i].batches, sets->sets[i].n, sizeof *sets->sets[i].batches, cmp_batch);
	qsort(sets->sets, sets->n, sizeof *sets->sets, cmp_set);
	return rc;
}

void qs_batch_sets_free(struct qs_batch_sets *sets)
{
	for (size_t i = 0; i < sets->n; i++) {
		struct qs_batch_set *s = &sets->sets[i];
		for (size_t k = 0; k < s->n; k++) {
			free(s->batches[k].path);
			free(s->batches[k].key);
		}
		free(s->batches);
		free(s->name);
	}
	free(sets->sets);
	memset(sets, 0, sizeof *sets);
}

int qs_batch_read(const struct qs_batch_set *s, size_t i, const struct qs_load_opts *opts, struct qs_tensor **out)
{
	const struct qs_batch *b = &s->batches[i];
	struct qs_source *src = NULL;
	*out = NULL;
	int rc = qs_source_open(b->path, opts, &src);
	struct qs_tensor *t = NULL;
	while (rc == QS_OK && (rc = qs_source_next(src, &t)) == QS_OK && t) {
		if (!b->key || strcmp(t->name, b->key) == 0)
			break;
		qs_tensor_free(t);
		t = NULL;
	}
	if (src)
		qs_source_close(src);
	if (rc == QS_OK && !t)
		rc = qs_error_set(QS_EFORMAT, "'%s': array '%s' is gone", b->path, b->key ? b->key : "");
	if (rc == QS_OK && t->rank == 0) {
		rc = qs_error_set(QS_EFORMAT, "'%s': a batch of '%s' is a scalar (batches need a batch axis)", b->path,
				  s->name);
	}
	if (rc) {
		qs_tensor_free(t);
		return rc;
	}
	*out = t;
	return QS_OK;
}

int qs_batch_concat(const struct qs_batch_set *s, const size_t *idx, size_t n_idx, const struct qs_load_opts *opts,
		    struct qs_tensor **out)
{
	*out = NULL;
	struct qs_tensor *all = NULL; /* the first batch, grown by the others */
	size_t cap = 0;               /* values all->data has room for */
	int rc = QS_OK;
	for (size_t k = 0; k < n_idx && rc == QS_OK; k++) {
		struct qs_tensor *t;
		rc = qs_batch_read(s, idx[k], opts, &t);
		if (rc)
			break;
		if (!all) {
			char *name = strdup(s->name);
			if (!name) {
				qs_tensor_free(t);
				rc = qs_error_set(QS_ENOMEM, "out of memory reading '%s'", s->name);
				break;
			}
			free(t->name);
			t->name = name;
			t->channel_axis = t->rank >= 2 ? 1 : -1;
			snprintf(t->consumer, sizeof t->consumer, "activation");
			all = t;
			cap = t->n;
			continue;
		}
		bool same = t->rank == all->rank;
		for (int a = 1; a < t->rank && same; a++)
			same = t->shape[a] == all->shape[a];
		if (!same) {
			char want[128], got[128];
			struct qs_tensor probe = *all;
			probe.shape[0] = t->shape[0];
			qs_tensor_format_shape(&probe, want, sizeof want);
			qs_tensor_format_shape(t, got, sizeof got);
			rc = qs_error_set(QS_EFORMAT, "'%s': batch of '%s' has shape %s, the others %s (only axis 0 may differ)",
					  s->batches[idx[k]].path, s->name, got, want);
		}
		if (rc == QS_OK && all->n + t->n > cap) {
			size_t want = all->n + t->n * (n_idx - k); /* exact when the remaining batches are this size */
			double *grown = realloc(all->data, want * sizeof *grown);
			if (!grown)
				rc = qs_error_set(QS_ENOMEM, "out of memory concatenating the batches of '%s'", s->name);
			else {
				all->data = grown;
				cap = want;
			}
		}
		if (rc == QS_OK) {
			memcpy(all->data + all->n, t->data, t->n * sizeof *t->data);
			all->n += t->n;
			all->shape[0] += t->shape[0];
		}
		qs_tensor_free(t);
	}
	if (rc == QS_OK && !all)
		rc = qs_error_set(QS_EINVAL, "'%s': no batch selected", s->name);
	if (rc) {
		qs_tensor_free(all);
		return rc;
	}
	*out = all;
	return QS_OK;
}
