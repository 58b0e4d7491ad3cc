/* Staging folder for atomic output: write everything under OUT/.qscope-XXXXXX, rename into OUT at the end, and undo
 * those renames if one of them fails. A process ending on a signal removes its staging folders first
 * (qs_stage_discard_all). */
#define _XOPEN_SOURCE 700 /* nftw: removing a staging folder left by a killed run */
#include "stage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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
	struct qs_stage *next;  /* the next open stage (open_stages) */
	int lock_fd;            /* the staging folder's lock file, locked while this process lives; -1: none */
	char note[1024];        /* what qs_stage_open did about staging folders left by killed runs; "" if nothing */
};

/* In each staging folder: a file held under flock(LOCK_EX) while its run lives. The kernel releases the lock however
 * the process ends, so a folder whose lock file can be locked was left by a run that died without removing it. */
#define LOCK_NAME ".qscope-lock"

/* The stages open now, for qs_stage_discard_all. stage_lock guards this list, every change to a stage's lists, and
 * each commit and abort whole: a discard asked for during a commit happens once the commit has ended. */
static pthread_mutex_t stage_lock = PTHREAD_MUTEX_INITIALIZER;
static struct qs_stage *open_stages;

/* Takes st off open_stages (called with stage_lock held). */
static void unregister(struct qs_stage *st)
{
	for (struct qs_stage **p = &open_stages; *p; p = &(*p)->next)
		if (*p == st) {
			*p = st->next;
			return;
		}
}

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
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	list_free(&st->files);
	list_free(&st->dirs);
	free(st->outdir);
	free(st->tmpdir);
	free(st);
}

/* Locks the new staging folder tmpdir (see LOCK_NAME). The file is made and locked under another name, then renamed,
 * so that another run never finds it unlocked while this one lives. Returns the descriptor, or -1: the folder then
 * has no lock file, and no run takes it for one left behind. */
static int take_lock(const char *tmpdir)
{
	char *made = join(tmpdir, LOCK_NAME ".new"), *lock = join(tmpdir, LOCK_NAME);
	int fd = made && lock ? open(made, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;
	if (fd >= 0 && (flock(fd, LOCK_EX) != 0 || rename(made, lock) != 0)) {
		unlink(made);
		close(fd);
		fd = -1;
	}
	free(made);
	free(lock);
	return fd;
}

/* nftw callback: removes one entry of a staging folder left behind, deepest first (FTW_DEPTH). */
static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *where)
{
	(void)sb;
	(void)where;
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* Whether the staging folder dir holds a commit's backups (.old-XXXXXX): results its run was replacing as it died. */
static bool holds_backups(const char *dir)
{
	DIR *d = opendir(dir);
	bool found = false;
	for (struct dirent *e; d && !found && (e = readdir(d));)
		found = strncmp(e->d_name, ".old-", 5) == 0;
	if (d)
		closedir(d);
	return found;
}

/* Staging folders in OUT left by runs that died without removing them (SIGKILL, the OOM killer, a crash): their lock
 * file can be locked. Each is removed, unless it holds a commit's backups, which stay for the user. st->note says what
 * was done. Folders without a lock file (an older qscope's, or one a run is making) are left alone. */
static void remove_stale(struct qs_stage *st)
{
	DIR *d = opendir(st->outdir);
	size_t removed = 0;
	char kept[512] = "";
	for (struct dirent *e; d && (e = readdir(d));) {
		if (strncmp(e->d_name, ".qscope-", 8) != 0)
			continue;
		char *dir = join(st->outdir, e->d_name), *lock = dir ? join(dir, LOCK_NAME) : NULL;
		int fd = lock ? open(lock, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : -1;
		if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
			if (holds_backups(dir))
				snprintf(kept, sizeof kept, "%s", dir);
			else if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 && access(dir, F_OK) != 0)
				removed++;
		}
		if (fd >= 0)
			close(fd);
		free(lock);
		free(dir);
	}
	if (d)
		closedir(d);
	size_t used = 0;
	if (removed)
		used = (size_t)snprintf(st->note, sizeof st->note, "removed %zu staging folder%s that killed runs left in '%s'",
					removed, removed == 1 ? "" : "s", st->outdir);
	if (kept[0] && used < sizeof st->note)
		snprintf(st->note + used, sizeof st->note - used,
			 "%s'%s' was left by a run killed while it replaced results: the files it replaced are in its .old-* "
			 "folder (put them back by hand, then remove it)", used ? "; " : "", kept);
}

