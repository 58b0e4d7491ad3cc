/* Names: looking a word up in a table of names (the enum value is the index), and a name made safe as a file name. */
#ifndef QS_NAMES_H
#define QS_NAMES_H

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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

/* Longest file stem made of a name (qs_name_stem): with a suffix such as ".zero_point.npy" or "-12" it stays within
 * one file-name component (255 bytes on Linux file systems). */
#define QS_NAME_STEM_MAX 200

/* The file stem of a name, into out[QS_NAME_STEM_MAX + 1]: the name made safe by qs_name_file_safe; a name longer
 * than QS_NAME_STEM_MAX bytes keeps its first QS_NAME_STEM_MAX - 17 bytes, then '-' and 16 hex digits of the 64-bit
 * FNV-1a hash of the whole name, so two long names that share their beginning still get different stems. */
static inline void qs_name_stem(const char *name, char *out)
{
	size_t len = strlen(name);
	if (len <= QS_NAME_STEM_MAX) {
		memcpy(out, name, len + 1);
		qs_name_file_safe(out);
		return;
	}
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * UINT64_C(0x100000001b3);
	memcpy(out, name, QS_NAME_STEM_MAX - 17);
	out[QS_NAME_STEM_MAX - 17] = '\0';
	qs_name_file_safe(out);
	snprintf(out + QS_NAME_STEM_MAX - 17, 18, "-%016" PRIx64, h);
}

#endif
