/* The .npz reader: a zip archive (stored or deflated) whose NAME.npy members are the tensors, in archive order. */
#define _GNU_SOURCE /* fopencookie: a member is read through the .npy reader's stream code */
#include "npy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "../util/qs_error.h"

struct qs_npz {
	char *path;
	zip_t *za;
	zip_uint64_t n_members;
	zip_uint64_t next;
	const struct qs_load_opts *opts;
};

static bool qs_npz_is_npy(const char *name)
{
	size_t n = strlen(name);
	return n > 4 && strcmp(name + n - 4, ".npy") == 0;
}

/* Member i's name as numpy reads it. A name of ASCII bytes is taken raw: libzip's encoding guess would turn its control
 * characters into CP437 glyphs (ESC into "\u2190"), where Python's zipfile keeps them. Other names come through
 * libzip's guess: UTF-8 when flagged or valid, CP437 otherwise, as Python decodes them. NULL if the entry is bad. */
static const char *member_name(zip_t *za, zip_uint64_t i)
{
	const char *raw = zip_get_name(za, i, ZIP_FL_ENC_RAW);
	if (!raw)
		return NULL;
	for (const unsigned char *c = (const unsigned char *)raw; *c; c++)
		if (*c >= 0x80)
			return zip_get_name(za, i, 0);
	return raw;
}

static int qs_npz_detect(const unsigned char *head, size_t len, const char *path)
{
	if (len >= 4 && memcmp(head, "PK\x03\x04", 4) == 0)
		return 2;
	size_t n = strlen(path);
	return n >= 4 && strcmp(path + n - 4, ".npz") == 0 ? 1 : 0;
}

static void qs_npz_close(void *state)
{
	struct qs_npz *npz = state;
	if (!npz)
		return;
	if (npz->za)
		zip_discard(npz->za); /* opened read-only: nothing to write back */
	free(npz->path);
	free(npz);
}

static int qs_npz_open(const char *path, const struct qs_load_opts *opts, void **state)
{
	*state = NULL;
	struct qs_npz *npz = calloc(1, sizeof *npz);
	if (!npz || !(npz->path = strdup(path))) {
		free(npz);
		return qs_error_set(QS_ENOMEM, "'%s': out of memory", path);
	}
	npz->opts = opts;
	int status = QS_OK, code = 0;
	npz->za = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &code);
	if (!npz->za) {
		zip_error_t ze;
		zip_error_init_with_code(&ze, code);
		if (code == ZIP_ER_OPEN || code == ZIP_ER_READ || code == ZIP_ER_MEMORY)
			status = qs_error_set(code == ZIP_ER_MEMORY ? QS_ENOMEM : QS_EIO, "'%s': cannot open: %s", path,
			                      zip_error_strerror(&ze));
		else if (code == ZIP_ER_NOZIP)
			status = qs_error_set(QS_EFORMAT, "'%s': not a zip archive (truncated or not an npz file)", path);
		else
			status = qs_error_set(QS_EFORMAT, "'%s': corrupt zip archive (%s)", path, zip_error_strerror(&ze));
		zip_error_fini(&ze);
		goto out;
	}
	zip_int64_t n = zip_get_num_entries(npz->za, 0);
	npz->n_members = n > 0 ? (zip_uint64_t)n : 0;
	bool any_npy = false;
	for (zip_uint64_t i = 0; i < npz->n_members && !any_npy; i++) {
		const char *name = member_name(npz->za, i);
		any_npy = name && qs_npz_is_npy(name);
	}
	if (npz->n_members > 0 && !any_npy)
		status = qs_error_set(QS_EFORMAT, "'%s': zip archive without .npy members (not an npz file)", path);
out:
	if (status != QS_OK) {
		qs_npz_close(npz);
		return status;
	}
	*state = npz;
	return QS_OK;
}

static ssize_t qs_npz_cookie_read(void *cookie, char *buf, size_t size)
{
	zip_int64_t got = zip_fread(cookie, buf, size);
	if (got < 0) {
		errno = EIO;
		return -1;
	}
	return (ssize_t)got;
}