int qs_stage_open(const char *outdir, struct qs_stage **out)
{
	*out = NULL;
	struct qs_stage *st = calloc(1, sizeof *st);
	if (st)
		st->lock_fd = -1;
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
	remove_stale(st);
	if (!mkdtemp(st->tmpdir)) {
		int rc = qs_error_set(QS_EIO, "'%s': cannot write in output folder: %s", outdir, strerror(errno));
		if (st->created_outdir)
			rmdir(outdir);
		stage_free(st);
		return rc;
	}
	st->lock_fd = take_lock(st->tmpdir);
	pthread_mutex_lock(&stage_lock);
	st->next = open_stages;
	open_stages = st;
	pthread_mutex_unlock(&stage_lock);
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
	pthread_mutex_lock(&stage_lock);
	int rc = make_parents(st->tmpdir, relpath, &st->dirs);
	char *path = rc ? NULL : join(st->tmpdir, relpath);
	if (rc == QS_OK && (!path || push(&st->files, relpath) != 0))
		rc = qs_error_set(QS_ENOMEM, "out of memory");
	if (rc == QS_OK && !(*f = fopen(path, "wb")))
		rc = qs_error_set(QS_EIO, "'%s': cannot create file: %s", path, strerror(errno));
	pthread_mutex_unlock(&stage_lock);
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

/* Removes the folders base/dirs[i] that are empty, last made first (so the deepest go before their parents). */
static void remove_dirs(const char *base, const struct path_list *dirs)
{
	for (size_t i = dirs->n; i-- > 0;) {
		char *p = join(base, dirs->v[i]);
		if (p)
			rmdir(p);
		free(p);
	}
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
	remove_dirs(st->tmpdir, &st->dirs);
	char *lock = join(st->tmpdir, LOCK_NAME);
	if (lock)
		unlink(lock);
	free(lock);
	rmdir(st->tmpdir);
}

/* Whether OUT/relpath can take a staged file: every folder on its way is a folder (or a link to one) or absent, the
 * deepest one there is on the staging folder's file system (rename cannot cross to another), and the path itself is
 * not a folder (rename replaces a file or a link, but not a folder). Checked for every file before the first rename,
 * so that something in the way fails the commit before it has replaced anything. */
static int check_target(const struct qs_stage *st, const char *relpath, dev_t dev)
{
	char *path = join(st->outdir, relpath);
	if (!path)
		return qs_error_set(QS_ENOMEM, "out of memory");
	int rc = QS_OK;
	struct stat sb;
	dev_t last = dev;                    /* the device of the deepest folder on the way that exists */
	size_t last_len = strlen(st->outdir); /* and the length of its path (at first OUT, the staging folder's) */
	for (char *s = strchr(path + strlen(st->outdir) + 1, '/'); s && rc == QS_OK; s = strchr(s + 1, '/')) {
		*s = '\0';
		int err = stat(path, &sb) == 0 ? 0 : errno;
		if (!err && !S_ISDIR(sb.st_mode))
			rc = qs_error_set(QS_EIO, "'%s': in the way of the results (not a folder); nothing was replaced", path);
		else if (!err)
			last = sb.st_dev, last_len = (size_t)(s - path);
		else if (err != ENOENT || lstat(path, &sb) == 0) /* absent is fine, a broken link or a loop is not */
			rc = qs_error_set(QS_EIO, "'%s': in the way of the results (%s); nothing was replaced", path,
					  err == ENOENT ? "a broken link" : strerror(err));
		*s = '/';
	}
	if (rc == QS_OK && last != dev)
		rc = qs_error_set(QS_EIO, "'%.*s': on another file system than the output folder (results are moved into "
				  "place by rename); nothing was replaced", (int)last_len, path);
	else if (rc == QS_OK && lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
		rc = qs_error_set(QS_EIO, "'%s': in the way of the results (a folder); nothing was replaced", path);
	free(path);
	return rc;
}

/* What the commit did to one target OUT/relpath, for the rollback. */
struct undo {
	char *to;     /* OUT/relpath */
	char *backup; /* the file OUT/relpath held before the commit, in the backup folder; NULL: it held none */
	bool moved;   /* the backup was renamed there (no hard link), so OUT/relpath is absent until the new file lands */
	bool placed;  /* the staged file was renamed to OUT/relpath */
	bool kept;    /* the backup could not be put back: it stays for the user, named in the message */
};

/* A commit in progress. */
struct commit {
	char *bakdir;          /* OUT/.qscope-XXXXXX/.old-XXXXXX, made by mkdtemp once every file is staged, so its
	                        * name cannot be one of the staged paths */
	struct undo *undo;     /* one per staged file, in commit order */
	struct path_list made; /* folders the commit created in OUT, in creation order */
};

static int commit_begin(const struct qs_stage *st, struct commit *c)
{
	int rc = QS_OK;
	c->undo = calloc(st->files.n ? st->files.n : 1, sizeof *c->undo);
	c->bakdir = join(st->tmpdir, ".old-XXXXXX");
	if (!c->undo || !c->bakdir)
		rc = qs_error_set(QS_ENOMEM, "out of memory");
	else if (!mkdtemp(c->bakdir))
		rc = qs_error_set(QS_EIO, "'%s': cannot write in output folder: %s; nothing was replaced", st->outdir,
		                  strerror(errno));
	if (rc) {
		free(c->bakdir);
		c->bakdir = NULL;
	}
	return rc;
}

/* Renames staged file i to OUT/relpath. What OUT/relpath held is kept in the backup folder first, as a hard link: the
 * old file stays in place until rename replaces it atomically. Where the link fails (a file system without hard
 * links, fs.protected_hardlinks on another user's file) the old file itself is renamed there, leaving OUT/relpath
 * absent for a moment. No copy is ever needed: the backup folder is on the staging folder's file system, and a target
 * on another one (a linked sub-folder) cannot take the staged file by rename either, so that commit fails anyway. */
static int place(const struct qs_stage *st, struct commit *c, size_t i)
{
	const char *rel = st->files.v[i];
	struct undo *u = &c->undo[i];
	int rc = make_parents(st->outdir, rel, &c->made);
	if (rc)
		return rc;
	const char *slash = strrchr(rel, '/');
	const char *name = slash ? slash + 1 : rel;
	size_t size = strlen(c->bakdir) + strlen(name) + 32;
	char *from = join(st->tmpdir, rel);
	char *bak = malloc(size);
	u->to = join(st->outdir, rel);
	struct stat sb;
	if (!from || !bak || !u->to) {
		rc = qs_error_set(QS_ENOMEM, "out of memory");
		goto out;
	}
	snprintf(bak, size, "%s/%zu-%s", c->bakdir, i, name); /* the index keeps names unique, the name helps the user */
	if (lstat(u->to, &sb) == 0) {
		if (linkat(AT_FDCWD, u->to, AT_FDCWD, bak, 0) != 0) { /* flags 0: a link is kept as the link itself */
			if (rename(u->to, bak) != 0) {
				rc = qs_error_set(QS_EIO, "'%s': cannot keep the previous file for a rollback: %s", u->to,
				                  strerror(errno));
				goto out;
			}
			u->moved = true;
		}
		u->backup = bak;
		bak = NULL;
	} else if (errno != ENOENT) {
		rc = qs_error_set(QS_EIO, "'%s': cannot move result into place: %s", u->to, strerror(errno));
		goto out;
	}
	if (rename(from, u->to) != 0)
		rc = qs_error_set(QS_EIO, "'%s': cannot move result into place: %s", u->to, strerror(errno));
	else
		u->placed = true;
out:
	free(from);
	free(bak);
	return rc;
}

/* Undoes the first n targets, last first: a backup goes back by rename, a file that was new is removed; then the
 * folders the commit made go, where empty. The message rc set gets what became of the earlier results. */
static int rollback(const struct qs_stage *st, struct commit *c, size_t n, int rc)
{
	bool touched = false, replaced = false;
	size_t n_failed = 0;
	const struct undo *failed = NULL;
	int failed_errno = 0;
	for (size_t i = n; i-- > 0;) {
		struct undo *u = &c->undo[i];
		int r = 0;
		if (u->backup && (u->placed || u->moved)) {
			r = rename(u->backup, u->to);
			u->kept = r != 0;
			replaced = true;
		} else if (u->placed) {
			r = unlink(u->to);
		} else {
			continue;
		}
		touched = true;
		if (r != 0 && n_failed++ == 0) {
			failed = u;
			failed_errno = errno;
		}
	}
	remove_dirs(st->outdir, &c->made);
	if (!touched)
		return qs_error_suffix(rc, "; nothing was replaced");
	if (!failed && !replaced)
		return qs_error_suffix(rc, "; the new files moved into place so far were removed");
	if (!failed)
		return qs_error_suffix(rc, "; the previous results were restored");
	if (failed->kept)
		rc = qs_error_suffix(rc, "; the previous results were not all restored: '%s' could not be put back (%s), the "
		                     "previous file is kept as '%s'", failed->to, strerror(failed_errno), failed->backup);
	else
		rc = qs_error_suffix(rc, "; the previous results were not all restored: the new '%s' could not be removed (%s)",
		                     failed->to, strerror(failed_errno));
	if (n_failed > 1)
		rc = qs_error_suffix(rc, " (and %zu more files)", n_failed - 1);
	return rc;
}

/* Drops the backups (all of them after a success; after a rollback, those no longer needed), and frees c. */
static void commit_end(struct commit *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (c->undo[i].backup && !c->undo[i].kept)
			unlink(c->undo[i].backup);
		free(c->undo[i].backup);
		free(c->undo[i].to);
	}
	if (c->bakdir)
		rmdir(c->bakdir);
	free(c->bakdir);
	free(c->undo);
	list_free(&c->made);
}

int qs_stage_commit(struct qs_stage *st)
{
	pthread_mutex_lock(&stage_lock);
	int rc = QS_OK;
	struct stat sb;
	if (stat(st->tmpdir, &sb) != 0)
		rc = qs_error_set(QS_EIO, "'%s': staging folder gone: %s; nothing was replaced", st->tmpdir, strerror(errno));
	for (size_t i = 0; i < st->files.n && rc == QS_OK; i++)
		rc = check_target(st, st->files.v[i], sb.st_dev);
	struct commit c = {0};
	size_t n = 0; /* files the commit has begun to place */
	if (rc == QS_OK && (rc = commit_begin(st, &c)) == QS_OK) {
		while (rc == QS_OK && n < st->files.n)
			rc = place(st, &c, n++);
		if (rc)
			rc = rollback(st, &c, n, rc);
	}
	commit_end(&c, n);
	remove_staged(st);
	if (rc && st->created_outdir)
		rmdir(st->outdir);
	unregister(st);
	pthread_mutex_unlock(&stage_lock);
	stage_free(st);
	return rc;
}

/* Removes st's staging folder, and OUT when this run created it and it is empty (called with stage_lock held). */
static void discard(struct qs_stage *st)
{
	remove_staged(st);
	if (st->created_outdir)
		rmdir(st->outdir);
}

void qs_stage_abort(struct qs_stage *st)
{
	if (!st)
		return;
	pthread_mutex_lock(&stage_lock);
	discard(st);
	unregister(st);
	pthread_mutex_unlock(&stage_lock);
	stage_free(st);
}

bool qs_stage_discard_all(void)
{
	pthread_mutex_lock(&stage_lock); /* never released: the process is about to end */
	bool any = open_stages != NULL;
	for (struct qs_stage *st = open_stages; st; st = st->next)
		discard(st);
	return any;
}

const char *qs_stage_note(const struct qs_stage *st)
{
	return st->note;
}

const char *qs_stage_outdir(const struct qs_stage *st)
{
	return st->outdir;
}
