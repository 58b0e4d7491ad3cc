/* INI configuration files (inih): every "key = value" of every [section], kept in file order, so that a command
 * can replay them as its own long options (see qs_cli_sweep). */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/qs_alloc.h"
#include "util/qs_error.h"
#include "util/qs_ini.h"

struct reader {
	struct qs_config *cfg;
	size_t cap;
	bool nomem;
};

static int on_entry(void *user, const char *section, const char *key, const char *value)
{
	struct reader *r = user;
	struct qs_config *c = r->cfg;
	if (!qs_grow(&c->entries, &r->cap, c->n, sizeof *c->entries, 16)) {
		r->nomem = true;
		return 0;
	}
	struct qs_config_entry *e = &c->entries[c->n];
	e->section = strdup(section);
	e->key = strdup(key);
	e->value = strdup(value ? value : "");
	if (!e->section || !e->key || !e->value) {
		free(e->section);
		free(e->key);
		free(e->value);
		r->nomem = true;
		return 0;
	}
	c->n++;
	return 1;
}

int qs_config_read(const char *path, struct qs_config *out)
{
	memset(out, 0, sizeof *out);
	snprintf(out->path, sizeof out->path, "%s", path);
	snprintf(out->dir, sizeof out->dir, "%s", path);
	char *slash = strrchr(out->dir, '/');
	if (slash)
		slash[1] = '\0';
	else
		out->dir[0] = '\0';
	FILE *f = fopen(path, "r");
	if (!f)
		return qs_error_set(QS_EIO, "'%s': cannot open config: %s", path, strerror(errno));
	struct reader r = {.cfg = out};
	int line;
	int rc = qs_ini_parse_file(f, path, on_entry, &r, &line);
	fclose(f);
	if (r.nomem)
		rc = qs_error_set(QS_ENOMEM, "'%s': out of memory reading config", path);
	else if (!rc && line != 0)
		rc = qs_error_set(QS_EFORMAT, "'%s': line %d: not an INI line ('[section]', 'key = value' or a comment)",
				  path, line);
	if (rc)
		qs_config_free(out);
	return rc;
}

void qs_config_free(struct qs_config *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->entries[i].section);
		free(c->entries[i].key);
		free(c->entries[i].value);
	}
	free(c->entries);
	c->entries = NULL;
	c->n = 0;
}

void qs_config_path(const struct qs_config *c, const char *value, char *buf, size_t len)
{
	if (value[0] == '/' || !c->dir[0])
		snprintf(buf, len, "%s", value);
	else
		snprintf(buf, len, "%s%s", c->dir, value);
}

int qs_strings_add(struct qs_strings *l, const char *s)
{
	if (!qs_grow(&l->items, &l->cap, l->n, sizeof *l->items, 8) || !(l->items[l->n] = strdup(s)))
		return qs_error_set(QS_ENOMEM, "out of memory");
	l->n++;
	return QS_OK;
}

void qs_strings_free(struct qs_strings *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	memset(l, 0, sizeof *l);
}
