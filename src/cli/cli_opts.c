/* Option-value parsers and input expansion shared by the commands. */
#include "cli.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "calib/calib.h"
#include "quant/quantizer.h"
#include "tensor/groups.h"
#include "util/qs_error.h"

int qs_cli_stage_open(const char *outdir, struct qs_stage **stage)
{
	int rc = qs_stage_open(outdir, stage);
	if (rc == QS_OK && qs_stage_note(*stage)[0])
		qs_eprintf("qscope: note: %s", qs_stage_note(*stage));
	return rc;
}

int qs_cli_fail(int status, const char *command)
{
	qs_eprintf("qscope: %s", qs_error_message());
	if (status == QS_EUSAGE)
		fprintf(stderr, "usage: qscope %s [options] FILE...   (qscope %s --help for more)\n", command, command);
	return qs_error_exit_code(status);
}

int qs_cli_split(char *list, char **items, int max)
{
	int n = 0;
	for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
		if (n == max)
			return -1;
		items[n++] = tok;
	}
	return n ? n : -1;
}

static int parse_long(const char *s, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end)
		return -1;
	*out = v;
	return 0;
}

int qs_cli_parse_ulong(const char *s, const char *what, unsigned long *out)
{
	char *end;
	errno = 0;
	if (!isdigit((unsigned char)*s))
		return qs_error_set(QS_EUSAGE, "bad %s '%s' (expected a non-negative integer)", what, s);
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end)
		return qs_error_set(QS_EUSAGE, "bad %s '%s' (expected a non-negative integer)", what, s);
	*out = v;
	return QS_OK;
}

int qs_cli_parse_bits(const char *s, int *bits, size_t max, size_t *n)
{
	char buf[256], *items[64];
	snprintf(buf, sizeof buf, "%s", s);
	int count = strlen(s) < sizeof buf ? qs_cli_split(buf, items, 64) : -1;
	if (count < 0)
		return qs_error_set(QS_EUSAGE, "bad --bits '%s' (e.g. 2-8,16)", s);
	*n = 0;
	for (int i = 0; i < count; i++) {
		long a, b;
		char *dash = strchr(items[i] + 1, '-');
		if (dash)
			*dash = '\0';
		if (parse_long(items[i], &a) != 0 || (dash ? parse_long(dash + 1, &b) : (b = a, 0)) != 0 || a > b ||
		    a < QS_BITS_MIN || b > QS_BITS_MAX)
			return qs_error_set(QS_EUSAGE, "bad --bits '%s' (bit widths %d to %d, e.g. 2-8,16)", s,
					    QS_BITS_MIN, QS_BITS_MAX);
		for (long v = a; v <= b; v++) {
			bool seen = false;
			for (size_t k = 0; k < *n; k++)
				seen |= bits[k] == v;
			if (!seen && *n < max)
				bits[(*n)++] = (int)v;
		}
	}
	return QS_OK;
}

/* Drops representation noise from evenly spaced values (0.1 + 90 · 0.01 -> 1), keeping 12 significant digits. */
static double tidy(double v)
{
	char buf[32];
	snprintf(buf, sizeof buf, "%.12g", v);
	return strtod(buf, NULL);
}

int qs_cli_parse_multipliers(const char *s, double **out, size_t *n)
{
	char *end;
	double start, stop;
	unsigned long count;
	*out = NULL;
	*n = 0;
	if (strchr(s, ':')) {
		errno = 0;
		start = strtod(s, &end);
		if (*end != ':')
			goto bad;
		stop = strtod(end + 1, &end);
		if (*end != ':' || qs_cli_parse_ulong(end + 1, "--multipliers count", &count) != QS_OK || count == 0 ||
		    count > 1000000 || !(start > 0.0) || !(stop >= start) || !isfinite(stop))
			goto bad;
		*out = malloc(count * sizeof **out);
		if (!*out)
			return qs_error_set(QS_ENOMEM, "out of memory");
		for (unsigned long i = 0; i < count; i++)
			(*out)[i] = count == 1 ? start : tidy(start + (stop - start) * (double)i / (double)(count - 1));
		*n = count;
		return QS_OK;
	}
	size_t cap = 1;
	for (const char *p = s; *p; p++)
		cap += *p == ',';
	*out = malloc(cap * sizeof **out);
	if (!*out)
		return qs_error_set(QS_ENOMEM, "out of memory");
	for (const char *p = s;; p = end + 1) {
		double v = strtod(p, &end);
		if (end == p || !(v > 0.0) || !isfinite(v) || (*end != ',' && *end != '\0'))
			goto bad;
		(*out)[(*n)++] = v;
		if (*end == '\0')
			return QS_OK;
	}
bad:
	free(*out);
	*out = NULL;
	*n = 0;
	return qs_error_set(QS_EUSAGE, "bad --multipliers '%s' (START:STOP:COUNT or a list, all > 0)", s);
}

int qs_cli_parse_shape(const char *s, struct qs_load_opts *opts)
{
	char buf[256], *items[QS_MAX_RANK + 1];
	snprintf(buf, sizeof buf, "%s", s);
	int rank = strlen(s) < sizeof buf ? qs_cli_split(buf, items, QS_MAX_RANK) : -1;
	for (int i = 0; i < rank; i++) {
		long v;
		if (parse_long(items[i], &v) != 0 || v < 0)
			rank = -1;
		else
			opts->shape[i] = (size_t)v;
	}
	if (rank < 0)
		return qs_error_set(QS_EUSAGE, "bad --shape '%s' (e.g. 64,3,3,3; at most %d dimensions)", s, QS_MAX_RANK);
	opts->rank = rank;
	return QS_OK;
}

