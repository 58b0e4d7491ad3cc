/* The .npy reader: NumPy format versions 1.0-3.0, float16/32/64 in either byte order, C or Fortran order. */
#include "npy.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../util/qs_error.h"

#define QS_NPY_MAGIC "\x93NUMPY"
#define QS_NPY_MAGIC_LEN 6

struct qs_npy {
	FILE *f;                    /* positioned at the first data byte */
	char *path;
	struct qs_npy_info info;
	bool done;                  /* the one tensor has been handed out */
};

/* The header dict as parsed, before it is checked. */
struct qs_npy_header {
	const char *descr;          /* the descr value's text: a string's contents, or a list's source text */
	size_t descr_len;
	bool descr_is_string;
	bool fortran;
	int rank;                   /* may exceed QS_MAX_RANK; only the first QS_MAX_RANK dims are stored */
	size_t shape[QS_MAX_RANK];
	bool shape_overflow;        /* a dimension does not fit in size_t */
	unsigned seen;              /* bit per key: 1 descr, 2 fortran_order, 4 shape */
};

struct qs_npy_lexer {
	const char *p;
	const char *end;
};

static int qs_npy_malformed(const char *path, const char *what)
{
	return qs_error_set(QS_EFORMAT, "'%s': malformed header (%s)", path, what);
}

static void qs_npy_skip_ws(struct qs_npy_lexer *lx)
{
	while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\n' || *lx->p == '\r'))
		lx->p++;
}

/* Consumes `c` (after whitespace) if it is next. */
static bool qs_npy_accept(struct qs_npy_lexer *lx, char c)
{
	qs_npy_skip_ws(lx);
	if (lx->p < lx->end && *lx->p == c) {
		lx->p++;
		return true;
	}
	return false;
}

/* A Python string literal in single or double quotes; s and len span its contents (escapes left as written). */
static bool qs_npy_string(struct qs_npy_lexer *lx, const char **s, size_t *len)
{
	qs_npy_skip_ws(lx);
	if (lx->p >= lx->end || (*lx->p != '\'' && *lx->p != '"'))
		return false;
	char quote = *lx->p++;
	const char *start = lx->p;
	while (lx->p < lx->end && *lx->p != quote) {
		if (*lx->p == '\\' && lx->p + 1 < lx->end)
			lx->p++;
		lx->p++;
	}
	if (lx->p >= lx->end)
		return false;
	*s = start;
	*len = (size_t)(lx->p - start);
	lx->p++;
	return true;
}

/* Skips any value (nested brackets, strings) up to the ',' or '}' that ends it; false if unbalanced. */
static bool qs_npy_skip_value(struct qs_npy_lexer *lx)
{
	int depth = 0;
	qs_npy_skip_ws(lx);
	const char *start = lx->p;
	while (lx->p < lx->end) {
		char c = *lx->p;
		if (c == '\'' || c == '"') {
			const char *s;
			size_t len;
			if (!qs_npy_string(lx, &s, &len))
				return false;
			continue;
		}
		if (c == '[' || c == '(' || c == '{') {
			depth++;
		} else if (c == ']' || c == ')' || c == '}') {
			if (depth == 0)
				break;
			depth--;
		} else if (c == ',' && depth == 0) {
			break;
		}
		lx->p++;
	}
	return depth == 0 && lx->p > start;
}

static bool qs_npy_word(struct qs_npy_lexer *lx, const char *word)
{
	qs_npy_skip_ws(lx);
	size_t n = strlen(word);
	if ((size_t)(lx->end - lx->p) < n || memcmp(lx->p, word, n) != 0)
		return false;
	const char *after = lx->p + n;
	if (after < lx->end && (*after == '_' || (*after >= '0' && *after <= '9') || (*after >= 'a' && *after <= 'z') ||
	                        (*after >= 'A' && *after <= 'Z')))
		return false;
	lx->p = after;
	return true;
}

