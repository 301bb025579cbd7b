/* size.h - byte sizes and bounded integers as users write them. */
#ifndef CUSLICE_SIZE_H
#define CUSLICE_SIZE_H

#include <stdint.h>

/* Parses a size: a decimal number with an optional fraction and an optional
 * binary suffix K, M, G or T (also written Ki/KiB/KB, case-insensitive):
 * "4G", "512M", "1.5G", "4Gi", "1048576". Returns 0 and stores the bytes in
 * *out, or -EINVAL (not a size) or -ERANGE (does not fit in 64 bits); on
 * error *out is unchanged. */
int size_parse(const char *text, uint64_t *out);

/* Parses a decimal integer in [min, max]. Returns 0, -EINVAL or -ERANGE;
 * on error *out is unchanged. */
int uint_parse(const char *text, uint64_t min, uint64_t max, uint64_t *out);

/* Writes a size as a short human string ("1.5G", "512M", "100B") into buf.
 * Returns buf. */
char *size_format(uint64_t bytes, char *buf, unsigned len);

/* a + b and a * b, saturating at UINT64_MAX instead of wrapping. */
static inline uint64_t size_add_sat(uint64_t a, uint64_t b)
{
	uint64_t r;
	return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

static inline uint64_t size_mul_sat(uint64_t a, uint64_t b)
{
	uint64_t r;
	return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

#endif
