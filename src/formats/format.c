/* The loader table: picks a reader for each input file, and the element decoding every reader shares. */
#include "format.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/qs_error.h"

/* One row per format; detection ties go to the earlier row. */
static const struct qs_format *const qs_formats[] = {
	&qs_format_npy,
	&qs_format_npz,
	&qs_format_safetensors,
	&qs_format_raw,
#ifdef HAVE_ONNX
	&qs_format_onnx,
#endif
};

struct qs_source {
	const struct qs_format *format;
	void *state;
};

#define QS_HEAD_LEN 16

int qs_source_open(const char *path, const struct qs_load_opts *opts, struct qs_source **out)
{
	*out = NULL;
	unsigned char head[QS_HEAD_LEN];
	FILE *f = fopen(path, "rb");
	if (!f)
		return qs_error_set(QS_EIO, "'%s': cannot open: %s", path, strerror(errno));
	size_t len = fread(head, 1, sizeof head, f);
	int read_errno = errno;
	bool failed = ferror(f);
	fclose(f);
	if (failed)
		return qs_error_set(QS_EIO, "'%s': cannot read: %s", path, strerror(read_errno));
	if (len == 0)
		return qs_error_set(QS_EFORMAT, "'%s': empty file", path);

	const struct qs_format *format = NULL;
	if (opts && opts->dtype) {
		format = &qs_format_raw;
	} else {
		int best = 0;
		for (size_t i = 0; i < sizeof qs_formats / sizeof qs_formats[0]; i++) {
			int score = qs_formats[i]->detect(head, len, path);
			if (score > best) {
				best = score;
				format = qs_formats[i];
			}
		}
	}
	if (!format)
		return qs_error_set(QS_EFORMAT,
				    "'%s': unknown file format (expected .npy, .npz, .safetensors, .onnx, or raw data with --dtype)",
		                    path);

	struct qs_source *src = calloc(1, sizeof *src);
	if (!src)
		return qs_error_set(QS_ENOMEM, "'%s': out of memory", path);
	src->format = format;
	int status = format->open(path, opts, &src->state);
	if (status != QS_OK) {
		free(src);
		return status;
	}
	*out = src;
	return QS_OK;
}

bool qs_format_suffix_known(const char *path)
{
	for (size_t i = 0; i < sizeof qs_formats / sizeof qs_formats[0]; i++)
		if (qs_formats[i]->detect(NULL, 0, path) > 0)
			return true;
	return false;
}

int qs_source_next(struct qs_source *src, struct qs_tensor **out)
{
	*out = NULL;
	return src->format->next_tensor(src->state, out);
}

const char *qs_source_format_name(const struct qs_source *src)
{
	return src->format->name;
}

void qs_source_close(struct qs_source *src)
{
	if (!src)
		return;
	src->format->close(src->state);
	free(src);
}

int qs_source_read_first(const char *path, const struct qs_load_opts *opts, const char *what, struct qs_tensor **out)
{
	struct qs_source *src = NULL;
	*out = NULL;
	int rc = qs_source_open(path, opts, &src);
	if (rc == QS_OK)
		rc = qs_source_next(src, out);
	if (rc == QS_OK && !*out)
		rc = qs_error_set(QS_EFORMAT, "'%s': holds no %s%stensor", path, what ? what : "", what ? " " : "");
	if (src)
		qs_source_close(src);
	return rc;
}

void qs_path_stem(const char *path, char *buf, size_t len)
{
	if (len == 0)
		return;
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	const char *dot = strrchr(base, '.');
	size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
	if (n >= len)
		n = len - 1;
	memcpy(buf, base, n);
	buf[n] = '\0';
}

/* Sign, 5 exponent bits (bias 15), 10 mantissa bits. */
double qs_half_to_double(unsigned short h)
{
	int exp = (h >> 10) & 0x1f;
	int mant = h & 0x3ff;
	double v;
	if (exp == 0)
		v = ldexp(mant, -24);
	else if (exp == 0x1f)
		v = mant ? NAN : INFINITY;
	else
		v = ldexp(mant | 0x400, exp - 25);
	return (h & 0x8000) ? -v : v;
}