/* A shape tuple: "()", "(3,)", "(2, 3)", "(2, 3,)"; a 1-tuple needs its comma, as in Python. */
static int qs_npy_shape(struct qs_npy_lexer *lx, struct qs_npy_header *h, const char *path)
{
	if (!qs_npy_accept(lx, '('))
		return qs_npy_malformed(path, "bad shape: expected a tuple");
	h->rank = 0;
	bool comma = false;
	while (!qs_npy_accept(lx, ')')) {
		if (h->rank > 0 && !comma)
			return qs_npy_malformed(path, "bad shape: expected ',' between dimensions");
		qs_npy_skip_ws(lx);
		if (lx->p >= lx->end || *lx->p < '0' || *lx->p > '9')
			return qs_npy_malformed(path, "bad shape: dimensions must be non-negative integers");
		size_t dim = 0;
		while (lx->p < lx->end && *lx->p >= '0' && *lx->p <= '9') {
			size_t digit = (size_t)(*lx->p - '0');
			if (dim > (SIZE_MAX - digit) / 10)
				h->shape_overflow = true;
			else
				dim = dim * 10 + digit;
			lx->p++;
		}
		if (h->rank < QS_MAX_RANK)
			h->shape[h->rank] = dim;
		if (h->rank < INT_MAX)
			h->rank++;
		comma = qs_npy_accept(lx, ',');
	}
	if (h->rank == 1 && !comma)
		return qs_npy_malformed(path, "bad shape: a 1-tuple needs a trailing comma");
	return QS_OK;
}

static int qs_npy_parse_header(const char *text, size_t len, const char *path, struct qs_npy_header *h)
{
	struct qs_npy_lexer lx = {text, text + len};
	memset(h, 0, sizeof *h);
	if (!qs_npy_accept(&lx, '{'))
		return qs_npy_malformed(path, "expected a dict");
	bool comma = true;
	while (!qs_npy_accept(&lx, '}')) {
		if (!comma)
			return qs_npy_malformed(path, "expected ',' or '}' after a value");
		const char *key;
		size_t key_len;
		if (!qs_npy_string(&lx, &key, &key_len))
			return qs_npy_malformed(path, "expected a quoted key");
		if (!qs_npy_accept(&lx, ':'))
			return qs_npy_malformed(path, "expected ':' after a key");
		unsigned bit;
		if (key_len == 5 && memcmp(key, "descr", 5) == 0) {
			bit = 1;
			qs_npy_skip_ws(&lx);
			const char *start = lx.p;
			if (qs_npy_string(&lx, &h->descr, &h->descr_len)) {
				h->descr_is_string = true;
			} else if (qs_npy_skip_value(&lx)) {
				h->descr = start;
				h->descr_len = (size_t)(lx.p - start);
			} else {
				return qs_npy_malformed(path, "bad descr");
			}
		} else if (key_len == 13 && memcmp(key, "fortran_order", 13) == 0) {
			bit = 2;
			if (qs_npy_word(&lx, "True"))
				h->fortran = true;
			else if (qs_npy_word(&lx, "False"))
				h->fortran = false;
			else
				return qs_npy_malformed(path, "fortran_order must be True or False");
		} else if (key_len == 5 && memcmp(key, "shape", 5) == 0) {
			bit = 4;
			int status = qs_npy_shape(&lx, h, path);
			if (status != QS_OK)
				return status;
		} else {
			return qs_error_set(QS_EFORMAT, "'%s': malformed header (unexpected key '%.*s')", path,
			                    key_len > 40 ? 40 : (int)key_len, key);
		}
		if (h->seen & bit)
			return qs_error_set(QS_EFORMAT, "'%s': malformed header (duplicate key '%.*s')", path, (int)key_len,
			                    key);
		h->seen |= bit;
		comma = qs_npy_accept(&lx, ',');
	}
	qs_npy_skip_ws(&lx);
	if (lx.p != lx.end)
		return qs_npy_malformed(path, "unexpected text after the dict");
	static const char *const names[] = {"descr", "fortran_order", "shape"};
	for (unsigned i = 0; i < 3; i++) {
		if (!(h->seen & (1u << i)))
			return qs_error_set(QS_EFORMAT, "'%s': malformed header (missing key '%s')", path, names[i]);
	}
	return QS_OK;
}

static bool qs_host_big_endian(void)
{
	const uint16_t probe = 1;
	unsigned char first;
	memcpy(&first, &probe, 1);
	return first == 0;
}

/* '<f4' '>f8' '=f2' '|f4' 'f4': an optional byte-order mark, then float of 2, 4 or 8 bytes. */
static bool qs_npy_dtype(const char *s, size_t len, enum qs_elem *elem, bool *big_endian)
{
	*big_endian = qs_host_big_endian();
	if (len == 3 && strchr("<>=|", s[0])) {
		if (s[0] == '<')
			*big_endian = false;
		else if (s[0] == '>')
			*big_endian = true;
		s++;
		len--;
	}
	if (len != 2 || s[0] != 'f')
		return false;
	switch (s[1]) {
	case '2':
		*elem = QS_ELEM_F16;
		return true;
	case '4':
		*elem = QS_ELEM_F32;
		return true;
	case '8':
		*elem = QS_ELEM_F64;
		return true;
	default:
		return false;
	}
}

