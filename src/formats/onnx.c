/* The .onnx reader: every float tensor of a model (initializers, Constant nodes, subgraphs) and the op consuming it. */
#include "format.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "onnx.pb-c.h"

#include "../util/qs_alloc.h"
#include "../util/qs_error.h"

/* The whole file is read and unpacked by protobuf-c at open: memory is about the file size (twice that while
 * unpacking, as protobuf-c copies raw_data out of the file buffer), plus one tensor's doubles at a time. External
 * data files are read tensor by tensor.
 *
 * Tensors are listed in model order: a graph's initializers, then its nodes, where a Constant node gives its `value`
 * tensor and a node with subgraphs (If's then_branch/else_branch, Loop's and Scan's body) gives theirs, recursively,
 * at its place. A tensor of the main graph is named as the model names it (initializer name, Constant output name);
 * one inside a subgraph is prefixed by the path to it, "NODE/ATTR/", NODE being the node's name (or OP_INDEX, its op
 * type and position in its graph, when it has none), e.g. "If_0/then_branch/W", "Loop_3/body/If_1/else_branch/W";
 * a graph list attribute adds the graph's index: "NODE/ATTR/K/". */

#define QS_ONNX_MAX_DEPTH 64 /* subgraph nesting */

/* One float tensor of the model, checked at open; its data stay in the unpacked message (or external file). */
struct qs_onnx_entry {
	char *name;                 /* path-qualified; owned */
	const Onnx__TensorProto *tp;
	enum qs_elem elem;
	int rank;
	size_t shape[QS_MAX_RANK];
	size_t n;
	char consumer[32];
	int channel_axis;
	char *ext_path;             /* data_location EXTERNAL: the file (resolved next to the model); owned */
	off_t ext_offset;
};

struct qs_onnx {
	char *path;
	int dir_len;                /* path[0..dir_len) is the model's folder, with its '/' */
	Onnx__ModelProto *model;
	struct qs_onnx_entry *entries;
	size_t n_entries, cap;
	size_t next;
	const struct qs_load_opts *opts;
};

/* The float data types qscope reads; every other TensorProto type is skipped. */
static const struct {
	int type;
	enum qs_elem elem;
	const char *name;
} qs_onnx_dtypes[] = {
	{ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, QS_ELEM_F32, "FLOAT"},
	{ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE, QS_ELEM_F64, "DOUBLE"},
	{ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16, QS_ELEM_F16, "FLOAT16"},
	{ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16, QS_ELEM_BF16, "BFLOAT16"},
};

static const char *qs_onnx_dtype_name(enum qs_elem e)
{
	for (size_t i = 0; i < sizeof qs_onnx_dtypes / sizeof qs_onnx_dtypes[0]; i++)
		if (qs_onnx_dtypes[i].elem == e)
			return qs_onnx_dtypes[i].name;
	return "?";
}

/* The output-channel axis of input `input` (of rank `rank`) of an op: Conv W [out, in/g, k...] 0, ConvTranspose
 * W [in, out/g, k...] 1, MatMul B [..., in, out] its last, Gemm B [out, in] 0 with transB else [in, out] 1; the
 * biases (Conv/ConvTranspose B, Gemm C) their last. -1 for any other input or op. */
static int qs_onnx_channel_axis(const char *op_type, size_t input, bool trans_b, int rank)
{
	int axis = -1;
	if (strcmp(op_type, "Conv") == 0)
		axis = input == 1 ? 0 : input == 2 ? rank - 1 : -1;
	else if (strcmp(op_type, "ConvTranspose") == 0)
		axis = input == 1 ? 1 : input == 2 ? rank - 1 : -1;
	else if (strcmp(op_type, "MatMul") == 0)
		axis = input == 1 && rank >= 2 ? rank - 1 : -1;
	else if (strcmp(op_type, "Gemm") == 0)
		axis = input == 1 ? (trans_b ? 0 : 1) : input == 2 ? rank - 1 : -1;
	return axis >= 0 && axis < rank ? axis : -1;
}