/* Sign, 8 exponent bits (bias 127), 7 mantissa bits: the top half of an IEEE single. */
double qs_bf16_to_double(unsigned short b)
{
	int exp = (b >> 7) & 0xff;
	int mant = b & 0x7f;
	double v;
	if (exp == 0)
		v = ldexp(mant, -133);
	else if (exp == 0xff)
		v = mant ? NAN : INFINITY;
	else
		v = ldexp(mant | 0x80, exp - 134);
	return (b & 0x8000) ? -v : v;
}

static const struct {
	const char *name;
	size_t size;
} qs_elem_info[] = {
	[QS_ELEM_F16] = {"f16", 2},
	[QS_ELEM_BF16] = {"bf16", 2},
	[QS_ELEM_F32] = {"f32", 4},
	[QS_ELEM_F64] = {"f64", 8},
};

bool qs_elem_parse(const char *name, enum qs_elem *out)
{
	for (size_t i = 0; i < sizeof qs_elem_info / sizeof qs_elem_info[0]; i++) {
		if (strcmp(name, qs_elem_info[i].name) == 0) {
			*out = (enum qs_elem)i;
			return true;
		}
	}
	return false;
}

const char *qs_elem_name(enum qs_elem e)
{
	return qs_elem_info[e].name;
}

size_t qs_elem_size(enum qs_elem e)
{
	return qs_elem_info[e].size;
}

static uint64_t qs_elem_load(const unsigned char *p, size_t size, bool big_endian)
{
	uint64_t u = 0;
	for (size_t i = 0; i < size; i++)
		u |= (uint64_t)p[big_endian ? size - 1 - i : i] << (8 * i);
	return u;
}

static void qs_elem_decode(enum qs_elem e, bool big_endian, const unsigned char *src, size_t count, double *dst)
{
	size_t size = qs_elem_info[e].size;
	for (size_t i = 0; i < count; i++) {
		uint64_t u = qs_elem_load(src + i * size, size, big_endian);
		switch (e) {
		case QS_ELEM_F16:
			dst[i] = qs_half_to_double((unsigned short)u);
			break;
		case QS_ELEM_BF16:
			dst[i] = qs_bf16_to_double((unsigned short)u);
			break;
		case QS_ELEM_F32: {
			uint32_t u32 = (uint32_t)u;
			float fv;
			memcpy(&fv, &u32, sizeof fv);
			dst[i] = fv;
			break;
		}
		case QS_ELEM_F64:
			memcpy(&dst[i], &u, sizeof dst[i]);
			break;
		}
	}
}

/* qs_elem_decode, with the common cases (float32 and float64 in the host's byte order) as plain loops the compiler
 * can vectorize: the generic decoder assembles each element byte by byte. */
static void qs_elem_decode_fast(enum qs_elem e, bool big_endian, const unsigned char *src, size_t count, double *dst)
{
	const uint16_t probe = 1;
	unsigned char first;
	memcpy(&first, &probe, 1);
	bool host_order = big_endian == (first == 0);
	if (host_order && e == QS_ELEM_F32) {
		for (size_t i = 0; i < count; i++) {
			float v;
			memcpy(&v, src + i * sizeof v, sizeof v);
			dst[i] = v;
		}
	} else if (host_order && e == QS_ELEM_F64) {
		memcpy(dst, src, count * sizeof *dst);
	} else {
		qs_elem_decode(e, big_endian, src, count, dst);
	}
}

/* From this many bytes, a stream backed by a regular file is read by all OpenMP threads at once, each with pread()
 * into its own slice of dst; smaller reads, pipes and in-memory streams are read in order with fread(). */
#define ELEM_READ_PARALLEL_MIN ((size_t)4 << 20)
#define ELEM_READ_PIECE ((size_t)256 << 10)

