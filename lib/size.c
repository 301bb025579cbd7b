/* size.c - parsing and printing of sizes; see size.h. */
#include "size.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int suffix_shift(const char *s, unsigned *shift)
{
	static const struct { char letter; unsigned shift; } units[] = {
		{ 'k', 10 }, { 'm', 20 }, { 'g', 30 }, { 't', 40 },
	};
	if (*s == '\0') {
		*shift = 0;
		return 0;
	}
	if (strcasecmp(s, "b") == 0) {
		*shift = 0;
		return 0;
	}
	for (unsigned i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (tolower((unsigned char)s[0]) != units[i].letter)
			continue;
		const char *rest = s + 1;
		if (strcasecmp(rest, "") == 0 || strcasecmp(rest, "i") == 0 ||
		    strcasecmp(rest, "b") == 0 || strcasecmp(rest, "ib") == 0) {
			*shift = units[i].shift;
			return 0;
		}
	}
	return -EINVAL;
}

/* Reads the decimal digits after optional white space at *p, advancing *p
 * past them. Returns 0, -EINVAL (no digit) or -ERANGE (over 64 bits). */
static int leading_number(const char **p, uint64_t *out)
{
	const char *s = *p;
	if (s == NULL)
		return -EINVAL;
	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	uint64_t v = 0;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned digit = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - digit) / 10)
			return -ERANGE;
		v = v * 10 + digit;
	}
	*p = s;
	*out = v;
	return 0;
}

int size_parse(const char *text, uint64_t *out)
{
	const char *p = text;
	uint64_t whole;
	int err = leading_number(&p, &whole);
	if (err != 0)
		return err;
	/* The fraction is kept as numerator/denominator, up to 9 digits. */
	uint64_t frac = 0, denom = 1;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		for (; isdigit((unsigned char)*p); p++) {
			if (denom < 1000000000ULL) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				denom *= 10;
			}
		}
	}
	char suffix[8];
	size_t n = strcspn(p, " \t\n");
	if (n >= sizeof(suffix) || p[n + strspn(p + n, " \t\n")] != '\0')
		return -EINVAL;
	memcpy(suffix, p, n);
	suffix[n] = '\0';

	unsigned shift;
	if (suffix_shift(suffix, &shift) != 0)
		return -EINVAL;
	if (shift > 0 && whole > (UINT64_MAX >> shift))
		return -ERANGE;
	uint64_t bytes = whole << shift;
	uint64_t extra = (uint64_t)(((unsigned __int128)frac << shift) / denom);
	if (bytes > UINT64_MAX - extra)
		return -ERANGE;
	*out = bytes + extra;
	return 0;
}

int uint_parse(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
	const char *p = text;
	uint64_t v;
	int err = leading_number(&p, &v);
	if (err != 0)
		return err;
	while (isspace((unsigned char)*p))
		p++;
	if (*p != '\0')
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

char *size_format(uint64_t bytes, char *buf, unsigned len)
{
	static const char units[] = "KMGT";
	if (bytes < 1024) {
		snprintf(buf, len, "%lluB", (unsigned long long)bytes);
		return buf;
	}
	int u = -1;
	double v = (double)bytes;
	while (v >= 1024.0 && u < 3) {
		v /= 1024.0;
		u++;
	}
	if (v == (double)(uint64_t)v)
		snprintf(buf, len, "%llu%c", (unsigned long long)v, units[u]);
	else
		snprintf(buf, len, "%.1f%c", v, units[u]);
	return buf;
}
