/* json.c - a small streaming JSON writer; see json.h. */
#include "json.h"

#include <math.h>
#include <string.h>

void json_start(struct json *j, FILE *out)
{
	j->out = out;
	j->depth = 0;
	j->count[0] = 0;
}

void json_finish(struct json *j)
{
	fputc('\n', j->out);
}

/* Length of the valid UTF-8 sequence at p, 0 when it is not one. */
static int utf8_len(const unsigned char *p)
{
	int n = p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 ? 2 : 0;
	if (p[0] >= 0xf5)
		return 0;
	for (int i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	}
	return n;
}

static void put_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p >= 0x80) {
			/* Text from a shared file may be anything: invalid
			 * UTF-8 becomes U+FFFD so the output stays JSON. */
			int n = utf8_len(p);
			if (n == 0) {
				fputs("\\ufffd", out);
				continue;
			}
			fwrite(p, 1, (size_t)n, out);
			p += n - 1;
			continue;
		}
		switch (*p) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		default:
			if (*p < 0x20)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
		}
	}
	fputc('"', out);
}

/* Separator, newline and indent before a value, then its key. */
static void begin_value(struct json *j, const char *key)
{
	if (j->depth > 0) {
		if (j->count[j->depth]++ > 0)
			fputc(',', j->out);
		fprintf(j->out, "\n%*s", 2 * j->depth, "");
	}
	if (key != NULL) {
		put_string(j->out, key);
		fputs(": ", j->out);
	}
}

static void open_level(struct json *j, const char *key, char c)
{
	begin_value(j, key);
	fputc(c, j->out);
	if (j->depth < JSON_DEPTH_MAX - 1)
		j->depth++;
	j->count[j->depth] = 0;
}

static void close_level(struct json *j, char c)
{
	int had = j->count[j->depth];
	if (j->depth > 0)
		j->depth--;
	if (had)
		fprintf(j->out, "\n%*s", 2 * j->depth, "");
	fputc(c, j->out);
}

void json_object(struct json *j, const char *key)
{
	open_level(j, key, '{');
}

void json_object_end(struct json *j)
{
	close_level(j, '}');
}

void json_array(struct json *j, const char *key)
{
	open_level(j, key, '[');
}

void json_array_end(struct json *j)
{
	close_level(j, ']');
}

void json_str(struct json *j, const char *key, const char *v)
{
	begin_value(j, key);
	put_string(j->out, v);
}

void json_u64(struct json *j, const char *key, uint64_t v)
{
	begin_value(j, key);
	fprintf(j->out, "%llu", (unsigned long long)v);
}

void json_i64(struct json *j, const char *key, int64_t v)
{
	begin_value(j, key);
	fprintf(j->out, "%lld", (long long)v);
}

void json_num(struct json *j, const char *key, double v)
{
	begin_value(j, key);
	if (!isfinite(v))
		fputs("null", j->out);
	else
		fprintf(j->out, "%.15g", v);
}

void json_fixed(struct json *j, const char *key, double v, int decimals)
{
	begin_value(j, key);
	if (!isfinite(v)) {
		fputs("null", j->out);
		return;
	}
	char buf[64];
	snprintf(buf, sizeof(buf), "%.*f", decimals, v);
	char *end = buf + strlen(buf);
	if (strchr(buf, '.') != NULL) {
		while (end[-1] == '0')
			*--end = '\0';
		if (end[-1] == '.')
			*--end = '\0';
	}
	fputs(buf, j->out);
}

void json_bool(struct json *j, const char *key, int v)
{
	begin_value(j, key);
	fputs(v ? "true" : "false", j->out);
}

void json_null(struct json *j, const char *key)
{
	begin_value(j, key);
	fputs("null", j->out);
}
