/* .npy writer for the per-group qparams arrays. */
#include "npy_write.h"

#include <stdint.h>
#include <string.h>

#include "../util/qs_error.h"

static int write_header(FILE *f, const char *descr, int rank, const size_t *shape)
{
	char dict[256];
	int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
	for (int i = 0; i < rank; i++)
		len += snprintf(dict + len, sizeof dict - (size_t)len, rank == 1 ? "%zu," : (i ? ", %zu" : "%zu"),
				shape[i]);
	len += snprintf(dict + len, sizeof dict - (size_t)len, "), }");
	/* magic(6) + version(2) + header length(2) + dict + padding + '\n' is a multiple of 64 */
	size_t total = 10 + (size_t)len + 1;
	size_t pad = (64 - total % 64) % 64;
	unsigned short hlen = (unsigned short)((size_t)len + pad + 1);
	fwrite("\x93NUMPY\x01\x00", 1, 8, f);
	fputc(hlen & 0xff, f);
	fputc(hlen >> 8, f);
	fwrite(dict, 1, (size_t)len, f);
	for (size_t i = 0; i < pad; i++)
		fputc(' ', f);
	fputc('\n', f);
	return ferror(f) ? qs_error_set(QS_EIO, "write failed") : QS_OK;
}

static void put_le64(FILE *f, uint64_t v)
{
	unsigned char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	fwrite(b, 1, 8, f);
}

static size_t count_of(int rank, const size_t *shape)
{
	size_t n = 1;
	for (int i = 0; i < rank; i++)
		n *= shape[i];
	return n;
}

int qs_npy_write_f64(FILE *f, const double *data, int rank, const size_t *shape)
{
	int rc = write_header(f, "<f8", rank, shape);
	for (size_t i = 0, n = count_of(rank, shape); i < n && rc == QS_OK; i++) {
		uint64_t bits;
		memcpy(&bits, &data[i], sizeof bits);
		put_le64(f, bits);
	}
	return rc;
}

int qs_npy_write_i64(FILE *f, const long *data, int rank, const size_t *shape)
{
	int rc = write_header(f, "<i8", rank, shape);
	for (size_t i = 0, n = count_of(rank, shape); i < n && rc == QS_OK; i++)
		put_le64(f, (uint64_t)(int64_t)data[i]);
	return rc;
}
