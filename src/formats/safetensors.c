/* The .safetensors reader (memory-mapped, one tensor converted at a time) and sharded *.safetensors.index.json. */
#include "format.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/qs_error.h"

/* Layout: u64 little-endian N, N bytes of JSON {"name": {"dtype", "shape", "data_offsets": [begin, end)}, ...,
 * "__metadata__": {string: string}}, then the data buffer the offsets are relative to (always little-endian). */
#define QS_ST_HEADER_MAX ((uint64_t)100 << 20) /* the format's own limit on N */
#define QS_ST_WINDOW ((size_t)4 << 20)         /* bytes converted between two releases of mapped pages */

/* Every dtype the format defines with a whole-byte size; elem < 0: skipped (not a float qscope reads). */
static const struct {
	const char *name;
	size_t size;
	int elem;
} qs_st_dtypes[] = {
	{"F64", 8, QS_ELEM_F64}, {"F32", 4, QS_ELEM_F32}, {"F16", 2, QS_ELEM_F16}, {"BF16", 2, QS_ELEM_BF16},
	{"F8_E4M3", 1, -1},      {"F8_E5M2", 1, -1},      {"F8_E8M0", 1, -1},      {"C64", 8, -1},
	{"I64", 8, -1},          {"I32", 4, -1},          {"I16", 2, -1},          {"I8", 1, -1},
	{"U64", 8, -1},          {"U32", 4, -1},          {"U16", 2, -1},          {"U8", 1, -1},
	{"BOOL", 1, -1},
};

struct qs_st_entry {
	char *name;                 /* the header key; owned */
	bool skip;                  /* a dtype qscope does not read (integers, bool, 8-bit floats, complex) */
	const char *dtype;          /* as the header spells it (a string of qs_st_dtypes) */
	enum qs_elem elem;
	int rank;
	size_t shape[QS_MAX_RANK];
	size_t begin, end;          /* data_offsets: bytes [begin, end) of the data buffer */
	size_t order;               /* position in the header: breaks ties between equal offsets */
};

/* One open .safetensors file. */
struct qs_st_file {
	char *path;
	unsigned char *map;         /* the whole file, PROT_READ; pages are released once converted */
	size_t size;
	size_t data_start;          /* 8 + N: where the data buffer starts in the file */
	struct qs_st_entry *entries; /* in file order (by begin offset), tiling the data buffer */
	size_t n_entries;
	size_t next;
};

/* A reader: one .safetensors file, or the shards of an index. */
struct qs_st {
	char *path;
	json_t *weight_map;         /* index only: tensor name -> shard file name; NULL for a single file */
	char **shard_paths;         /* sorted by shard name; a single file is its own one shard */
	const char **shard_names;   /* as weight_map spells them (strings owned by weight_map); NULL for a file */
	size_t n_shards;
	size_t next_shard;
	struct qs_st_file *cur;
	const struct qs_load_opts *opts;
};

static bool qs_st_has_suffix(const char *path, const char *suffix)
{
	size_t n = strlen(path), k = strlen(suffix);
	return n > k && strcmp(path + n - k, suffix) == 0;
}

static uint64_t qs_st_le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static size_t qs_st_page_size(void)
{
	long page = sysconf(_SC_PAGESIZE);
	return page > 0 ? (size_t)page : 4096;
}

/* Gives the pages holding bytes [from, to) of the mapping back to the kernel (they are re-read if touched again). */
static void qs_st_release(const struct qs_st_file *sf, size_t from, size_t to)
{
	size_t page = qs_st_page_size();
	size_t start = from - from % page;
	if (to > start)
		madvise(sf->map + start, to - start, MADV_DONTNEED);
}

static void qs_st_file_close(struct qs_st_file *sf)
{
	if (!sf)
		return;
	if (sf->map)
		munmap(sf->map, sf->size);
	for (size_t i = 0; i < sf->n_entries; i++)
		free(sf->entries[i].name);
	free(sf->entries);
	free(sf->path);
	free(sf);
}

