/* The loader table: one entry per file format, detected by magic bytes first, then by file-name suffix. */
#ifndef QS_FORMAT_H
#define QS_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "../tensor/tensor.h"

/* What the user said about files that do not describe themselves (raw binaries). */
struct qs_load_opts {
	const char *dtype;          /* "f32" "f64" "f16" "bf16"; non-NULL forces the raw reader */
	int rank;                   /* -1: no --shape given (raw data is read as one 1-D tensor) */
	size_t shape[QS_MAX_RANK];
	bool big_endian;            /* raw data byte order (default little-endian) */
	/* Called for every array a container holds that qscope does not read (integers, bool, 8-bit floats, ...):
	 * its name and stored type. NULL: skipped silently. */
	void (*skipped)(void *ctx, const char *name, const char *dtype);
	void *skipped_ctx;
};

struct qs_format {
	const char *name;
	/* Score how well `head` (the first `len` bytes; len may be short) or the path's suffix matches:
	 * 2 = magic bytes match, 1 = suffix matches, 0 = not this format. */
	int (*detect)(const unsigned char *head, size_t len, const char *path);
	/* Opens the file; on success *state is the reader's own state. Errors name the file. */
	int (*open)(const char *path, const struct qs_load_opts *opts, void **state);
	/* Hands out the next tensor (caller frees it), or *out = NULL at the end. */
	int (*next_tensor)(void *state, struct qs_tensor **out);
	void (*close)(void *state);
};

extern const struct qs_format qs_format_npy;
extern const struct qs_format qs_format_npz;
extern const struct qs_format qs_format_safetensors;
extern const struct qs_format qs_format_raw;
#ifdef HAVE_ONNX
extern const struct qs_format qs_format_onnx;
#endif

/* An open input file and the format reading it. */
struct qs_source;

/* Picks the format (raw when opts->dtype is set; else magic, then suffix) and opens the file. */
int qs_source_open(const char *path, const struct qs_load_opts *opts, struct qs_source **out);
int qs_source_next(struct qs_source *src, struct qs_tensor **out);
const char *qs_source_format_name(const struct qs_source *src);
void qs_source_close(struct qs_source *src);
/* Opens path and reads its first tensor; a file without one is QS_EFORMAT "'PATH': holds no WHAT tensor" (WHAT
 * NULL: "holds no tensor"). */
int qs_source_read_first(const char *path, const struct qs_load_opts *opts, const char *what, struct qs_tensor **out);

/* Whether some format claims the file by its name alone (used to pick tensor files out of a folder). */
bool qs_format_suffix_known(const char *path);

/* Natural order of names: digit runs compare as numbers ("conv2" < "conv10", "7.npy" < "12.npy"). */
int qs_natural_cmp(const char *a, const char *b);

/* The stem of a path ("dir/w.0.npy" -> "w.0"), written into buf. */
void qs_path_stem(const char *path, char *buf, size_t len);

/* Half- and bfloat16 bit patterns to double (exact, including subnormals, infinities and NaN). */
double qs_half_to_double(unsigned short h);
double qs_bf16_to_double(unsigned short b);

/* For the readers: the stored element types and one decoder shared by every format. */
enum qs_elem { QS_ELEM_F16, QS_ELEM_BF16, QS_ELEM_F32, QS_ELEM_F64 };

/* Parses a tensor dtype name ("f16" "bf16" "f32" "f64"); false if it is none of them. */
bool qs_elem_parse(const char *name, enum qs_elem *out);
const char *qs_elem_name(enum qs_elem e);   /* the tensor dtype string, e.g. "f32" */
size_t qs_elem_size(enum qs_elem e);        /* bytes per stored element */

/* Reads `count` stored elements from the current position of f and converts them to doubles in dst.
 * A short read is QS_EFORMAT "truncated data"; errors name `path`. */
int qs_elem_read(FILE *f, const char *path, enum qs_elem e, bool big_endian, size_t count, double *dst);

/* The size in bytes of the regular file open as f (QS_EIO naming `path` if it is not one). */
int qs_file_size(FILE *f, const char *path, size_t *size);

#endif
