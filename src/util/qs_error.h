/* Status codes and the one place an error message is recorded (read back by the CLI, printed git-style). */
#ifndef QS_ERROR_H
#define QS_ERROR_H

#include <stddef.h>

enum qs_status {
	QS_OK = 0,
	QS_EIO,        /* cannot open/read/write a file */
	QS_EFORMAT,    /* malformed or unsupported input data */
	QS_ENONFINITE, /* NaN or Inf where finite values are required */
	QS_ENOMEM,     /* allocation failed */
	QS_EINVAL,     /* a parameter value that cannot be used (bad axis, bad range, ...) */
	QS_EUSAGE,     /* the command line cannot be carried out as written */
};

/* Records a printf-style message for the calling thread and returns `status` (so `return qs_error_set(...)`).
 * Messages follow the house style: the subject quoted first, then the problem in lower case. */
int qs_error_set(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Adds context to the message already recorded (a file, a layer, a hint) in front of it or after it, and returns
 * `status`: qs_error_prefix(rc, "'%s': ", path) turns "bad x" into "'path': bad x". */
int qs_error_prefix(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int qs_error_suffix(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Returns the last message recorded by this thread ("" if none). */
const char *qs_error_message(void);

/* s with every byte that is not printable text (control characters, DEL, bytes that are not valid UTF-8) written as
 * \xNN, into buf[len] (cut before a character or escape that does not fit; len 4 times s's length always fits);
 * returns buf. Names read from files reach the terminal and logs without escape sequences or broken text. */
const char *qs_escape(const char *s, char *buf, size_t len);

/* A table cell `width` terminal columns wide: s escaped as by qs_escape, cut before the character or escape that
 * would make it wider, then padded with spaces; into buf[len] (5 * width + 1 always fits); returns buf. */
const char *qs_escape_cell(const char *s, size_t width, char *buf, size_t len);

/* The terminal columns of the UTF-8 text s, such as qs_escape's output: one per character, two for an East Asian
 * wide or full-width one (CJK, kana, Hangul, emoji). Combining marks count one (their base character is not known). */
size_t qs_text_columns(const char *s);

/* printf to stderr through qs_escape, then a newline: how every message of the CLI is printed. */
void qs_eprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Returns the process exit status for a status code: 0 ok, 2 usage, 1 everything else. */
int qs_error_exit_code(int status);

#endif
