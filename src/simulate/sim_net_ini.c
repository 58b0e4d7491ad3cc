/* The network description: an INI file with one section per layer, in order (see configs/lenet.ini). */
#include "sim_net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../formats/format.h"
#include "../util/qs_error.h"
#include "../util/qs_ini.h"

struct kind_entry {
	const char *name;
	enum qs_net_kind kind;
	const char *keys;   /* keys a section of this kind accepts (besides type), space-separated */
};

static const struct kind_entry kinds[] = {
	{"linear", QS_NET_LINEAR, " weight bias quantize "},
	{"conv2d", QS_NET_CONV2D, " weight bias stride padding dilation groups quantize "},
	{"relu", QS_NET_RELU, " "},
	{"relu6", QS_NET_RELU6, " "},
	{"maxpool", QS_NET_MAXPOOL, " kernel stride padding "},
	{"avgpool", QS_NET_AVGPOOL, " kernel stride padding "},
	{"flatten", QS_NET_FLATTEN, " "},
};

const char *qs_net_kind_name(enum qs_net_kind kind)
{
	for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
		if (kinds[i].kind == kind)
			return kinds[i].name;
	return "?";
}

/* What the parser collects before weights are read. */
struct pending {
	char weight[1024], bias[1024];
	bool has_type;
};

struct parse_ctx {
	struct qs_net *net;
	struct pending *pend;
	size_t cap;
	char dir[1024];
	int rc;            /* first error */
};

static int fail(struct parse_ctx *ctx, int status, const char *fmt, const char *a, const char *b)
{
	if (ctx->rc == QS_OK) {
		char msg[512];
		snprintf(msg, sizeof msg, fmt, a, b);
		ctx->rc = qs_error_set(status, "'%s': %s", ctx->net->path, msg);
	}
	return 0;
}

/* "2" or "2,1" -> (h, w) */
static int parse_pair(const char *v, size_t min, size_t out[2])
{
	char *end;
	errno = 0;
	if (*v == '-' || *v == '+')
		return -1;
	unsigned long a = strtoul(v, &end, 10), b = a;
	if (end == v || errno)
		return -1;
	if (*end == ',') {
		const char *p = end + 1;
		while (*p == ' ')
			p++;
		if (*p == '-' || *p == '+')
			return -1;
		b = strtoul(p, &end, 10);
		if (end == p || errno)
			return -1;
	}
	if (*end || a < min || b < min || a > 1000000 || b > 1000000)
		return -1;
	out[0] = a;
	out[1] = b;
	return 0;
}

/* A path of the config, relative to the config's folder; false if it does not fit buf. */
static bool resolve(const struct parse_ctx *ctx, const char *v, char *buf, size_t len)
{
	int k = v[0] == '/' || !ctx->dir[0] ? snprintf(buf, len, "%s", v) : snprintf(buf, len, "%s/%s", ctx->dir, v);
	return k >= 0 && (size_t)k < len;
}

static struct qs_net_layer *layer_for(struct parse_ctx *ctx, const char *section)
{
	struct qs_net *net = ctx->net;
	if (net->n_layers && strcmp(net->layers[net->n_layers - 1].name, section) == 0)
		return &net->layers[net->n_layers - 1];
	for (size_t i = 0; i < net->n_layers; i++)
		if (strcmp(net->layers[i].name, section) == 0) {
			fail(ctx, QS_EFORMAT, "section [%s] appears twice (layers are sections, in order)%s", section, "");
			return NULL;
		}
	if (net->n_layers == ctx->cap) {
		size_t ncap = ctx->cap ? 2 * ctx->cap : 16;
		struct qs_net_layer *l = realloc(net->layers, ncap * sizeof *l);
		struct pending *p = l ? realloc(ctx->pend, ncap * sizeof *p) : NULL;
		if (l)
			net->layers = l;
		if (!l || !p) {
			fail(ctx, QS_ENOMEM, "out of memory%s%s", "", "");
			return NULL;
		}
		ctx->pend = p;
		ctx->cap = ncap;
	}
	struct qs_net_layer *l = &net->layers[net->n_layers];
	memset(l, 0, sizeof *l);
	memset(&ctx->pend[net->n_layers], 0, sizeof *ctx->pend);
	snprintf(l->name, sizeof l->name, "%s", section);
	l->kind = QS_NET_FLATTEN;
	l->quantize = true;
	l->op.stride[0] = l->op.stride[1] = l->op.dilation[0] = l->op.dilation[1] = l->op.groups = 1;
	net->n_layers++;
	return l;
}

