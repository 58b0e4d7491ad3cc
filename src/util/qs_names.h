/* Names: looking a word up in a table of names (the enum value is the index), and a name made safe as a file name. */
#ifndef QS_NAMES_H
#define QS_NAMES_H

#include <stddef.h>
#include <string.h>

/* The index of s in names[0..count), or -1 when it is not there. */
static inline int qs_name_index(const char *const *names, size_t count, const char *s)
{
	for (size_t i = 0; i < count; i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

/* s made safe as one file-name component, in place: every character outside [A-Za-z0-9._-] becomes '_', and so does
 * a leading '.' (no hidden files, and "." or ".." cannot leave the folder); "" becomes "_". s must have room for 2. */
static inline void qs_name_file_safe(char *s)
{
	if (!*s) {
		strcpy(s, "_");
		return;
	}
	for (char *c = s; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      (strchr("._-", *c) && !(*c == '.' && c == s))))
			*c = '_';
}

#endif
