/* inih fed one whole line at a time: an over-long line is an error instead of two lines. */
#include "qs_ini.h"

#include <string.h>

#include "qs_error.h"

struct line_reader {
	FILE *f;
	int lineno;   /* lines handed to inih so far */
	int too_long; /* the first line longer than inih's buffer, 0 if none */
	int limit;    /* characters inih's buffer holds */
};

/* fgets for inih. A line that fills the buffer exactly also has its "\n" or "\r\n" consumed here: inih would read
 * it as an empty line of its own and number every later line one too high. */
static char *read_line(char *str, int num, void *stream)
{
	struct line_reader *r = stream;
	if (r->too_long || !fgets(str, num, r->f))
		return NULL;
	r->lineno++;
	size_t len = strlen(str);
	if (len + 1 < (size_t)num || str[len - 1] == '\n')
		return str;
	int c = getc(r->f);
	if (c == '\r')
		c = getc(r->f);
	if (c == '\n' || c == EOF)
		return str;
	r->too_long = r->lineno;
	r->limit = num - 1;
	return NULL;
}

int qs_ini_parse_file(FILE *f, const char *path, ini_handler handler, void *user, int *line)
{
	struct line_reader r = {.f = f};
	*line = ini_parse_stream(read_line, &r, handler, user);
	if (*line == 0 && r.too_long)
		return qs_error_set(QS_EFORMAT, "'%s': line %d is longer than %d characters (the INI reader's limit)", path,
				    r.too_long, r.limit);
	return QS_OK;
}
