/* Reading CSV lines back: one line split into fields. */
#ifndef QS_CSV_SPLIT_H
#define QS_CSV_SPLIT_H

#include <stddef.h>

/* Splits one CSV line in place into at most `max` fields (RFC 4180 quoting within the line; a trailing newline
 * ends the last field). Returns the field count. */
size_t qs_csv_split(char *line, char **fields, size_t max);

#endif
