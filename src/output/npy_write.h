/* Writes arrays as .npy (format 1.0, little-endian, C order): float64 ("<f8") or int64 ("<i8"). */
#ifndef QS_NPY_WRITE_H
#define QS_NPY_WRITE_H

#include <stdio.h>

int qs_npy_write_f64(FILE *f, const double *data, int rank, const size_t *shape);
int qs_npy_write_i64(FILE *f, const long *data, int rank, const size_t *shape);

#endif