static int cmp_paths(const void *a, const void *b)
{
	return qs_natural_cmp(*(char *const *)a, *(char *const *)b);
}

/* Files in a folder that a format claims by suffix (hidden files skipped). */
static int add_folder(struct qs_strings *paths, const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return qs_error_set(QS_EIO, "'%s': cannot open folder: %s", dir, strerror(errno));
	size_t first = paths->n;
	int rc = QS_OK;
	for (struct dirent *e; rc == QS_OK && (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		if (!qs_format_suffix_known(e->d_name))
			continue;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		rc = qs_strings_add(paths, path);
	}
	closedir(d);
	if (rc == QS_OK && paths->n == first)
		rc = qs_error_set(QS_EFORMAT, "'%s': folder holds no tensor files", dir);
	if (rc == QS_OK)
		qsort(paths->items + first, paths->n - first, sizeof *paths->items, cmp_paths);
	return rc;
}

/* Last path component of a folder path, without trailing slashes. */
static void folder_name(const char *path, char *buf, size_t len)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s", path);
	size_t l = strlen(tmp);
	while (l > 1 && tmp[l - 1] == '/')
		tmp[--l] = '\0';
	const char *slash = strrchr(tmp, '/');
	snprintf(buf, len, "%s", slash ? slash + 1 : tmp);
	if (!buf[0] || strcmp(buf, ".") == 0 || strcmp(buf, "..") == 0 || strcmp(buf, "/") == 0)
		snprintf(buf, len, "inputs");
}

int qs_cli_inputs(char **args, int n_args, struct qs_inputs *out)
{
	memset(out, 0, sizeof *out);
	int rc = QS_OK;
	for (int i = 0; i < n_args && rc == QS_OK; i++) {
		struct stat sb;
		if (stat(args[i], &sb) == 0 && S_ISDIR(sb.st_mode))
			rc = add_folder(&out->paths, args[i]);
		else
			rc = qs_strings_add(&out->paths, args[i]);
	}
	if (rc) {
		qs_cli_inputs_free(out);
		return rc;
	}
	struct stat sb;
	if (n_args == 1 && stat(args[0], &sb) == 0 && S_ISDIR(sb.st_mode)) {
		folder_name(args[0], out->stem, sizeof out->stem);
	} else if (out->paths.n == 1) {
		qs_path_stem(out->paths.items[0], out->stem, sizeof out->stem);
	} else {
		char dir[4096];
		snprintf(dir, sizeof dir, "%s", out->paths.items[0]);
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		folder_name(slash ? dir : ".", out->stem, sizeof out->stem);
	}
	return QS_OK;
}

void qs_cli_inputs_free(struct qs_inputs *in)
{
	qs_strings_free(&in->paths);
	memset(in, 0, sizeof *in);
}

bool qs_cli_selected(const struct qs_filter *f, const char *name)
{
	if (f->n == 0)
		return true;
	for (size_t i = 0; i < f->n; i++)
		if (fnmatch(f->globs[i], name, 0) == 0)
			return true;
	return false;
}

int qs_cli_parse_pair(const char *s, const char *what, const char *n0, const char *n1, bool *out, size_t *n)
{
	char buf[128], *items[8];
	snprintf(buf, sizeof buf, "%s", s);
	int count = strlen(s) < sizeof buf ? qs_cli_split(buf, items, 8) : -1;
	bool seen[2] = {false, false};
	*n = 0;
	for (int i = 0; i < count; i++) {
		int v = strcmp(items[i], n0) == 0 ? 0 : strcmp(items[i], n1) == 0 ? 1 : -1;
		if (v < 0)
			return qs_error_set(QS_EUSAGE, "bad %s '%s' (use %s and/or %s)", what, s, n0, n1);
		if (!seen[v])
			out[(*n)++] = v;
		seen[v] = true;
	}
	if (count < 0)
		return qs_error_set(QS_EUSAGE, "bad %s '%s' (use %s and/or %s)", what, s, n0, n1);
	return QS_OK;
}

int qs_cli_parse_list(const char *s, const char *what, void *out, size_t elem, size_t max, size_t *n,
		      int (*one)(const char *item, void *dst))
{
	char buf[1024], *items[256];
	snprintf(buf, sizeof buf, "%s", s);
	int count = strlen(s) < sizeof buf && max <= 256 ? qs_cli_split(buf, items, (int)max) : -1;
	if (count < 0)
		return qs_error_set(QS_EUSAGE, "bad %s '%s'", what, s);
	for (int i = 0; i < count; i++) {
		int rc = one(items[i], (char *)out + (size_t)i * elem);
		if (rc)
			return rc;
	}
	*n = (size_t)count;
	return QS_OK;
}

int qs_cli_one_gran(const char *s, void *dst) { return qs_gran_parse(s, dst); }
int qs_cli_one_calib(const char *s, void *dst) { return qs_calib_parse(s, dst); }
int qs_cli_one_rounding(const char *s, void *dst) { return qs_rounding_parse(s, dst); }
int qs_cli_one_profile(const char *s, void *dst) { return qs_profile_parse(s, dst); }
