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

/* The columns a terminal gives the character in the valid len-byte sequence at s: 2 in the East Asian wide and
 * full-width blocks (CJK ideographs, kana, Hangul, full-width forms, emoji), 1 elsewhere. */
static size_t char_columns(const unsigned char *s, size_t len)
{
	static const uint32_t wide[][2] = {
		{0x1100, 0x115F}, {0x2E80, 0x303E}, {0x3041, 0x33FF}, {0x3400, 0x4DBF}, {0x4E00, 0x9FFF},
		{0xA000, 0xA4CF}, {0xAC00, 0xD7A3}, {0xF900, 0xFAFF}, {0xFE30, 0xFE4F}, {0xFF00, 0xFF60},
		{0xFFE0, 0xFFE6}, {0x1F300, 0x1F64F}, {0x1F900, 0x1F9FF}, {0x20000, 0x2FFFD}, {0x30000, 0x3FFFD},
	};
	uint32_t c = len == 1 ? s[0] : s[0] & (0x7Fu >> len);
	for (size_t i = 1; i < len; i++)
		c = c << 6 | (s[i] & 0x3Fu);
	for (size_t i = 0; i < sizeof wide / sizeof *wide; i++)
		if (c >= wide[i][0] && c <= wide[i][1])
			return 2;
	return 1;
}

/* qs_escape, keeping at most max_columns columns (an escape takes 4); *columns gets the number kept. */
static void escape(const char *s, char *buf, size_t len, size_t max_columns, size_t *columns)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t used = 0, kept = 0;
	while (*p) {
		size_t n = *p >= 0x80 ? utf8_length(p) : (*p >= 0x20 && *p != 0x7F);
		size_t w = n ? char_columns(p, n) : 4;
		if (used + (n ? n : 4) >= len || kept + w > max_columns)
			break; /* cut before a whole character or escape that does not fit */
		if (n) {
			memcpy(buf + used, p, n);
			p += n;
			used += n;
		} else {
			snprintf(buf + used, 5, "\\x%02x", *p++);
			used += 4;
		}
		kept += w;
	}
	if (len)
		buf[used] = '\0';
	*columns = kept;
}

const char *qs_escape(const char *s, char *buf, size_t len)
{
	size_t columns;
	escape(s, buf, len, SIZE_MAX, &columns);
	return buf;
}

const char *qs_escape_cell(const char *s, size_t width, char *buf, size_t len)
{
	size_t columns;
	escape(s, buf, len, width, &columns);
	if (!len)
		return buf;
	size_t used = strlen(buf);
	while (columns < width && used + 1 < len) {
		buf[used++] = ' ';
		columns++;
	}
	buf[used] = '\0';
	return buf;
}

size_t qs_text_columns(const char *s)
{
	size_t columns = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t n = *p >= 0x80 ? utf8_length(p) : 1;
		columns += n ? char_columns(p, n) : 1; /* a byte that is not UTF-8 (not from qs_escape): one column */
		p += n ? n : 1;
	}
	return columns;
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