static bool qs_onnx_trans_b(const Onnx__NodeProto *node)
{
	for (size_t i = 0; i < node->n_attribute; i++)
		if (strcmp(node->attribute[i]->name, "transB") == 0)
			return node->attribute[i]->has_i && node->attribute[i]->i != 0;
	return false;
}

/* Finds the node consuming `name` in graph g or its subgraphs (which may use outer names): the first whose op has
 * an output-channel axis for that input, else the first consumer. Returns true when one with an axis was found. */
static bool qs_onnx_find_consumer(const Onnx__GraphProto *g, const char *name, struct qs_onnx_entry *e, int depth)
{
	if (depth > QS_ONNX_MAX_DEPTH)
		return false;
	for (size_t i = 0; i < g->n_node; i++) {
		const Onnx__NodeProto *node = g->node[i];
		for (size_t k = 0; k < node->n_input; k++) {
			if (strcmp(node->input[k], name) != 0)
				continue;
			int axis = qs_onnx_channel_axis(node->op_type, k, qs_onnx_trans_b(node), e->rank);
			if (axis >= 0 || e->consumer[0] == '\0')
				snprintf(e->consumer, sizeof e->consumer, "%s", node->op_type);
			if (axis >= 0) {
				e->channel_axis = axis;
				return true;
			}
		}
		for (size_t a = 0; a < node->n_attribute; a++) {
			const Onnx__AttributeProto *attr = node->attribute[a];
			if (attr->g && qs_onnx_find_consumer(attr->g, name, e, depth + 1))
				return true;
			for (size_t k = 0; k < attr->n_graphs; k++)
				if (qs_onnx_find_consumer(attr->graphs[k], name, e, depth + 1))
					return true;
		}
	}
	return false;
}

static int qs_onnx_bad(const struct qs_onnx *ox, const struct qs_onnx_entry *e, const char *what)
{
	return qs_error_set(QS_EFORMAT, "'%s': tensor '%.80s': %s", ox->path, e->name, what);
}

/* Whether an external data location stays inside the model's folder: relative, no ".." component. */
static bool qs_onnx_location_ok(const char *loc)
{
	if (loc[0] == '\0' || loc[0] == '/')
		return false;
	for (const char *p = loc; *p;) {
		size_t len = strcspn(p, "/");
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return false;
		p += len;
		p += *p == '/';
	}
	return true;
}

static bool qs_onnx_parse_size(const char *s, size_t *out)
{
	char *end;
	errno = 0;
	if (!s || *s < '0' || *s > '9')
		return false;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > SIZE_MAX)
		return false;
	*out = (size_t)v;
	return true;
}

