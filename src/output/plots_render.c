/* Rendering charts: gnuplot started without a shell, a batch of scripts per process, a few processes at a time. */
#include "plots.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../util/qs_alloc.h"
#include "../util/qs_error.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Whether an executable `name` is on PATH. */
static bool on_path(const char *name)
{
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	char buf[4096];
	while (*path) {
		size_t len = strcspn(path, ":");
		snprintf(buf, sizeof buf, "%.*s/%s", len ? (int)len : 1, len ? path : ".", name);
		struct stat sb;
		if (stat(buf, &sb) == 0 && S_ISREG(sb.st_mode) && access(buf, X_OK) == 0)
			return true;
		path += len;
		if (*path == ':')
			path++;
	}
	return false;
}

/* Scripts per gnuplot process: starting gnuplot costs about as much as drawing a chart, so a process renders a
 * batch of scripts in turn (each script starts with `reset`, so none inherits another's settings). */
#define BATCH_MAX 24

/* One gnuplot run: `gnuplot -e fmt='FMT' SCRIPT...` with cwd = the plots folder, stderr into a temporary file. */
struct job {
	pid_t pid;
	FILE *err;
	char *const *scripts;
	size_t n_scripts;   /* 1..BATCH_MAX */
	const char *fmt;
};

/* Starts a job; returns 0, or -1 with errno set. */
static int job_start(struct job *j, const char *dir)
{
	char fmt_arg[32];
	snprintf(fmt_arg, sizeof fmt_arg, "fmt='%s'", j->fmt);
	char *argv[BATCH_MAX + 4] = {"gnuplot", "-e", fmt_arg};
	for (size_t i = 0; i < j->n_scripts && i < BATCH_MAX; i++)
		argv[3 + i] = j->scripts[i];
	if (!(j->err = tmpfile()))
		return -1;
	fflush(NULL);
	j->pid = fork();
	if (j->pid < 0) {
		fclose(j->err);
		j->err = NULL;
		return -1;
	}
	if (j->pid == 0) {
		sigset_t none; /* the CLI blocks SIGINT, SIGTERM and SIGHUP in all its threads (cli_signals.c): not gnuplot */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		int devnull = open("/dev/null", O_RDWR);
		if (devnull >= 0) {
			dup2(devnull, STDIN_FILENO);
			dup2(devnull, STDOUT_FILENO);
		}
		dup2(fileno(j->err), STDERR_FILENO);
		if (chdir(dir) != 0) {
			static const char msg[] = "cannot enter the plots folder\n";
			ssize_t r = write(STDERR_FILENO, msg, sizeof msg - 1);
			(void)r;
			_exit(126);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	return 0;
}

/* Waits for a job; returns its exit status (128 + signal when killed, -1 when waiting failed) and its stderr. */
static int job_finish(struct job *j, char *err, size_t err_len)
{
	int status = 0, rc = -1;
	pid_t w;
	while ((w = waitpid(j->pid, &status, 0)) < 0 && errno == EINTR)
		;
	if (w == j->pid && WIFEXITED(status))
		rc = WEXITSTATUS(status);
	else if (w == j->pid && WIFSIGNALED(status))
		rc = 128 + WTERMSIG(status);
	size_t got = 0;
	if (fseek(j->err, 0, SEEK_SET) == 0)
		got = fread(err, 1, err_len - 1, j->err);
	err[got] = '\0';
	fclose(j->err);
	j->err = NULL;
	return rc;
}

/* A batch failed: runs its scripts one by one until one fails, and narrows the job to it (its status and stderr);
 * the batch's status when none fails alone. */
static int find_failing(struct job *j, const char *dir, char *err, size_t err_len, int batch_status)
{
	char *const *scripts = j->scripts;
	size_t n = j->n_scripts;
	char one[2048];
	for (size_t i = 0; i < n; i++) {
		struct job single = {.scripts = scripts + i, .n_scripts = 1, .fmt = j->fmt};
		if (job_start(&single, dir) != 0)
			break;
		int st = job_finish(&single, one, sizeof one);
		if (st != 0) {
			j->scripts = scripts + i;
			j->n_scripts = 1;
			snprintf(err, err_len, "%s", one);
			return st;
		}
	}
	return batch_status;
}

int qs_plots_render(const char *plots_dir, const char *const *formats, size_t n_formats, char *warning, size_t len)
{
	if (len)
		warning[0] = '\0';
	for (size_t i = 0; i < n_formats; i++)
		if (strcmp(formats[i], "png") && strcmp(formats[i], "svg") && strcmp(formats[i], "pdf"))
			return qs_error_set(QS_EUSAGE, "unknown chart format '%s' (png, svg or pdf)", formats[i]);
	if (!on_path("gnuplot")) {
		if (len)
			snprintf(warning, len, "gnuplot not found: wrote .dat/.gp only (render with: cd '%s' && gnuplot "
					       "FILE.gp)", plots_dir);
		return QS_OK;
	}
	DIR *d = opendir(plots_dir);
	if (!d)
		return qs_error_set(QS_EIO, "'%s': cannot open folder: %s", plots_dir, strerror(errno));
	char **scripts = NULL;
	size_t n = 0, cap = 0;
	int rc = QS_OK;
	struct dirent *e;
	while (rc == QS_OK && (e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l < 4 || strcmp(e->d_name + l - 3, ".gp") || e->d_name[0] == '.')
			continue;
		if (!qs_grow(&scripts, &cap, n, sizeof *scripts, 64) || !(scripts[n] = strdup(e->d_name)))
			rc = qs_error_set(QS_ENOMEM, "out of memory");
		else
			n++;
	}
	closedir(d);
	if (rc == QS_OK)
		qsort(scripts, n, sizeof *scripts, cmp_str);
	/* every (batch of scripts, format) pair, a few gnuplots at a time */
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t width = cpus < 1 ? 1 : cpus > 16 ? 16 : (size_t)cpus, head = 0;
	size_t batch = (n + width - 1) / width;
	batch = batch < 1 ? 1 : batch > BATCH_MAX ? BATCH_MAX : batch;
	size_t n_batches = (n + batch - 1) / batch, n_jobs = n_batches * n_formats;
	struct job *ring = calloc(width, sizeof *ring);
	char err[2048];
	size_t failed = 0;
	if (rc == QS_OK && !ring)
		rc = qs_error_set(QS_ENOMEM, "out of memory");
	for (size_t next = 0; rc == QS_OK && (head < next || next < n_jobs);) {
		if (next < n_jobs && next - head < width) {
			struct job *j = &ring[next % width];
			size_t first = next / n_formats * batch;
			j->scripts = scripts + first;
			j->n_scripts = n - first < batch ? n - first : batch;
			j->fmt = formats[next % n_formats];
			if (job_start(j, plots_dir) != 0) {
				if (failed++ == 0)
					qs_error_set(QS_EIO, "'%s/%s': cannot run gnuplot: %s", plots_dir, j->scripts[0],
						     strerror(errno));
				n_jobs = next; /* start nothing more; wait for the running ones */
				continue;
			}
			next++;
			continue;
		}
		struct job *j = &ring[head++ % width];
		int st = job_finish(j, err, sizeof err);
		if (st == 0)
			continue;
		if (failed == 0 && j->n_scripts > 1)
			st = find_failing(j, plots_dir, err, sizeof err, st);
		size_t el = strlen(err);
		while (el > 0 && (err[el - 1] == '\n' || err[el - 1] == ' '))
			err[--el] = '\0';
		if (failed++ == 0)
			qs_error_set(QS_EIO, "'%s/%s': gnuplot failed rendering %s (exit status %d)%s%s", plots_dir,
				     j->scripts[0], j->fmt, st, el ? ":\n" : "", err);
	}
	free(ring);
	if (rc == QS_OK && failed)
		rc = QS_EIO;
	for (size_t i = 0; i < n; i++)
		free(scripts[i]);
	free(scripts);
	return rc;
}
