/* The .npy header reader and data decoder, shared by the .npy reader and the .npz reader (one stream per member). */
#ifndef QS_NPY_H
#define QS_NPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "format.h"

/* What an .npy header says about the array that follows it. */
struct qs_npy_info {
	enum qs_elem elem;
	bool big_endian;            /* byte order of the stored elements */
	bool fortran;               /* stored first index fastest */
	int rank;
	size_t shape[QS_MAX_RANK];
	size_t n;                   /* product of shape */
	char other_dtype[24];       /* with skip: the dtype as the header spells it ("<i8") */
	bool skip;                  /* only with skip_other_dtypes: a well-formed header of a dtype qscope does not read
	                             * (integers, complex, objects, records); the fields above are then not set */
};

/* Reads the preamble and header of an .npy stream that is `size` bytes long in all, from f positioned at its start,
 * and leaves f at the first data byte. Checks that exactly the data the header announces follows. Errors are
 * QS_EFORMAT / QS_EIO / QS_ENOMEM messages that begin with `'<path>': `. With skip_other_dtypes, a header whose
 * dtype is not float16/32/64 sets info->skip instead of failing. */
int qs_npy_read_header(FILE *f, size_t size, const char *path, bool skip_other_dtypes, struct qs_npy_info *info);

/* Reads the info->n elements at f's position and stores them as doubles in C order into dst. */
int qs_npy_read_data(FILE *f, const char *path, const struct qs_npy_info *info, double *dst);

#endif