/* Checks an external tensor: location, offset and length keys, and a file long enough to hold its bytes. */
static int qs_onnx_check_external(struct qs_onnx *ox, struct qs_onnx_entry *e, size_t bytes)
{
	const Onnx__TensorProto *tp = e->tp;
	const char *location = NULL;
	size_t offset = 0, length = bytes;
	for (size_t i = 0; i < tp->n_external_data; i++) {
		const char *key = tp->external_data[i]->key, *value = tp->external_data[i]->value;
		if (!key || !value)
			continue;
		if (strcmp(key, "location") == 0)
			location = value;
		else if (strcmp(key, "offset") == 0 && !qs_onnx_parse_size(value, &offset))
			return qs_error_set(QS_EFORMAT, "'%s': tensor '%.80s': bad external data offset '%.40s'", ox->path,
			                    e->name, value);
		else if (strcmp(key, "length") == 0 && !qs_onnx_parse_size(value, &length))
			return qs_error_set(QS_EFORMAT, "'%s': tensor '%.80s': bad external data length '%.40s'", ox->path,
			                    e->name, value);
	}
	if (!location)
		return qs_onnx_bad(ox, e, "external data without a location");
	if (!qs_onnx_location_ok(location))
		return qs_error_set(QS_EFORMAT,
		                    "'%s': tensor '%.80s': external data location '%.200s' is outside the model's folder",
		                    ox->path, e->name, location);
	if (length != bytes)
		return qs_error_set(QS_EFORMAT,
		                    "'%s': tensor '%.80s': wrong data size (%zu values of %s need %zu bytes, "
		                    "external data length is %zu)",
		                    ox->path, e->name, e->n, qs_onnx_dtype_name(e->elem), bytes, length);
	if ((uintmax_t)offset > (uintmax_t)INTMAX_MAX / 2)
		return qs_error_set(QS_EFORMAT, "'%s': tensor '%.80s': external data offset %zu is absurd", ox->path,
		                    e->name, offset);
	size_t len = (size_t)ox->dir_len + strlen(location) + 1;
	if (!(e->ext_path = malloc(len)))
		return qs_error_set(QS_ENOMEM, "'%s': out of memory", ox->path);
	snprintf(e->ext_path, len, "%.*s%s", ox->dir_len, ox->path, location);
	e->ext_offset = (off_t)offset;

	FILE *f = fopen(e->ext_path, "rb");
	if (!f)
		return qs_error_set(QS_EIO, "'%s': tensor '%.80s': cannot open external data '%s': %s", ox->path, e->name,
		                    e->ext_path, strerror(errno));
	size_t size;
	int status = qs_file_size(f, e->ext_path, &size);
	fclose(f);
	if (status == QS_OK && (offset > size || size - offset < bytes))
		status = qs_error_set(QS_EFORMAT,
		                      "'%s': tensor '%.80s': truncated external data '%s' (expected %zu bytes at offset %zu, "
		                      "the file has %zu)",
		                      ox->path, e->name, e->ext_path, bytes, offset, size);
	return status;
}

/* Checks that the tensor's stored data hold exactly its n values. */
static int qs_onnx_check_data(struct qs_onnx *ox, struct qs_onnx_entry *e)
{
	const Onnx__TensorProto *tp = e->tp;
	size_t esize = qs_elem_size(e->elem);
	if (e->n > SIZE_MAX / esize || e->n > SIZE_MAX / sizeof(double))
		return qs_onnx_bad(ox, e, "shape overflows (more elements than can be addressed)");
	size_t bytes = e->n * esize;
	if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
		return qs_onnx_check_external(ox, e, bytes);
	const char *field = NULL;
	size_t have = 0;
	if (tp->has_raw_data) {
		if (tp->raw_data.len != bytes)
			return qs_error_set(QS_EFORMAT,
			                    "'%s': tensor '%.80s': wrong data size (%zu values of %s need %zu bytes, "
			                    "raw_data holds %zu)",
			                    ox->path, e->name, e->n, qs_onnx_dtype_name(e->elem), bytes, tp->raw_data.len);
		return QS_OK;
	}
	switch (e->elem) {
	case QS_ELEM_F32:
		field = "float_data", have = tp->n_float_data;
		break;
	case QS_ELEM_F64:
		field = "double_data", have = tp->n_double_data;
		break;
	case QS_ELEM_F16:
	case QS_ELEM_BF16:
		field = "int32_data", have = tp->n_int32_data;
		break;
	}
	if (have != e->n)
		return qs_error_set(QS_EFORMAT, "'%s': tensor '%.80s': wrong data size (%zu values of %s, %s holds %zu)",
		                    ox->path, e->name, e->n, qs_onnx_dtype_name(e->elem), field, have);
	return QS_OK;
}

