/* The error funnel: one thread-local message buffer, set once where an error is detected. */
#include "qs_error.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char qs_error_buf[1024];

int qs_error_set(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(qs_error_buf, sizeof qs_error_buf, fmt, ap);
	va_end(ap);
	return status;
}

/* The recorded message with fmt's text in front of it (before) or after it. */
static int wrap(int status, bool before, const char *fmt, va_list ap)
{
	char old[sizeof qs_error_buf], add[sizeof qs_error_buf];
	memcpy(old, qs_error_buf, sizeof old);
	vsnprintf(add, sizeof add, fmt, ap);
	return qs_error_set(status, "%s%s", before ? add : old, before ? old : add); /* cut at the buffer's size */
}

int qs_error_prefix(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	status = wrap(status, true, fmt, ap);
	va_end(ap);
	return status;
}

int qs_error_suffix(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	status = wrap(status, false, fmt, ap);
	va_end(ap);
	return status;
}

/* The length of the valid UTF-8 sequence at s (2 to 4 bytes; no overlong forms, surrogates or code points beyond
 * U+10FFFF), 0 if there is none. Stops at the first bad byte, so never reads past a terminating NUL. */
static size_t utf8_length(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xBF;
	size_t len;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		len = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		len = 3, lo = s[0] == 0xE0 ? 0xA0 : lo, hi = s[0] == 0xED ? 0x9F : hi;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		len = 4, lo = s[0] == 0xF0 ? 0x90 : lo, hi = s[0] == 0xF4 ? 0x8F : hi;
	else
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
}

/* qs_escape, keeping at most max_chars characters (an escape counts as 4); *chars gets the number kept. */
static void escape(const char *s, char *buf, size_t len, size_t max_chars, size_t *chars)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t used = 0, kept = 0;
	while (*p) {
		size_t n = *p >= 0x80 ? utf8_length(p) : (*p >= 0x20 && *p != 0x7F);
		if (used + (n ? n : 4) >= len || kept + (n ? 1 : 4) > max_chars)
			break; /* cut before a whole character or escape that does not fit */
		if (n) {
			memcpy(buf + used, p, n);
			p += n;
			used += n;
			kept++;
		} else {
			snprintf(buf + used, 5, "\\x%02x", *p++);
			used += 4;
			kept += 4;
		}
	}
	if (len)
		buf[used] = '\0';
	*chars = kept;
}

const char *qs_escape(const char *s, char *buf, size_t len)
{
	size_t chars;
	escape(s, buf, len, SIZE_MAX, &chars);
	return buf;
}

const char *qs_escape_cell(const char *s, size_t width, char *buf, size_t len)
{
	size_t chars;
	escape(s, buf, len, width, &chars);
	if (!len)
		return buf;
	size_t used = strlen(buf);
	while (chars < width && used + 1 < len) {
		buf[used++] = ' ';
		chars++;
	}
	buf[used] = '\0';
	return buf;
}

size_t qs_text_columns(const char *s)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		n += (*p & 0xC0) != 0x80;
	return n;
}

void qs_eprintf(const char *fmt, ...)
{
	char line[2048], escaped[4 * sizeof line];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", qs_escape(line, escaped, sizeof escaped));
}

const char *qs_error_message(void)
{
	return qs_error_buf;
}

int qs_error_exit_code(int status)
{
	if (status == QS_OK)
		return 0;
	return status == QS_EUSAGE ? 2 : 1;
}