static int network_key(struct parse_ctx *ctx, const char *name, const char *value)
{
	if (strcmp(name, "input") != 0)
		return fail(ctx, QS_EFORMAT, "unknown key '%s' in [network] (known: input)%s", name, "");
	struct qs_net *net = ctx->net;
	char **p = realloc(net->inputs, (net->n_inputs + 1) * sizeof *p);
	if (!p)
		return fail(ctx, QS_ENOMEM, "out of memory%s%s", "", "");
	net->inputs = p;
	char buf[2048];
	if (!resolve(ctx, value, buf, sizeof buf))
		return fail(ctx, QS_EFORMAT, "path too long: '%s'%s", value, "");
	if (!(net->inputs[net->n_inputs] = strdup(buf)))
		return fail(ctx, QS_ENOMEM, "out of memory%s%s", "", "");
	net->n_inputs++;
	return 1;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *ctx = user;
	if (ctx->rc != QS_OK)
		return 1;
	if (strcmp(section, "network") == 0)
		return network_key(ctx, name, value);
	if (!section[0])
		return fail(ctx, QS_EFORMAT, "key '%s' outside a section%s", name, "");
	struct qs_net_layer *l = layer_for(ctx, section);
	if (!l)
		return 0;
	struct pending *p = &ctx->pend[l - ctx->net->layers];
	if (strcmp(name, "type") == 0) {
		for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
			if (strcmp(value, kinds[i].name) == 0) {
				l->kind = kinds[i].kind;
				l->op.op = l->kind == QS_NET_CONV2D ? QS_SIM_CONV2D : QS_SIM_LINEAR;
				p->has_type = true;
				return 1;
			}
		return fail(ctx, QS_EFORMAT, "[%s]: unknown layer type '%s' (linear, conv2d, relu, relu6, maxpool, "
			    "avgpool, flatten)", section, value);
	}
	if (!p->has_type)
		return fail(ctx, QS_EFORMAT, "[%s]: 'type' must come first in a layer section%s", section, "");
	char key[70];
	snprintf(key, sizeof key, " %s ", name);
	const char *accepted = "";
	for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
		if (kinds[i].kind == l->kind)
			accepted = kinds[i].keys;
	if (!strstr(accepted, key))
		return fail(ctx, QS_EFORMAT, "[%s]: unknown key '%s' for this layer type", section, name);
	bool pool = l->kind == QS_NET_MAXPOOL || l->kind == QS_NET_AVGPOOL;
	int bad = 0;
	size_t pair[2];
	if (strcmp(name, "weight") == 0) {
		bad = !resolve(ctx, value, p->weight, sizeof p->weight);
	} else if (strcmp(name, "bias") == 0) {
		bad = !resolve(ctx, value, p->bias, sizeof p->bias);
	} else if (strcmp(name, "quantize") == 0) {
		bool yes = strcmp(value, "yes") == 0, no = strcmp(value, "no") == 0;
		bad = !yes && !no;
		l->quantize = yes;
	} else if (strcmp(name, "groups") == 0) {
		bad = parse_pair(value, 1, pair) || pair[0] != pair[1];
		l->op.groups = pair[0];
	} else {
		size_t *dst = strcmp(name, "kernel") == 0 ? l->kernel
			: strcmp(name, "stride") == 0 ? (pool ? l->stride : l->op.stride)
			: strcmp(name, "padding") == 0 ? (pool ? l->padding : l->op.padding) : l->op.dilation;
		bad = parse_pair(value, strcmp(name, "padding") == 0 ? 0 : 1, pair);
		dst[0] = pair[0];
		dst[1] = pair[1];
	}
	if (bad)
		return fail(ctx, QS_EFORMAT, "[%s]: bad value for '%s'", section, name);
	return 1;
}

static int load_tensor(const char *net_path, const char *layer, const char *path, struct qs_tensor **out)
{
	struct qs_load_opts opts = {.rank = -1};
	int rc = qs_source_read_first(path, &opts, NULL, out);
	if (rc)
		rc = qs_error_suffix(rc, " (layer [%s] of '%s')", layer, net_path);
	return rc;
}