/* Adds tensor tp (found in graph g under the name `local`) as prefix + local, if it is a float tensor. */
static int qs_onnx_add(struct qs_onnx *ox, const Onnx__GraphProto *g, const char *prefix, const char *local,
                       const Onnx__TensorProto *tp)
{
	size_t k = 0, n_dtypes = sizeof qs_onnx_dtypes / sizeof qs_onnx_dtypes[0];
	while (k < n_dtypes && !(tp->has_data_type && tp->data_type == qs_onnx_dtypes[k].type))
		k++;
	if (k == n_dtypes) { /* integers, bool, strings, complex, 8-bit floats: not weights qscope measures */
		if (ox->opts && ox->opts->skipped) {
			const ProtobufCEnumValue *v = tp->has_data_type
				? protobuf_c_enum_descriptor_get_value(&onnx__tensor_proto__data_type__descriptor, tp->data_type)
				: NULL;
			char name[512];
			snprintf(name, sizeof name, "%s%s", prefix, local);
			ox->opts->skipped(ox->opts->skipped_ctx, name, v ? v->name : "UNDEFINED");
		}
		return QS_OK;
	}
	if (!qs_grow(&ox->entries, &ox->cap, ox->n_entries, sizeof *ox->entries, 64))
		return qs_error_set(QS_ENOMEM, "'%s': out of memory", ox->path);
	struct qs_onnx_entry *e = &ox->entries[ox->n_entries];
	memset(e, 0, sizeof *e);
	size_t len = strlen(prefix) + strlen(local) + 1;
	if (!(e->name = malloc(len)))
		return qs_error_set(QS_ENOMEM, "'%s': out of memory", ox->path);
	snprintf(e->name, len, "%s%s", prefix, local);
	ox->n_entries++;
	e->tp = tp;
	e->elem = qs_onnx_dtypes[k].elem;
	e->channel_axis = -1;
	if (tp->n_dims > QS_MAX_RANK)
		return qs_error_set(QS_EFORMAT, "'%s': tensor '%.80s': unsupported rank %zu (qscope reads up to %d dimensions)",
		                    ox->path, e->name, tp->n_dims, QS_MAX_RANK);
	e->rank = (int)tp->n_dims;
	for (int i = 0; i < e->rank; i++) {
		if (tp->dims[i] < 0 || (uint64_t)tp->dims[i] > SIZE_MAX)
			return qs_onnx_bad(ox, e, "negative or absurd dimension");
		e->shape[i] = (size_t)tp->dims[i];
	}
	if (!qs_shape_count(e->rank, e->shape, &e->n))
		return qs_onnx_bad(ox, e, "shape overflows (more elements than can be addressed)");
	qs_onnx_find_consumer(g, local, e, 0);
	return qs_onnx_check_data(ox, e);
}

/* Collects graph g's float tensors, recursing into the subgraphs of its nodes. */
static int qs_onnx_walk(struct qs_onnx *ox, const Onnx__GraphProto *g, const char *prefix, int depth)
{
	if (depth > QS_ONNX_MAX_DEPTH)
		return qs_error_set(QS_EFORMAT, "'%s': subgraphs nested over %d deep", ox->path, QS_ONNX_MAX_DEPTH);
	int status = QS_OK;
	char index[48];
	for (size_t i = 0; i < g->n_initializer && status == QS_OK; i++) {
		const char *name = g->initializer[i]->name;
		snprintf(index, sizeof index, "initializer_%zu", i);
		status = qs_onnx_add(ox, g, prefix, name && *name ? name : index, g->initializer[i]);
	}
	for (size_t i = 0; i < g->n_node && status == QS_OK; i++) {
		const Onnx__NodeProto *node = g->node[i];
		if (strcmp(node->op_type, "Constant") == 0) {
			for (size_t a = 0; a < node->n_attribute && status == QS_OK; a++) {
				const Onnx__AttributeProto *attr = node->attribute[a];
				if (strcmp(attr->name, "value") == 0 && attr->t) {
					snprintf(index, sizeof index, "Constant_%zu", i);
					const char *name = node->n_output > 0 && *node->output[0] ? node->output[0] : index;
					status = qs_onnx_add(ox, g, prefix, name, attr->t);
				}
			}
		}
		for (size_t a = 0; a < node->n_attribute && status == QS_OK; a++) {
			const Onnx__AttributeProto *attr = node->attribute[a];
			if (!attr->g && attr->n_graphs == 0)
				continue;
			char label[64];
			snprintf(label, sizeof label, "%.40s_%zu", node->op_type, i);
			const char *node_name = node->name && *node->name ? node->name : label;
			for (size_t k = 0; k < attr->n_graphs + (attr->g != NULL) && status == QS_OK; k++) {
				const Onnx__GraphProto *sub = attr->g && k == 0 ? attr->g : attr->graphs[k - (attr->g != NULL)];
				size_t len = strlen(prefix) + strlen(node_name) + strlen(attr->name) + 32;
				char *sub_prefix = malloc(len);
				if (!sub_prefix)
					return qs_error_set(QS_ENOMEM, "'%s': out of memory", ox->path);
				if (attr->g && k == 0)
					snprintf(sub_prefix, len, "%s%s/%s/", prefix, node_name, attr->name);
				else
					snprintf(sub_prefix, len, "%s%s/%s/%zu/", prefix, node_name, attr->name,
					         k - (attr->g != NULL));
				status = qs_onnx_walk(ox, sub, sub_prefix, depth + 1);
				free(sub_prefix);
			}
		}
	}
	return status;
}