static uint32_t qs_le_u32(const unsigned char *p, size_t size)
{
	uint32_t v = 0;
	for (size_t i = 0; i < size; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

/* A simple type code of another kind ('<i8', '|u1', '<c16', '|b1'): its item size, or 0 if it is none. */
static size_t qs_npy_other_itemsize(const char *s, size_t len)
{
	if (len > 0 && strchr("<>=|", s[0])) {
		s++;
		len--;
	}
	if (len < 2 || len > 4 || !strchr("biufcSUV", s[0]))
		return 0;
	size_t size = 0;
	for (size_t i = 1; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		size = size * 10 + (size_t)(s[i] - '0');
	}
	return size;
}

int qs_npy_read_header(FILE *f, size_t file_size, const char *path, bool skip_other_dtypes, struct qs_npy_info *info)
{
	memset(info, 0, sizeof *info);
	unsigned char pre[12];
	size_t got = fread(pre, 1, 8, f);
	if (got < QS_NPY_MAGIC_LEN || memcmp(pre, QS_NPY_MAGIC, QS_NPY_MAGIC_LEN) != 0)
		return qs_error_set(QS_EFORMAT, "'%s': bad magic (not an npy file)", path);
	if (got < 8)
		return qs_error_set(QS_EFORMAT, "'%s': truncated header", path);
	int major = pre[6], minor = pre[7];
	size_t len_size;
	if (major == 1 && minor == 0)
		len_size = 2;
	else if ((major == 2 || major == 3) && minor == 0)
		len_size = 4;
	else
		return qs_error_set(QS_EFORMAT, "'%s': unsupported npy version %d.%d (qscope reads 1.0, 2.0 and 3.0)", path,
		                    major, minor);
	if (fread(pre + 8, 1, len_size, f) != len_size || file_size < 8 + len_size)
		return qs_error_set(QS_EFORMAT, "'%s': truncated header", path);
	size_t header_len = qs_le_u32(pre + 8, len_size);
	if (header_len > file_size - (8 + len_size))
		return qs_error_set(QS_EFORMAT,
		                    "'%s': malformed header (header length %zu runs past the end of the file, %zu bytes)",
		                    path, header_len, file_size);
	size_t data_offset = 8 + len_size + header_len;

	char *text = malloc(header_len ? header_len : 1);
	if (!text)
		return qs_error_set(QS_ENOMEM, "'%s': out of memory", path);
	struct qs_npy_header h = {0};
	size_t other_size = 0;
	int status;
	if (fread(text, 1, header_len, f) != header_len)
		status = qs_error_set(QS_EFORMAT, "'%s': truncated header", path);
	else
		status = qs_npy_parse_header(text, header_len, path, &h);
	if (status == QS_OK && !(h.descr_is_string && qs_npy_dtype(h.descr, h.descr_len, &info->elem, &info->big_endian))) {
		if (skip_other_dtypes) {
			info->skip = true;
			snprintf(info->other_dtype, sizeof info->other_dtype, "%.*s",
				 h.descr_is_string ? (h.descr_len > 20 ? 20 : (int)h.descr_len) : 6,
				 h.descr_is_string ? h.descr : "record");
			other_size = h.descr_is_string ? qs_npy_other_itemsize(h.descr, h.descr_len) : 0;
		} else {
			status = qs_error_set(QS_EFORMAT, "'%s': unsupported dtype '%.*s' (qscope reads float16/32/64)", path,
			                      h.descr_len > 60 ? 60 : (int)h.descr_len, h.descr);
		}
	}
	free(text); /* h.descr points into text: not used below */
	if (status != QS_OK)
		return status;

	size_t elem_size = info->skip ? other_size : qs_elem_size(info->elem);
	size_t n;
	if (info->skip) {
		/* Another dtype: checked only as far as a simple type code allows. */
		if (elem_size == 0 || h.shape_overflow || h.rank > QS_MAX_RANK || !qs_shape_count(h.rank, h.shape, &n) ||
		    n > SIZE_MAX / elem_size)
			return QS_OK;
	} else {
		if (h.rank > QS_MAX_RANK)
			return qs_error_set(QS_EFORMAT, "'%s': unsupported rank %d (qscope reads up to %d dimensions)", path,
			                    h.rank, QS_MAX_RANK);
		if (h.shape_overflow || !qs_shape_count(h.rank, h.shape, &n) || n > SIZE_MAX / elem_size ||
		    n > SIZE_MAX / sizeof(double))
			return qs_error_set(QS_EFORMAT, "'%s': shape overflows (more elements than can be addressed)", path);
		info->n = n;
		info->rank = h.rank;
		memcpy(info->shape, h.shape, sizeof info->shape);
		info->fortran = h.fortran;
	}

	size_t need = n * elem_size;
	size_t have = file_size - data_offset;
	if (have < need)
		return qs_error_set(QS_EFORMAT, "'%s': truncated data (expected %zu bytes, found %zu)", path, need, have);
	if (have > need)
		return qs_error_set(QS_EFORMAT, "'%s': %zu bytes of trailing data after the array", path, have - need);
	return QS_OK;
}

static int qs_npy_detect(const unsigned char *head, size_t len, const char *path)
{
	if (len >= QS_NPY_MAGIC_LEN && memcmp(head, QS_NPY_MAGIC, QS_NPY_MAGIC_LEN) == 0)
		return 2;
	size_t n = strlen(path);
	return n >= 4 && strcmp(path + n - 4, ".npy") == 0 ? 1 : 0;
}

static void qs_npy_close(void *state)
{
	struct qs_npy *npy = state;
	if (!npy)
		return;
	if (npy->f)
		fclose(npy->f);
	free(npy->path);
	free(npy);
}

static int qs_npy_open(const char *path, const struct qs_load_opts *opts, void **state)
{
	(void)opts;
	*state = NULL;
	struct qs_npy *npy = calloc(1, sizeof *npy);
	if (!npy || !(npy->path = strdup(path))) {
		free(npy);
		return qs_error_set(QS_ENOMEM, "'%s': out of memory", path);
	}
	int status;
	size_t file_size;
	npy->f = fopen(path, "rb");
	if (!npy->f)
		status = qs_error_set(QS_EIO, "'%s': cannot open: %s", path, strerror(errno));
	else if ((status = qs_file_size(npy->f, path, &file_size)) == QS_OK)
		status = qs_npy_read_header(npy->f, file_size, path, false, &npy->info);
	if (status != QS_OK) {
		qs_npy_close(npy);
		return status;
	}
	*state = npy;
	return QS_OK;
}

/* Fortran order (first index fastest) to C order (last index fastest). */
static void qs_npy_fortran_to_c(int rank, const size_t *shape, size_t n, const double *src, double *dst)
{
	size_t stride[QS_MAX_RANK];
	size_t idx[QS_MAX_RANK] = {0};
	size_t s = 1;
	for (int d = rank - 1; d >= 0; d--) {
		stride[d] = s;
		s *= shape[d];
	}
	size_t off = 0;
	for (size_t j = 0; j < n; j++) {
		dst[off] = src[j];
		for (int d = 0; d < rank; d++) {
			idx[d]++;
			off += stride[d];
			if (idx[d] < shape[d])
				break;
			off -= idx[d] * stride[d];
			idx[d] = 0;
		}
	}
}

int qs_npy_read_data(FILE *f, const char *path, const struct qs_npy_info *info, double *dst)
{
	if (!info->fortran || info->rank < 2)
		return qs_elem_read(f, path, info->elem, info->big_endian, info->n, dst);
	double *tmp = malloc((info->n ? info->n : 1) * sizeof *tmp);
	if (!tmp)
		return qs_error_set(QS_ENOMEM, "'%s': out of memory", path);
	int status = qs_elem_read(f, path, info->elem, info->big_endian, info->n, tmp);
	if (status == QS_OK)
		qs_npy_fortran_to_c(info->rank, info->shape, info->n, tmp, dst);
	free(tmp);
	return status;
}

static int qs_npy_next(void *state, struct qs_tensor **out)
{
	struct qs_npy *npy = state;
	*out = NULL;
	if (npy->done)
		return QS_OK;
	npy->done = true;

	size_t name_len = strlen(npy->path) + 1;
	char *name = malloc(name_len);
	struct qs_tensor *t = NULL;
	if (name) {
		qs_path_stem(npy->path, name, name_len);
		t = qs_tensor_alloc(name, qs_elem_name(npy->info.elem), npy->info.rank, npy->info.shape);
		free(name);
	}
	if (!t)
		return qs_error_set(QS_ENOMEM, "'%s': out of memory", npy->path);
	int status = qs_npy_read_data(npy->f, npy->path, &npy->info, t->data);
	if (status != QS_OK) {
		qs_tensor_free(t);
		return status;
	}
	*out = t;
	return QS_OK;
}

const struct qs_format qs_format_npy = {
	.name = "npy",
	.detect = qs_npy_detect,
	.open = qs_npy_open,
	.next_tensor = qs_npy_next,
	.close = qs_npy_close,
};
