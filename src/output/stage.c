/* Staging folder for atomic output: write everything under OUT/.qscope-XXXXXX, rename into OUT at the end. */
#include "stage.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/qs_error.h"
#include "../util/qs_alloc.h"

/* A growing list of relative paths, each owned. */
struct path_list {
	char **v;
	size_t n, cap;
};

struct qs_stage {
	char *outdir;
	char *tmpdir;
	bool created_outdir;
	struct path_list files; /* relative paths staged so far */
	struct path_list dirs;  /* relative folders created inside the staging folder, in creation order */
};

static char *join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *p = malloc(la + lb + 2);
	if (!p)
		return NULL;
	memcpy(p, a, la);
	p[la] = '/';
	memcpy(p + la + 1, b, lb + 1);
	return p;
}

static int push(struct path_list *l, const char *s)
{
	if (!qs_grow(&l->v, &l->cap, l->n, sizeof *l->v, 16) || !(l->v[l->n] = strdup(s)))
		return -1;
	l->n++;
	return 0;
}

static void list_free(struct path_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

/* mkdir -p; returns 0 or -1 with errno set. *created tells whether the last component was made here. */
static int mkdir_p(const char *path, bool *created)
{
	char *p = strdup(path);
	if (!p)
		return -1;
	*created = false;
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, 0777) == 0) {
			*created = c == '\0';
		} else if (errno != EEXIST) {
			free(p);
			return -1;
		} else {
			struct stat sb;
			if (stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
				free(p);
				errno = ENOTDIR;
				return -1;
			}
		}
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	return 0;
}

static void stage_free(struct qs_stage *st)
{
	list_free(&st->files);
	list_free(&st->dirs);
	free(st->outdir);
	free(st->tmpdir);
	free(st);
}

int qs_stage_open(const char *outdir, struct qs_stage **out)
{
	*out = NULL;
	struct qs_stage *st = calloc(1, sizeof *st);
	if (!st || !(st->outdir = strdup(outdir)) || !(st->tmpdir = join(outdir, ".qscope-XXXXXX"))) {
		if (st)
			stage_free(st);
		return qs_error_set(QS_ENOMEM, "out of memory");
	}
	if (mkdir_p(outdir, &st->created_outdir) != 0) {
		int rc = qs_error_set(QS_EIO, "'%s': cannot create output folder: %s", outdir, strerror(errno));
		stage_free(st);
		return rc;
	}
	if (!mkdtemp(st->tmpdir)) {
		int rc = qs_error_set(QS_EIO, "'%s': cannot write in output folder: %s", outdir, strerror(errno));
		if (st->created_outdir)
			rmdir(outdir);
		stage_free(st);
		return rc;
	}
	*out = st;
	return QS_OK;
}

/* Creates the folders of relpath inside base, recording the new ones in `made` (when not NULL). */
static int make_parents(const char *base, const char *relpath, struct path_list *made)
{
	char *rel = strdup(relpath);
	if (!rel)
		return qs_error_set(QS_ENOMEM, "out of memory");
	int rc = QS_OK;
	for (char *s = strchr(rel, '/'); s && rc == QS_OK; s = strchr(s + 1, '/')) {
		*s = '\0';
		char *dir = join(base, rel);
		if (!dir) {
			rc = qs_error_set(QS_ENOMEM, "out of memory");
		} else if (mkdir(dir, 0777) == 0) {
			if (made && push(made, rel) != 0)
				rc = qs_error_set(QS_ENOMEM, "out of memory");
		} else if (errno != EEXIST) {
			rc = qs_error_set(QS_EIO, "'%s': cannot create folder: %s", dir, strerror(errno));
		}
		free(dir);
		*s = '/';
	}
	free(rel);
	return rc;
}

int qs_stage_fopen(struct qs_stage *st, const char *relpath, FILE **f)
{
	*f = NULL;
	int rc = make_parents(st->tmpdir, relpath, &st->dirs);
	if (rc)
		return rc;
	char *path = join(st->tmpdir, relpath);
	if (!path || push(&st->files, relpath) != 0) {
		free(path);
		return qs_error_set(QS_ENOMEM, "out of memory");
	}
	*f = fopen(path, "wb");
	if (!*f)
		rc = qs_error_set(QS_EIO, "'%s': cannot create file: %s", path, strerror(errno));
	free(path);
	return rc;
}

int qs_stage_fclose(struct qs_stage *st, FILE *f)
{
	bool bad = ferror(f) != 0;
	int err = errno;
	if (fclose(f) != 0) {
		bad = true;
		err = errno;
	}
	if (bad)
		return qs_error_set(QS_EIO, "'%s': write failed: %s", st->outdir, strerror(err));
	return QS_OK;
}

/* Removes staged files and folders (deepest folders first) and the staging folder itself. */
static void remove_staged(struct qs_stage *st)
{
	for (size_t i = 0; i < st->files.n; i++) {
		char *p = join(st->tmpdir, st->files.v[i]);
		if (p)
			unlink(p);
		free(p);
	}
	for (size_t i = st->dirs.n; i-- > 0;) {
		char *p = join(st->tmpdir, st->dirs.v[i]);
		if (p)
			rmdir(p);
		free(p);
	}
	rmdir(st->tmpdir);
}

/* Whether OUT/relpath can take a staged file: every folder on its way is a folder (or a link to one) or absent, and
 * the path itself is not a folder (rename replaces a file or a link, but not a folder). Checked for every file before
 * the first rename, so that something in the way fails the commit before it has replaced anything. */
static int check_target(const struct qs_stage *st, const char *relpath)
{
	char *path = join(st->outdir, relpath);
	if (!path)
		return qs_error_set(QS_ENOMEM, "out of memory");
	int rc = QS_OK;
	struct stat sb;
	for (char *s = strchr(path + strlen(st->outdir) + 1, '/'); s && rc == QS_OK; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (stat(path, &sb) == 0 && !S_ISDIR(sb.st_mode))
			rc = qs_error_set(QS_EIO, "'%s': in the way of the results (not a folder); nothing was replaced", path);
		*s = '/';
	}
	if (rc == QS_OK && lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
		rc = qs_error_set(QS_EIO, "'%s': in the way of the results (a folder); nothing was replaced", path);
	free(path);
	return rc;
}

int qs_stage_commit(struct qs_stage *st)
{
	int rc = QS_OK;
	for (size_t i = 0; i < st->files.n && rc == QS_OK; i++)
		rc = check_target(st, st->files.v[i]);
	for (size_t i = 0; i < st->files.n && rc == QS_OK; i++) {
		rc = make_parents(st->outdir, st->files.v[i], NULL);
		char *from = join(st->tmpdir, st->files.v[i]);
		char *to = join(st->outdir, st->files.v[i]);
		if (rc == QS_OK && (!from || !to))
			rc = qs_error_set(QS_ENOMEM, "out of memory");
		if (rc == QS_OK && rename(from, to) != 0)
			rc = qs_error_set(QS_EIO, "'%s': cannot move result into place: %s", to, strerror(errno));
		free(from);
		free(to);
	}
	remove_staged(st);
	stage_free(st);
	return rc;
}

void qs_stage_abort(struct qs_stage *st)
{
	if (!st)
		return;
	remove_staged(st);
	if (st->created_outdir)
		rmdir(st->outdir);
	stage_free(st);
}

const char *qs_stage_outdir(const struct qs_stage *st)
{
	return st->outdir;
}