static void qs_onnx_close(void *state)
{
	struct qs_onnx *ox = state;
	if (!ox)
		return;
	for (size_t i = 0; i < ox->n_entries; i++) {
		free(ox->entries[i].name);
		free(ox->entries[i].ext_path);
	}
	free(ox->entries);
	if (ox->model)
		onnx__model_proto__free_unpacked(ox->model, NULL);
	free(ox->path);
	free(ox);
}

/* Reads the whole file into memory. */
static int qs_onnx_slurp(const char *path, unsigned char **buf, size_t *size)
{
	*buf = NULL;
	FILE *f = fopen(path, "rb");
	if (!f)
		return qs_error_set(QS_EIO, "'%s': cannot open: %s", path, strerror(errno));
	int status = qs_file_size(f, path, size);
	if (status == QS_OK && !(*buf = malloc(*size ? *size : 1)))
		status = qs_error_set(QS_ENOMEM, "'%s': out of memory reading %zu bytes", path, *size);
	if (status == QS_OK && fread(*buf, 1, *size, f) != *size)
		status = ferror(f) ? qs_error_set(QS_EIO, "'%s': cannot read: %s", path, strerror(errno))
		                   : qs_error_set(QS_EIO, "'%s': file shrank while being read", path);
	fclose(f);
	if (status != QS_OK) {
		free(*buf);
		*buf = NULL;
	}
	return status;
}

static int qs_onnx_open(const char *path, const struct qs_load_opts *opts, void **state)
{
	*state = NULL;
	struct qs_onnx *ox = calloc(1, sizeof *ox);
	if (!ox || !(ox->path = strdup(path))) {
		free(ox);
		return qs_error_set(QS_ENOMEM, "'%s': out of memory", path);
	}
	ox->opts = opts;
	const char *slash = strrchr(path, '/');
	ox->dir_len = slash ? (int)(slash - path) + 1 : 0;
	unsigned char *buf;
	size_t size;
	int status = qs_onnx_slurp(path, &buf, &size);
	if (status == QS_OK) {
		ox->model = onnx__model_proto__unpack(NULL, size, buf);
		free(buf);
		if (!ox->model)
			status = qs_error_set(QS_EFORMAT, "'%s': not a valid ONNX model (protobuf parse error)", path);
		else if (!ox->model->graph)
			status = qs_error_set(QS_EFORMAT, "'%s': not a valid ONNX model (no graph)", path);
	}
	if (status == QS_OK)
		status = qs_onnx_walk(ox, ox->model->graph, "", 0);
	if (status != QS_OK) {
		qs_onnx_close(ox);
		return status;
	}
	*state = ox;
	return QS_OK;
}

