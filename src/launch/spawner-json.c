/*
 * A strict reader for the spawner's requests: one JSON object per line whose values are
 * strings, non-negative integers or arrays of strings (docs/spawner.md). Anything else is
 * rejected, never guessed at: a broken request must cost one error reply, not the spawner.
 * Strings are decoded as JSON.stringify wrote them; a lone surrogate becomes U+FFFD, as
 * Node's own UTF-8 conversion does for child_process argv, and "\u0000" is refused since
 * neither argv nor environ can hold it.
 */
#include <stdlib.h>
#include <string.h>

#include "spawner-json.h"

#define MAX_ITEMS 65536

struct cursor {
	const char *p, *end;
};

static void skip_ws(struct cursor *c) {
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r' || *c->p == '\n'))
		c->p++;
}

static int take(struct cursor *c, char ch) {
	skip_ws(c);
	if (c->p < c->end && *c->p == ch) {
		c->p++;
		return 1;
	}
	return 0;
}

static int hex4(struct cursor *c, unsigned *out) {
	if (c->end - c->p < 4)
		return -1;
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char h = *c->p++;
		v <<= 4;
		if (h >= '0' && h <= '9')
			v |= (unsigned)(h - '0');
		else if (h >= 'a' && h <= 'f')
			v |= (unsigned)(h - 'a' + 10);
		else if (h >= 'A' && h <= 'F')
			v |= (unsigned)(h - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, unsigned cp) {
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* A JSON string into a new NUL-terminated buffer; the output is never longer than the input. */
static char *string(struct cursor *c) {
	if (!take(c, '"'))
		return NULL;
	const char *start = c->p;
	while (c->p < c->end && *c->p != '"')
		c->p += *c->p == '\\' ? 2 : 1;
	if (c->p >= c->end)
		return NULL;
	struct cursor s = { start, c->p };
	c->p++;
	char *out = malloc((size_t)(s.end - s.p) + 1), *o = out;
	if (!out)
		return NULL;
	while (s.p < s.end) {
		char ch = *s.p++;
		if ((unsigned char)ch < 0x20)
			goto bad;
		if (ch != '\\') {
			*o++ = ch;
			continue;
		}
		char e = *s.p++;
		unsigned cp;
		switch (e) {
		case '"': case '\\': case '/': *o++ = e; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u':
			if (hex4(&s, &cp) != 0 || cp == 0)
				goto bad;
			if (cp >= 0xD800 && cp < 0xDC00 && s.end - s.p >= 6 && s.p[0] == '\\' && s.p[1] == 'u') {
				struct cursor peek = { s.p + 2, s.end };
				unsigned lo;
				if (hex4(&peek, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000) {
					cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
					s.p = peek.p;
				}
			}
			if (cp >= 0xD800 && cp < 0xE000)
				cp = 0xFFFD;
			/* "\uXXXX" is 6 bytes in, at most 4 out: still within the buffer. */
			o += put_utf8(o, cp);
			break;
		default:
			goto bad;
		}
	}
	*o = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

static void free_list(char **list) {
	if (!list)
		return;
	for (char **p = list; *p; p++)
		free(*p);
	free(list);
}

static char **string_array(struct cursor *c) {
	if (!take(c, '['))
		return NULL;
	size_t n = 0, cap = 16;
	char **list = calloc(cap + 1, sizeof *list);
	if (!list)
		return NULL;
	if (take(c, ']'))
		return list;
	do {
		if (n == MAX_ITEMS)
			goto bad;
		if (n == cap) {
			char **more = realloc(list, (cap * 2 + 1) * sizeof *list);
			if (!more)
				goto bad;
			list = more;
			cap *= 2;
		}
		list[n] = string(c);
		if (!list[n])
			goto bad;
		list[++n] = NULL;
	} while (take(c, ','));
	if (take(c, ']'))
		return list;
bad:
	free_list(list);
	return NULL;
}

static long long integer(struct cursor *c) {
	skip_ws(c);
	long long v = 0;
	const char *start = c->p;
	while (c->p < c->end && *c->p >= '0' && *c->p <= '9' && c->p - start < 15)
		v = v * 10 + (*c->p++ - '0');
	return c->p == start || (c->p < c->end && *c->p >= '0' && *c->p <= '9') ? -1 : v;
}

void free_spawn_request(struct spawn_request *req) {
	free_list(req->argv);
	free_list(req->envp);
	req->argv = req->envp = NULL;
}

int parse_spawn_request(const char *line, size_t len, struct spawn_request *req) {
	struct cursor c = { line, line + len };
	memset(req, 0, sizeof *req);
	req->id = -1;
	long long id = -1;
	if (!take(&c, '{'))
		goto bad;
	if (!take(&c, '}')) {
		do {
			char *key = string(&c);
			if (!key || !take(&c, ':')) {
				free(key);
				goto bad;
			}
			skip_ws(&c);
			int ok = 1;
			if (strcmp(key, "cmd") == 0) {
				char *cmd = string(&c);
				ok = cmd != NULL;
				req->cmd_is_spawn = ok && strcmp(cmd, "spawn") == 0;
				free(cmd);
			} else if (strcmp(key, "id") == 0) {
				id = integer(&c);
				ok = id >= 0;
			} else if (strcmp(key, "argv") == 0 && !req->argv) {
				ok = (req->argv = string_array(&c)) != NULL;
			} else if (strcmp(key, "env") == 0 && !req->envp) {
				ok = (req->envp = string_array(&c)) != NULL;
			} else {
				ok = 0;
			}
			free(key);
			if (!ok)
				goto bad;
		} while (take(&c, ','));
		if (!take(&c, '}'))
			goto bad;
	}
	skip_ws(&c);
	if (c.p != c.end)
		goto bad;
	req->id = id;
	if (req->cmd_is_spawn && (id < 0 || !req->argv || !req->argv[0] || !req->envp))
		goto bad;
	return 0;
bad:
	free_spawn_request(req);
	/* An id read before the damage still gets its answer, so the server is not left waiting. */
	req->id = id;
	return -1;
}
