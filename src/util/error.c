/* The error funnel: one thread-local message buffer, set once where an error is detected. */
#include "qs_error.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char qs_error_buf[1024];

int qs_error_set(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(qs_error_buf, sizeof qs_error_buf, fmt, ap);
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
