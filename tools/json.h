/* json.h - a small streaming JSON writer, indented two spaces.
 *
 * Keys are given with each value inside an object and NULL inside an
 * array. Strings are escaped (quote, backslash, control characters; bytes
 * >= 0x80 pass through, so UTF-8 stays UTF-8). Nesting deeper than
 * JSON_DEPTH_MAX is a programming error and is clamped.
 */
#ifndef CUSLICE_JSON_H
#define CUSLICE_JSON_H

#include <stdint.h>
#include <stdio.h>

#define JSON_DEPTH_MAX 16

struct json {
	FILE *out;
	int depth;
	int count[JSON_DEPTH_MAX];  /* values written at each depth */
};

void json_start(struct json *j, FILE *out);
void json_finish(struct json *j);     /* writes the final newline */
void json_object(struct json *j, const char *key);
void json_object_end(struct json *j);
void json_array(struct json *j, const char *key);
void json_array_end(struct json *j);
void json_str(struct json *j, const char *key, const char *v);
void json_u64(struct json *j, const char *key, uint64_t v);
void json_i64(struct json *j, const char *key, int64_t v);
void json_num(struct json *j, const char *key, double v);  /* %.15g; NaN, inf: null */
void json_fixed(struct json *j, const char *key, double v, int decimals); /* trailing 0s cut */
void json_bool(struct json *j, const char *key, int v);
void json_null(struct json *j, const char *key);

#endif
