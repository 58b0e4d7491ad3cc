/* The error funnel: one thread-local message buffer, set once where an error is detected. */
#include "qs_error.h"

#include <stdarg.h>
#include <stdbool.h>
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
