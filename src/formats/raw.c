/* The raw reader: headerless f32/f64/f16/bf16 data whose type and shape the user gives (--dtype, --shape). */
#include "format.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../util/qs_error.h"

struct qs_raw {
	FILE *f;
	char *path;
	enum qs_elem elem;
	bool big_endian;
	int rank;
	size_t shape[QS_MAX_RANK];
	size_t n;
	bool done;                  /* the one tensor has been handed out */
};

static int qs_raw_detect(const unsigned char *head, size_t len, const char *path)
{
	(void)head;
	(void)len;
	static const char *const suffixes[] = {".bin", ".raw", ".f32", ".f16", ".bf16", ".f64"};
	const char *dot = strrchr(path, '.');
	if (!dot || strchr(dot, '/'))
		return 0;
	for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
		if (strcasecmp(dot, suffixes[i]) == 0)
			return 1;
	}
	return 0;
}

/* "64x3x3x3", or "scalar" for rank 0. */
static void qs_raw_format_shape(int rank, const size_t *shape, char *buf, size_t len)
{
	if (rank == 0) {
		snprintf(buf, len, "scalar");
		return;
	}
	size_t used = 0;
	buf[0] = '\0';
	for (int i = 0; i < rank && used < len; i++) {
		int w = snprintf(buf + used, len - used, i ? "x%zu" : "%zu", shape[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

static int qs_raw_check_size(struct qs_raw *raw, const struct qs_load_opts *opts, size_t file_size)
{
	const char *path = raw->path;
	const char *dtype = qs_elem_name(raw->elem);
	size_t elem_size = qs_elem_size(raw->elem);
	if (opts->rank == -1) {
		if (file_size % elem_size != 0)
			return qs_error_set(QS_EFORMAT, "'%s': size mismatch (%zu bytes is not a whole number of %zu-byte %s values)",
			                    path, file_size, elem_size, dtype);
		raw->rank = 1;
		raw->shape[0] = file_size / elem_size;
		raw->n = raw->shape[0];
		return QS_OK;
	}
	raw->rank = opts->rank;
	memcpy(raw->shape, opts->shape, sizeof raw->shape);
	char shape[QS_MAX_RANK * 21 + 8];
	qs_raw_format_shape(raw->rank, raw->shape, shape, sizeof shape);
	if (!qs_shape_count(raw->rank, raw->shape, &raw->n) || raw->n > SIZE_MAX / elem_size ||
	    raw->n > SIZE_MAX / sizeof(double))
		return qs_error_set(QS_EFORMAT, "'%s': size mismatch (shape %s of %s overflows, file has %zu bytes)", path,
		                    shape, dtype, file_size);
	if (raw->n * elem_size != file_size)
		return qs_error_set(QS_EFORMAT, "'%s': size mismatch (shape %s of %s needs %zu bytes, file has %zu)", path,
		                    shape, dtype, raw->n * elem_size, file_size);
	return QS_OK;
}

static void qs_raw_close(void *state)
{
	struct qs_raw *raw = state;
	if (!raw)
		return;
	if (raw->f)
		fclose(raw->f);
	free(raw->path);
	free(raw);
}

static int qs_raw_open(const char *path, const struct qs_load_opts *opts, void **state)
{
	*state = NULL;
	if (!opts || !opts->dtype)
		return qs_error_set(QS_EUSAGE, "'%s': raw data needs --dtype (and usually --shape)", path);
	enum qs_elem elem;
	if (!qs_elem_parse(opts->dtype, &elem))
		return qs_error_set(QS_EUSAGE, "unknown --dtype '%s' (use f32, f64, f16 or bf16)", opts->dtype);
	if (opts->rank < -1 || opts->rank > QS_MAX_RANK)
		return qs_error_set(QS_EUSAGE, "'%s': --shape has %d dimensions (qscope reads up to %d)", path, opts->rank,
		                    QS_MAX_RANK);

	struct qs_raw *raw = calloc(1, sizeof *raw);
	if (!raw || !(raw->path = strdup(path))) {
		free(raw);
		return qs_error_set(QS_ENOMEM, "'%s': out of memory", path);
	}
	raw->elem = elem;
	raw->big_endian = opts->big_endian;
	int status;
	size_t file_size;
	raw->f = fopen(path, "rb");
	if (!raw->f)
		status = qs_error_set(QS_EIO, "'%s': cannot open: %s", path, strerror(errno));
	else if ((status = qs_file_size(raw->f, path, &file_size)) == QS_OK)
		status = qs_raw_check_size(raw, opts, file_size);
	if (status != QS_OK) {
		qs_raw_close(raw);
		return status;
	}
	*state = raw;
	return QS_OK;
}

static int qs_raw_next(void *state, struct qs_tensor **out)
{
	struct qs_raw *raw = state;
	*out = NULL;
	if (raw->done)
		return QS_OK;
	raw->done = true;

	size_t name_len = strlen(raw->path) + 1;
	char *name = malloc(name_len);
	struct qs_tensor *t = NULL;
	if (name) {
		qs_path_stem(raw->path, name, name_len);
		t = qs_tensor_alloc(name, qs_elem_name(raw->elem), raw->rank, raw->shape);
		free(name);
	}
	if (!t)
		return qs_error_set(QS_ENOMEM, "'%s': out of memory", raw->path);
	int status = qs_elem_read(raw->f, raw->path, raw->elem, raw->big_endian, raw->n, t->data);
	if (status != QS_OK) {
		qs_tensor_free(t);
		return status;
	}
	*out = t;
	return QS_OK;
}

const struct qs_format qs_format_raw = {
	.name = "raw",
	.detect = qs_raw_detect,
	.open = qs_raw_open,
	.next_tensor = qs_raw_next,
	.close = qs_raw_close,
};