/* Reads len bytes at off: 0, an errno value, or -1 at the end of the file. */
static int qs_pread_full(int fd, unsigned char *buf, size_t len, off_t off)
{
	size_t got = 0;
	while (got < len) {
		ssize_t r = pread(fd, buf + got, len - got, off + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno ? errno : EIO;
		if (r == 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/* The parallel read of count elements at the stream's position; false (nothing read) if the stream does not allow
 * it. On success the stream is left after the data, as fread would leave it. */
static bool qs_elem_pread(FILE *f, const char *path, enum qs_elem e, bool big_endian, size_t count, double *dst,
			  int *status)
{
	size_t size = qs_elem_info[e].size;
	int fd = fileno(f);
	struct stat st;
	if (count > SIZE_MAX / size || count * size < ELEM_READ_PARALLEL_MIN || fd < 0 || fstat(fd, &st) != 0 ||
	    !S_ISREG(st.st_mode))
		return false;
	off_t start = ftello(f);
	size_t bytes = count * size;
	if (start < 0 || (uintmax_t)st.st_size < (uintmax_t)start || (uintmax_t)st.st_size - (uintmax_t)start < bytes)
		return false; /* short: the ordered read reports how short */
	size_t per_piece = ELEM_READ_PIECE / size;
	size_t pieces = (count + per_piece - 1) / per_piece;
	int failed = 0; /* the first failure seen: an errno value, or -1 if the file shrank while being read */
	#pragma omp parallel
	{
		unsigned char *buf = malloc(ELEM_READ_PIECE);
		#pragma omp for schedule(static)
		for (size_t k = 0; k < pieces; k++) {
			size_t first = k * per_piece, m = count - first < per_piece ? count - first : per_piece;
			int rc = buf ? qs_pread_full(fd, buf, m * size, start + (off_t)(first * size)) : ENOMEM;
			if (rc == 0) {
				qs_elem_decode_fast(e, big_endian, buf, m, dst + first);
			} else {
				#pragma omp critical(qs_elem_pread_failed)
				if (!failed)
					failed = rc;
			}
		}
		free(buf);
	}
	if (failed == -1)
		*status = qs_error_set(QS_EFORMAT, "'%s': truncated data (the file shrank while being read)", path);
	else if (failed)
		*status = qs_error_set(failed == ENOMEM ? QS_ENOMEM : QS_EIO, "'%s': cannot read: %s", path,
				       strerror(failed));
	else if (fseeko(f, start + (off_t)bytes, SEEK_SET) != 0)
		*status = qs_error_set(QS_EIO, "'%s': cannot seek: %s", path, strerror(errno));
	else
		*status = QS_OK;
	return true;
}

int qs_elem_read(FILE *f, const char *path, enum qs_elem e, bool big_endian, size_t count, double *dst)
{
	int status;
	if (qs_elem_pread(f, path, e, big_endian, count, dst, &status))
		return status;
	unsigned char chunk[16384];
	size_t size = qs_elem_info[e].size;
	size_t per_chunk = sizeof chunk / size;
	size_t done = 0;
	while (done < count) {
		size_t want = count - done < per_chunk ? count - done : per_chunk;
		size_t got_bytes = fread(chunk, 1, want * size, f);
		size_t got = got_bytes / size;
		qs_elem_decode_fast(e, big_endian, chunk, got, dst + done);
		done += got;
		if (got < want) {
			if (ferror(f))
				return qs_error_set(QS_EIO, "'%s': cannot read: %s", path, strerror(errno));
			return qs_error_set(QS_EFORMAT, "'%s': truncated data (expected %zu bytes, found %zu)", path,
			                    count * size, (done - got) * size + got_bytes);
		}
	}
	return QS_OK;
}

int qs_file_size(FILE *f, const char *path, size_t *size)
{
	struct stat st;
	if (fstat(fileno(f), &st) != 0)
		return qs_error_set(QS_EIO, "'%s': cannot stat: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return qs_error_set(QS_EIO, "'%s': not a regular file", path);
	if ((uintmax_t)st.st_size > SIZE_MAX)
		return qs_error_set(QS_EFORMAT, "'%s': file too large", path);
	*size = (size_t)st.st_size;
	return QS_OK;
}

int qs_natural_cmp(const char *a, const char *b)
{
	while (*a && *b) {
		if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
			char *ea, *eb;
			unsigned long long va = strtoull(a, &ea, 10), vb = strtoull(b, &eb, 10);
			if (va != vb)
				return va < vb ? -1 : 1;
			a = ea;
			b = eb;
			continue;
		}
		if (*a != *b)
			return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
		a++;
		b++;
	}
	return (unsigned char)*a - (unsigned char)*b;
}
