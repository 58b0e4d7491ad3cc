/* Looking a word up in a table of names (the enum value is the index). */
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

#endif