/* After parsing: every section has a type, weight layers have weights, pools a kernel; weights are read. */
static int finish(struct parse_ctx *ctx)
{
	struct qs_net *net = ctx->net;
	if (net->n_layers == 0)
		return qs_error_set(QS_EFORMAT, "'%s': no layers (one [section] with a 'type' per layer)", net->path);
	for (size_t i = 0; i < net->n_layers; i++) {
		struct qs_net_layer *l = &net->layers[i];
		struct pending *p = &ctx->pend[i];
		if (l->kind == QS_NET_MAXPOOL || l->kind == QS_NET_AVGPOOL) {
			if (!l->kernel[0])
				return qs_error_set(QS_EFORMAT, "'%s': [%s]: a pool needs 'kernel'", net->path, l->name);
			if (!l->stride[0]) {
				l->stride[0] = l->kernel[0];
				l->stride[1] = l->kernel[1];
			}
		}
		if (l->kind != QS_NET_LINEAR && l->kind != QS_NET_CONV2D)
			continue;
		if (!p->weight[0])
			return qs_error_set(QS_EFORMAT, "'%s': [%s]: a %s layer needs 'weight'", net->path, l->name,
					    qs_net_kind_name(l->kind));
		struct qs_tensor *w, *b = NULL;
		int rc = load_tensor(net->path, l->name, p->weight, &w);
		if (rc)
			return rc;
		l->op.weight = w;
		if (p->bias[0]) {
			rc = load_tensor(net->path, l->name, p->bias, &b);
			if (rc)
				return rc;
			l->op.bias = b;
		}
		if (w->rank != (l->kind == QS_NET_LINEAR ? 2 : 4))
			return qs_error_set(QS_EFORMAT, "'%s': weight of %s layer [%s] has rank %d, expected %d", p->weight,
					    qs_net_kind_name(l->kind), l->name, w->rank, l->kind == QS_NET_LINEAR ? 2 : 4);
		if (b && (b->rank != 1 || b->shape[0] != w->shape[0]))
			return qs_error_set(QS_EFORMAT, "'%s': bias of layer [%s] must have %zu values (one per output)",
					    p->bias, l->name, w->shape[0]);
	}
	return QS_OK;
}

int qs_net_load(const char *path, struct qs_net **out)
{
	*out = NULL;
	struct qs_net *net = calloc(1, sizeof *net);
	if (!net)
		return qs_error_set(QS_ENOMEM, "out of memory");
	snprintf(net->path, sizeof net->path, "%s", path);
	struct parse_ctx ctx = {.net = net, .rc = QS_OK};
	snprintf(ctx.dir, sizeof ctx.dir, "%s", path);
	char *slash = strrchr(ctx.dir, '/');
	if (slash)
		*slash = '\0';
	else
		ctx.dir[0] = '\0';
	int line = 0, rc;
	FILE *f = fopen(path, "r");
	if (!f) {
		rc = qs_error_set(QS_EIO, "'%s': cannot open network config: %s", path, strerror(errno));
	} else {
		rc = qs_ini_parse_file(f, path, handler, &ctx, &line);
		fclose(f);
		if (rc == QS_OK)
			rc = ctx.rc;
	}
	if (line == -2)
		rc = qs_error_set(QS_ENOMEM, "'%s': out of memory reading the config", path);
	else if (line > 0 && rc == QS_OK)
		rc = qs_error_set(QS_EFORMAT, "'%s': line %d: malformed INI (expected [section] or key = value)", path,
				  line);
	else if (line > 0)
		rc = qs_error_suffix(rc, " (line %d)", line);
	if (rc == QS_OK)
		rc = finish(&ctx);
	free(ctx.pend);
	if (rc) {
		qs_net_free(net);
		return rc;
	}
	*out = net;
	return QS_OK;
}

void qs_net_free(struct qs_net *net)
{
	if (!net)
		return;
	for (size_t i = 0; i < net->n_layers; i++) {
		qs_tensor_free((struct qs_tensor *)net->layers[i].op.weight);
		qs_tensor_free((struct qs_tensor *)net->layers[i].op.bias);
	}
	for (size_t i = 0; i < net->n_inputs; i++)
		free(net->inputs[i]);
	free(net->inputs);
	free(net->layers);
	free(net);
}