/* Decodes n stored little-endian elements from memory. */
static int qs_onnx_decode_bytes(const struct qs_onnx *ox, const struct qs_onnx_entry *e, const unsigned char *src,
                                double *dst)
{
	if (e->n == 0)
		return QS_OK;
	FILE *m = fmemopen((void *)src, e->n * qs_elem_size(e->elem), "rb");
	if (!m)
		return qs_error_set(QS_ENOMEM, "'%s': tensor '%.80s': out of memory", ox->path, e->name);
	int status = qs_elem_read(m, ox->path, e->elem, false, e->n, dst);
	fclose(m);
	return status;
}

static int qs_onnx_read_external(const struct qs_onnx *ox, const struct qs_onnx_entry *e, double *dst)
{
	FILE *f = fopen(e->ext_path, "rb");
	if (!f)
		return qs_error_set(QS_EIO, "'%s': tensor '%.80s': cannot open external data '%s': %s", ox->path, e->name,
		                    e->ext_path, strerror(errno));
	int status = QS_OK;
	if (fseeko(f, e->ext_offset, SEEK_SET) != 0)
		status = qs_error_set(QS_EIO, "'%s': cannot seek: %s", e->ext_path, strerror(errno));
	else
		status = qs_elem_read(f, e->ext_path, e->elem, false, e->n, dst);
	fclose(f);
	return status;
}

static int qs_onnx_convert(const struct qs_onnx *ox, const struct qs_onnx_entry *e, double *dst)
{
	const Onnx__TensorProto *tp = e->tp;
	if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
		return qs_onnx_read_external(ox, e, dst);
	if (tp->has_raw_data)
		return qs_onnx_decode_bytes(ox, e, tp->raw_data.data, dst);
	for (size_t i = 0; i < e->n; i++) {
		switch (e->elem) {
		case QS_ELEM_F32:
			dst[i] = tp->float_data[i];
			break;
		case QS_ELEM_F64:
			dst[i] = tp->double_data[i];
			break;
		case QS_ELEM_F16: /* the bits of a half in the low 16 bits of an int32 */
			dst[i] = qs_half_to_double((unsigned short)((uint32_t)tp->int32_data[i] & 0xffffu));
			break;
		case QS_ELEM_BF16:
			dst[i] = qs_bf16_to_double((unsigned short)((uint32_t)tp->int32_data[i] & 0xffffu));
			break;
		}
	}
	return QS_OK;
}

static int qs_onnx_next(void *state, struct qs_tensor **out)
{
	struct qs_onnx *ox = state;
	*out = NULL;
	if (ox->next == ox->n_entries)
		return QS_OK;
	const struct qs_onnx_entry *e = &ox->entries[ox->next++];
	struct qs_tensor *t = qs_tensor_alloc(e->name, qs_elem_name(e->elem), e->rank, e->shape);
	if (!t)
		return qs_error_set(QS_ENOMEM, "'%s': tensor '%.80s': out of memory", ox->path, e->name);
	snprintf(t->consumer, sizeof t->consumer, "%s", e->consumer);
	t->channel_axis = e->channel_axis;
	int status = qs_onnx_convert(ox, e, t->data);
	if (status != QS_OK) {
		qs_tensor_free(t);
		return status;
	}
	*out = t;
	return QS_OK;
}

/* Protobuf has no magic bytes: the suffix decides. */
static int qs_onnx_detect(const unsigned char *head, size_t len, const char *path)
{
	(void)head;
	(void)len;
	size_t n = strlen(path);
	return n > 5 && strcmp(path + n - 5, ".onnx") == 0 ? 1 : 0;
}

const struct qs_format qs_format_onnx = {
	.name = "onnx",
	.detect = qs_onnx_detect,
	.open = qs_onnx_open,
	.next_tensor = qs_onnx_next,
	.close = qs_onnx_close,
};