/* A JSON integer in [0, SIZE_MAX]. */
static bool qs_st_size_value(const json_t *v, size_t *out)
{
	if (!json_is_integer(v))
		return false;
	json_int_t i = json_integer_value(v);
	if (i < 0 || (uintmax_t)i > SIZE_MAX)
		return false;
	*out = (size_t)i;
	return true;
}

static int qs_st_bad_entry(const char *path, const char *name, const char *what)
{
	return qs_error_set(QS_EFORMAT, "'%s': tensor '%.80s': %s", path, name, what);
}

static int qs_st_parse_entry(const char *path, const char *name, const json_t *v, size_t buf_size,
                             struct qs_st_entry *e)
{
	if (!json_is_object(v))
		return qs_st_bad_entry(path, name, "malformed header (expected an object)");
	const json_t *dtype = json_object_get(v, "dtype");
	const json_t *shape = json_object_get(v, "shape");
	const json_t *offsets = json_object_get(v, "data_offsets");
	if (!dtype || !shape || !offsets)
		return qs_error_set(QS_EFORMAT, "'%s': tensor '%.80s': malformed header (missing key '%s')", path, name,
		                    !dtype ? "dtype" : !shape ? "shape" : "data_offsets");
	if (!json_is_string(dtype))
		return qs_st_bad_entry(path, name, "malformed header (dtype must be a string)");
	const char *dname = json_string_value(dtype);
	size_t k = 0, n_dtypes = sizeof qs_st_dtypes / sizeof qs_st_dtypes[0];
	while (k < n_dtypes && strcmp(dname, qs_st_dtypes[k].name) != 0)
		k++;
	if (k == n_dtypes)
		return qs_error_set(QS_EFORMAT, "'%s': tensor '%.80s': unknown dtype '%.40s'", path, name, dname);
	e->skip = qs_st_dtypes[k].elem < 0;
	e->dtype = qs_st_dtypes[k].name;
	e->elem = e->skip ? QS_ELEM_F32 : (enum qs_elem)qs_st_dtypes[k].elem;

	if (!json_is_array(shape))
		return qs_st_bad_entry(path, name, "malformed header (shape must be a list of non-negative integers)");
	size_t rank = json_array_size(shape), count = 1;
	bool overflow = false;
	for (size_t i = 0; i < rank; i++) {
		size_t dim;
		if (!qs_st_size_value(json_array_get(shape, i), &dim))
			return qs_st_bad_entry(path, name, "malformed header (shape must be a list of non-negative integers)");
		if (i < QS_MAX_RANK)
			e->shape[i] = dim;
		if (dim != 0 && count > SIZE_MAX / dim)
			overflow = true;
		else
			count *= dim;
	}
	if (!e->skip && rank > QS_MAX_RANK)
		return qs_error_set(QS_EFORMAT, "'%s': tensor '%.80s': unsupported rank %zu (qscope reads up to %d dimensions)",
		                    path, name, rank, QS_MAX_RANK);
	e->rank = rank > QS_MAX_RANK ? QS_MAX_RANK : (int)rank;
	size_t dsize = qs_st_dtypes[k].size;
	if (overflow || count > SIZE_MAX / dsize || count > SIZE_MAX / sizeof(double))
		return qs_st_bad_entry(path, name, "shape overflows (more elements than can be addressed)");

