/* CSV lines split into fields. */
#include "csv_split.h"

size_t qs_csv_split(char *line, char **fields, size_t max)
{
	size_t n = 0;
	char *r = line, *w = line;
	while (n < max) {
		fields[n++] = w;
		if (*r == '"') {
			r++;
			while (*r && !(*r == '"' && r[1] != '"')) {
				if (*r == '"')
					r++;
				*w++ = *r++;
			}
			if (*r == '"')
				r++;
		} else {
			while (*r && *r != ',' && *r != '\n' && *r != '\r')
				*w++ = *r++;
		}
		if (*r != ',') {
			*w = '\0';
			break;
		}
		*w++ = '\0';
		r++;
	}
	return n;
}