/* Reads member i as an .npy stream: *out is its tensor, or NULL if the member is skipped. Messages name the member
 * after the archive ("'a.npz': member 'w.npy': truncated data ..."), so `where` goes where the .npy reader puts a
 * path. */
static int qs_npz_read_member(struct qs_npz *npz, zip_uint64_t i, const char *name, struct qs_tensor **out)
{
	size_t where_len = strlen(npz->path) + strlen(name) + 16;
	char *where = malloc(where_len);
	char *tname = strdup(name);
	zip_file_t *zf = NULL;
	FILE *f = NULL;
	struct qs_tensor *t = NULL;
	int status = QS_OK;
	if (!where || !tname) {
		status = qs_error_set(QS_ENOMEM, "'%s': out of memory", npz->path);
		goto out;
	}
	snprintf(where, where_len, "%s': member '%s", npz->path, name);
	tname[strlen(tname) - 4] = '\0';

	zip_stat_t zs;
	if (zip_stat_index(npz->za, i, 0, &zs) != 0 || !(zs.valid & ZIP_STAT_SIZE) || zs.size > SIZE_MAX ||
	    !(zf = zip_fopen_index(npz->za, i, 0))) {
		status = qs_error_set(QS_EFORMAT, "'%s': cannot read (%s)", where, zip_strerror(npz->za));
		goto out;
	}
	static const cookie_io_functions_t io = {.read = qs_npz_cookie_read};
	if (!(f = fopencookie(zf, "rb", io))) {
		status = qs_error_set(QS_ENOMEM, "'%s': out of memory", where);
		goto out;
	}
	struct qs_npy_info info;
	status = qs_npy_read_header(f, (size_t)zs.size, where, true, &info);
	if (status == QS_OK && info.skip && npz->opts && npz->opts->skipped)
		npz->opts->skipped(npz->opts->skipped_ctx, tname, info.other_dtype);
	if (status != QS_OK || info.skip)
		goto out;
	if (!(t = qs_tensor_alloc(tname, qs_elem_name(info.elem), info.rank, info.shape))) {
		status = qs_error_set(QS_ENOMEM, "'%s': out of memory", where);
		goto out;
	}
	status = qs_npy_read_data(f, where, &info, t->data);
	/* Read to the member's end, where libzip checks its CRC. */
	if (status == QS_OK && (fgetc(f) != EOF || ferror(f)))
		status = qs_error_set(QS_EFORMAT, "'%s': member longer than the archive says", where);
out:
	if (status != QS_OK && zf) {
		zip_error_t *ze = zip_file_get_error(zf);
		if (zip_error_code_zip(ze) != ZIP_ER_OK)
			status = qs_error_set(QS_EFORMAT, "'%s': corrupt data (%s)", where, zip_error_strerror(ze));
	}
	if (f)
		fclose(f);
	if (zf)
		zip_fclose(zf);
	free(where);
	free(tname);
	if (status != QS_OK) {
		qs_tensor_free(t);
		return status;
	}
	*out = t;
	return QS_OK;
}

static int qs_npz_next(void *state, struct qs_tensor **out)
{
	struct qs_npz *npz = state;
	*out = NULL;
	while (npz->next < npz->n_members) {
		zip_uint64_t i = npz->next++;
		const char *name = member_name(npz->za, i);
		if (!name)
			return qs_error_set(QS_EFORMAT, "'%s': corrupt zip archive (%s)", npz->path, zip_strerror(npz->za));
		if (!qs_npz_is_npy(name))
			continue; /* not an array (numpy names every array NAME.npy) */
		int status = qs_npz_read_member(npz, i, name, out);
		if (status != QS_OK || *out)
			return status;
	}
	return QS_OK;
}

const struct qs_format qs_format_npz = {
	.name = "npz",
	.detect = qs_npz_detect,
	.open = qs_npz_open,
	.next_tensor = qs_npz_next,
	.close = qs_npz_close,
};