	if (!json_is_array(offsets) || json_array_size(offsets) != 2 ||
	    !qs_st_size_value(json_array_get(offsets, 0), &e->begin) ||
	    !qs_st_size_value(json_array_get(offsets, 1), &e->end))
		return qs_st_bad_entry(path, name, "malformed header (data_offsets must be two non-negative integers)");
	if (e->end < e->begin)
		return qs_error_set(QS_EFORMAT,
		                    "'%s': tensor '%.80s': data offsets [%zu, %zu) out of order (end before begin)", path,
		                    name, e->begin, e->end);
	if (e->end > buf_size)
		return qs_error_set(QS_EFORMAT,
		                    "'%s': tensor '%.80s': data offsets [%zu, %zu) out of range "
		                    "(the data buffer holds %zu bytes: truncated file?)",
		                    path, name, e->begin, e->end, buf_size);
	if (e->end - e->begin != count * dsize)
		return qs_error_set(QS_EFORMAT,
		                    "'%s': tensor '%.80s': wrong dtype size "
		                    "(%zu values of %s need %zu bytes, data_offsets span %zu)",
		                    path, name, count, dname, count * dsize, e->end - e->begin);
	if (!(e->name = strdup(name)))
		return qs_error_set(QS_ENOMEM, "'%s': out of memory", path);
	return QS_OK;
}

