/* The error funnel: one thread-local message buffer, set once where an error is detected. */
#include "qs_error.h"

#include <stdarg.h>
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

/* The message becomes head + the recorded one + tail (both formatted by the caller). */
static int wrap(int status, const char *head, const char *tail)
{
	char old[sizeof qs_error_buf];
	memcpy(old, qs_error_buf, sizeof old);
	return qs_error_set(status, "%s%s%s", head, old, tail); /* cut at the buffer's size, as any message */
}

int qs_error_prefix(int status, const char *fmt, ...)
{
	char head[sizeof qs_error_buf];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(head, sizeof head, fmt, ap);
	va_end(ap);
	return wrap(status, head, "");
}

int qs_error_suffix(int status, const char *fmt, ...)
{
	char tail[sizeof qs_error_buf];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tail, sizeof tail, fmt, ap);
	va_end(ap);
	return wrap(status, "", tail);
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
