/* Activation dumps: one tensor recorded over several batches. A batch set is read as the concatenation of some of
 * its batches along axis 0 (for calibration), or one batch at a time (for evaluation), never all at once. */
#ifndef QS_BATCHES_H
#define QS_BATCHES_H

#include <stddef.h>

#include "format.h"

/* One batch: a tensor file, or the array named `key` inside a container (npz, safetensors, ...). */
struct qs_batch {
	char *path;
	char *key;   /* NULL: the file's only tensor */
};

struct qs_batch_set {
	char *name;               /* the activation's name */
	struct qs_batch *batches; /* in natural order of (path, key): batch i is batches[i] */
	size_t n, cap;
};

struct qs_batch_sets {
	struct qs_batch_set *sets;
	size_t n, cap;
};

/* Adds the batches a --batches argument names: a file glob (`acts/relu1/` then `*.npy`). Each matched file holding one
 * tensor is a batch of the set named by its stem without a trailing batch number (`relu1.3` and `relu1_3` -> relu1);
 * a stem that is only a number (`acts/relu1/0.npy`) takes its folder's name. A file holding several arrays (a
 * container) contributes each array the same way, by its key (`relu1/0`, `relu1.0`). Sets and batches are kept in
 * natural order. No match is QS_EIO naming the pattern. */
int qs_batch_sets_add_glob(struct qs_batch_sets *sets, const char *pattern, const struct qs_load_opts *opts);
void qs_batch_sets_free(struct qs_batch_sets *sets);

/* The set's name for an array called `stem` found in `path` (see above): written into buf. */
void qs_batch_set_name(const char *path, const char *stem, char *buf, size_t len);

/* Reads batch i. */
int qs_batch_read(const struct qs_batch_set *s, size_t i, const struct qs_load_opts *opts, struct qs_tensor **out);

/* Reads batches idx[0..n_idx) and concatenates them along axis 0 into one tensor named after the set (shapes must
 * agree on every other axis; errors name the batch). Activations quantize per channel along axis 1 by default. */
int qs_batch_concat(const struct qs_batch_set *s, const size_t *idx, size_t n_idx, const struct qs_load_opts *opts,
		    struct qs_tensor **out);

#endif