/* By begin, then end (a zero-size tensor comes before the one starting where it sits), then header order. */
static int qs_st_entry_cmp(const void *a, const void *b)
{
	const struct qs_st_entry *x = a, *y = b;
	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* The sorted entries, skipped ones included, must tile the data buffer: the first begins at 0, each begins where
 * the one before ends, the last ends at the end of the file. No two tensors share a byte (no aliasing) and no byte
 * belongs to none (no hidden payload, no polyglot tail). Zero-size tensors sit on a boundary. */
static int qs_st_check_coverage(const struct qs_st_file *sf, size_t buf_size)
{
	size_t pos = 0;
	for (size_t i = 0; i < sf->n_entries; i++) {
		const struct qs_st_entry *e = &sf->entries[i];
		if (e->begin < pos) {
			const struct qs_st_entry *p = &sf->entries[i - 1];
			return qs_error_set(QS_EFORMAT, "'%s': tensors '%.80s' and '%.80s' overlap (bytes %zu-%zu and %zu-%zu)",
			                    sf->path, p->name, e->name, p->begin, p->end, e->begin, e->end);
		}
		if (e->begin > pos)
			return qs_error_set(QS_EFORMAT, "'%s': bytes %zu-%zu of the data belong to no tensor", sf->path, pos,
			                    e->begin);
		pos = e->end;
	}
	if (pos == buf_size)
		return QS_OK;
	if (sf->n_entries == 0)
		return qs_error_set(QS_EFORMAT, "'%s': bytes 0-%zu of the data belong to no tensor (the header lists none)",
		                    sf->path, buf_size);
	return qs_error_set(QS_EFORMAT, "'%s': %zu bytes after the last tensor", sf->path, buf_size - pos);
}

/* Parses the JSON header: every entry checked, kept in file order, together covering the data buffer. */
static int qs_st_parse_header(struct qs_st_file *sf, size_t header_len)
{
	const char *path = sf->path;
	json_error_t jerr;
	json_t *root = json_loadb((const char *)sf->map + 8, header_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return qs_error_set(QS_EFORMAT, "'%s': invalid JSON header (%s, at byte %d)", path, jerr.text, jerr.position);
	int status = QS_OK;
	if (!json_is_object(root)) {
		status = qs_error_set(QS_EFORMAT, "'%s': malformed header (expected a JSON object)", path);
		goto out;
	}
	size_t cap = json_object_size(root);
	if (!(sf->entries = calloc(cap ? cap : 1, sizeof *sf->entries))) {
		status = qs_error_set(QS_ENOMEM, "'%s': out of memory", path);
		goto out;
	}
	size_t buf_size = sf->size - sf->data_start;
	const char *key;
	json_t *value;
	json_object_foreach(root, key, value) {
		if (strcmp(key, "__metadata__") == 0) {
			/* Free-form string -> string annotations: checked, not used. */
			const char *mkey;
			json_t *mvalue;
			bool ok = json_is_object(value);
			if (ok)
				json_object_foreach(value, mkey, mvalue) ok = ok && json_is_string(mvalue);
			if (!ok) {
				status = qs_error_set(QS_EFORMAT, "'%s': malformed header (__metadata__ must map strings to strings)",
				                      path);
				goto out;
			}
			continue;
		}
		struct qs_st_entry *e = &sf->entries[sf->n_entries];
		e->order = sf->n_entries;
		if ((status = qs_st_parse_entry(path, key, value, buf_size, e)) != QS_OK)
			goto out;
		sf->n_entries++;
	}
	qsort(sf->entries, sf->n_entries, sizeof *sf->entries, qs_st_entry_cmp);
	status = qs_st_check_coverage(sf, buf_size);
out:
	json_decref(root);
	return status;
}

static int qs_st_file_open(const char *path, struct qs_st_file **out)
{
	*out = NULL;
	struct qs_st_file *sf = calloc(1, sizeof *sf);
	if (!sf || !(sf->path = strdup(path))) {
		free(sf);
		return qs_error_set(QS_ENOMEM, "'%s': out of memory", path);
	}
	int status = QS_OK;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0) {
		status = qs_error_set(QS_EIO, "'%s': cannot open: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		status = qs_error_set(QS_EIO, "'%s': not a regular file", path);
		goto out;
	}
	if ((uintmax_t)st.st_size > SIZE_MAX) {
		status = qs_error_set(QS_EFORMAT, "'%s': file too large", path);
		goto out;
	}
	sf->size = (size_t)st.st_size;
	if (sf->size < 8) {
		status = qs_error_set(QS_EFORMAT, "'%s': truncated header (the file has %zu bytes)", path, sf->size);
		goto out;
	}
	void *map = mmap(NULL, sf->size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		status = qs_error_set(QS_EIO, "'%s': cannot map: %s", path, strerror(errno));
		goto out;
	}
	sf->map = map;
	uint64_t header_len = qs_st_le64(sf->map);
	if (header_len > sf->size - 8) {
		status = qs_error_set(QS_EFORMAT,
		                      "'%s': malformed header (header length %llu runs past the end of the file, %zu bytes)",
		                      path, (unsigned long long)header_len, sf->size);
		goto out;
	}
	if (header_len > QS_ST_HEADER_MAX) {
		status = qs_error_set(QS_EFORMAT, "'%s': malformed header (header length %llu is absurd: over 100 MB)", path,
		                      (unsigned long long)header_len);
		goto out;
	}
	sf->data_start = 8 + (size_t)header_len;
	status = qs_st_parse_header(sf, (size_t)header_len);
	qs_st_release(sf, 0, sf->data_start);
out:
	if (fd >= 0)
		close(fd);
	if (status != QS_OK) {
		qs_st_file_close(sf);
		return status;
	}
	*out = sf;
	return QS_OK;
}

/* Converts one entry to doubles, a window at a time, releasing each window's pages once it is converted: the
 * resident set holds the tensor's doubles and at most one window of the file. */
static int qs_st_convert(const struct qs_st_file *sf, const struct qs_st_entry *e, struct qs_tensor **out)
{
	struct qs_tensor *t = qs_tensor_alloc(e->name, qs_elem_name(e->elem), e->rank, e->shape);
	if (!t)
		return qs_error_set(QS_ENOMEM, "'%s': tensor '%.80s': out of memory", sf->path, e->name);
	size_t esize = qs_elem_size(e->elem);
	size_t per_window = QS_ST_WINDOW / esize;
	size_t pos = sf->data_start + e->begin;
	int status = QS_OK;
	for (size_t done = 0; done < t->n && status == QS_OK;) {
		size_t count = t->n - done < per_window ? t->n - done : per_window;
		size_t bytes = count * esize;
		FILE *m = fmemopen(sf->map + pos, bytes, "rb");
		if (!m) {
			status = qs_error_set(QS_ENOMEM, "'%s': tensor '%.80s': out of memory", sf->path, e->name);
			break;
		}
		status = qs_elem_read(m, sf->path, e->elem, false, count, t->data + done);
		fclose(m);
		qs_st_release(sf, pos, pos + bytes);
		pos += bytes;
		done += count;
	}
	if (status != QS_OK) {
		qs_tensor_free(t);
		return status;
	}
	*out = t;
	return QS_OK;
}

/* Whether the index assigns tensor `name` to `shard` (always true without an index). */
static bool qs_st_assigned(const struct qs_st *st, const char *name, const char *shard)
{
	if (!st->weight_map)
		return true;
	const char *where = json_string_value(json_object_get(st->weight_map, name));
	return where && strcmp(where, shard) == 0;
}

/* Every tensor the index assigns to shard k must be in it. */
static int qs_st_check_shard(const struct qs_st *st, size_t k)
{
	const struct qs_st_file *sf = st->cur;
	const char *shard = st->shard_names[k];
	size_t present = 0, expected = 0;
	for (size_t i = 0; i < sf->n_entries; i++)
		present += qs_st_assigned(st, sf->entries[i].name, shard);
	const char *key;
	json_t *value;
	json_object_foreach(st->weight_map, key, value) expected += strcmp(json_string_value(value), shard) == 0;
	if (present == expected)
		return QS_OK;
	json_object_foreach(st->weight_map, key, value) {
		if (strcmp(json_string_value(value), shard) != 0)
			continue;
		size_t i = 0;
		while (i < sf->n_entries && strcmp(sf->entries[i].name, key) != 0)
			i++;
		if (i == sf->n_entries)
			return qs_error_set(QS_EFORMAT, "'%s': tensor '%.80s' is not in its shard '%s'", st->path, key, sf->path);
	}
	return QS_OK; /* not reached: present < expected means one is missing */
}

static void qs_st_close(void *state)
{
	struct qs_st *st = state;
	if (!st)
		return;
	qs_st_file_close(st->cur);
	for (size_t i = 0; i < st->n_shards; i++)
		free(st->shard_paths[i]);
	free(st->shard_paths);
	free(st->shard_names);
	json_decref(st->weight_map);
	free(st->path);
	free(st);
}

static int qs_st_name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Reads the index: weight_map's shard names, sorted and each once, resolved next to the index file. */
static int qs_st_open_index(struct qs_st *st)
{
	const char *path = st->path;
	json_error_t jerr;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return qs_error_set(QS_EFORMAT, "'%s': invalid JSON (%s, line %d)", path, jerr.text, jerr.line);
	int status = QS_OK;
	json_t *map = json_is_object(root) ? json_object_get(root, "weight_map") : NULL;
	if (!json_is_object(map)) {
		status = qs_error_set(QS_EFORMAT, "'%s': malformed index (missing key 'weight_map')", path);
		goto out;
	}
	st->weight_map = json_incref(map);
	size_t n = json_object_size(map);
	if (!(st->shard_names = calloc(n ? n : 1, sizeof *st->shard_names))) {
		status = qs_error_set(QS_ENOMEM, "'%s': out of memory", path);
		goto out;
	}
	const char *key;
	json_t *value;
	json_object_foreach(map, key, value) {
		if (!json_is_string(value) || json_string_length(value) == 0) {
			status = qs_error_set(QS_EFORMAT, "'%s': malformed index (weight_map['%.80s'] must be a file name)", path,
			                      key);
			goto out;
		}
		st->shard_names[st->n_shards++] = json_string_value(value);
	}
	qsort(st->shard_names, st->n_shards, sizeof *st->shard_names, qs_st_name_cmp);
	size_t unique = 0;
	for (size_t i = 0; i < st->n_shards; i++)
		if (unique == 0 || strcmp(st->shard_names[unique - 1], st->shard_names[i]) != 0)
			st->shard_names[unique++] = st->shard_names[i];
	st->n_shards = 0;
	if (!(st->shard_paths = calloc(unique ? unique : 1, sizeof *st->shard_paths))) {
		status = qs_error_set(QS_ENOMEM, "'%s': out of memory", path);
		goto out;
	}
	const char *slash = strrchr(path, '/');
	int dir_len = slash ? (int)(slash - path) + 1 : 0;
	for (size_t i = 0; i < unique; i++) {
		const char *name = st->shard_names[i];
		size_t len = (size_t)dir_len + strlen(name) + 1;
		if (!(st->shard_paths[i] = malloc(len))) {
			status = qs_error_set(QS_ENOMEM, "'%s': out of memory", path);
			goto out;
		}
		st->n_shards++;
		if (name[0] == '/')
			snprintf(st->shard_paths[i], len, "%s", name);
		else
			snprintf(st->shard_paths[i], len, "%.*s%s", dir_len, path, name);
	}
out:
	json_decref(root);
	return status;
}

static int qs_st_open(const char *path, const struct qs_load_opts *opts, void **state)
{
	*state = NULL;
	struct qs_st *st = calloc(1, sizeof *st);
	if (!st || !(st->path = strdup(path))) {
		free(st);
		return qs_error_set(QS_ENOMEM, "'%s': out of memory", path);
	}
	st->opts = opts;
	int status;
	if (qs_st_has_suffix(path, ".index.json")) {
		status = qs_st_open_index(st);
	} else if (!(st->shard_paths = malloc(sizeof *st->shard_paths)) || !(st->shard_paths[0] = strdup(path))) {
		status = qs_error_set(QS_ENOMEM, "'%s': out of memory", path);
	} else {
		st->n_shards = 1;
		st->next_shard = 1;
		status = qs_st_file_open(path, &st->cur); /* a single file is checked when opened */
	}
	if (status != QS_OK) {
		qs_st_close(st);
		return status;
	}
	*state = st;
	return QS_OK;
}

static int qs_st_next(void *state, struct qs_tensor **out)
{
	struct qs_st *st = state;
	*out = NULL;
	for (;;) {
		if (!st->cur) {
			if (st->next_shard == st->n_shards)
				return QS_OK;
			size_t k = st->next_shard++;
			int status = qs_st_file_open(st->shard_paths[k], &st->cur);
			if (status == QS_OK)
				status = qs_st_check_shard(st, k);
			if (status != QS_OK)
				return status;
		}
		struct qs_st_file *sf = st->cur;
		const char *shard = st->shard_names ? st->shard_names[st->next_shard - 1] : NULL;
		while (sf->next < sf->n_entries) {
			const struct qs_st_entry *e = &sf->entries[sf->next++];
			if (!qs_st_assigned(st, e->name, shard))
				continue;
			if (!e->skip)
				return qs_st_convert(sf, e, out);
			if (st->opts && st->opts->skipped)
				st->opts->skipped(st->opts->skipped_ctx, e->name, e->dtype);
		}
		qs_st_file_close(sf);
		st->cur = NULL;
	}
}

/* Magic: a plausible header length followed by '{' (an .npy or zip file never starts so). An index is claimed by
 * its suffix only when its text is seen to begin with '{': a folder listing (no head) does not pick it, as the
 * shards beside it already hold its tensors. */
static int qs_st_detect(const unsigned char *head, size_t len, const char *path)
{
	if (len >= 9) {
		uint64_t n = qs_st_le64(head);
		if (n >= 2 && n <= QS_ST_HEADER_MAX && head[8] == '{')
			return 2;
	}
	if (qs_st_has_suffix(path, ".safetensors"))
		return 1;
	if (qs_st_has_suffix(path, ".index.json")) {
		size_t i = 0;
		while (i < len && (head[i] == ' ' || head[i] == '\t' || head[i] == '\n' || head[i] == '\r'))
			i++;
		return i < len && head[i] == '{' ? 1 : 0;
	}
	return 0;
}

const struct qs_format qs_format_safetensors = {
	.name = "safetensors",
	.detect = qs_st_detect,
	.open = qs_st_open,
	.next_tensor = qs_st_next,
	.close = qs_st_close,
};
