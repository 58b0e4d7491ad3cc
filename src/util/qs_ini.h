/* Reading an INI file with inih, refusing lines too long for inih's line buffer instead of letting inih split them. */
#ifndef QS_INI_H
#define QS_INI_H

#include <ini.h>
#include <stdio.h>

/* ini_parse_file(f, handler, user) with whole lines only. *line gets inih's result: 0, or the first line that was
 * not INI or whose handler returned 0. A line longer than inih's buffer (INI_MAX_LINE less one, 199 characters, not
 * counting "\n" or "\r\n") ends the parse: when no earlier line failed, returns QS_EFORMAT with the message
 * "'path': line N is longer than 199 characters (...)", otherwise QS_OK and the earlier failure in *line. Lines are
 * numbered as in the file (plain inih counts the line end of a 199-character line as one more line). */
int qs_ini_parse_file(FILE *f, const char *path, ini_handler handler, void *user, int *line);

#endif
