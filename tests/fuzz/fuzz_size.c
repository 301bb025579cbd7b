/* fuzz_size.c - libFuzzer harness of the size and cap parsers (lib/size.c,
 * memspec_parse in lib/config.c): every CUSLICE_* size a user can write.
 * Beyond crashes and undefined behaviour (the build uses ASan and UBSan),
 * it checks the parsers' contracts and aborts when one breaks: only the
 * documented errors, the output left alone on error, a formatted size that
 * parses back within rounding. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "size.h"

#define SENTINEL UINT64_C(0x5eed5eed5eed5eed)

static void check_size(const char *text)
{
	uint64_t v = SENTINEL;
	int err = size_parse(text, &v);
	if (err != 0 && err != -EINVAL && err != -ERANGE)
		abort();
	if (err != 0 && v != SENTINEL)
		abort(); /* *out changed on error */
	if (err != 0)
		return;
	char buf[32];
	size_format(v, buf, sizeof(buf));
	if (memchr(buf, '\0', sizeof(buf)) == NULL)
		abort();
	/* What we print reads back as about the same size (size_format keeps
	 * one decimal; at the very top it may round past 2^64). */
	uint64_t back = 0;
	err = size_parse(buf, &back);
	if (err == -ERANGE && v > UINT64_MAX - (UINT64_MAX >> 6))
		return;
	if (err != 0)
		abort();
	uint64_t diff = back > v ? back - v : v - back;
	if (diff > v / 16 + 1) /* one decimal: at most 5% off */
		abort();
}

static void check_uint(const char *text)
{
	uint64_t v = SENTINEL;
	int err = uint_parse(text, 1, 100000, &v);
	if (err != 0 && (err != -EINVAL && err != -ERANGE))
		abort();
	if (err != 0 ? v != SENTINEL : (v < 1 || v > 100000))
		abort();
}

static void check_memspec(const char *text)
{
	struct memspec m;
	memset(&m, 0, sizeof(m));
	if (memspec_parse(text, &m) != 0)
		return;
	uint64_t cap;
	for (int ord = -1; ord < 3; ord++)
		memspec_cap(&m, ord, "GPU-8f3a1234-5678-9abc-def0-123456789abc", &cap);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	check_size(text);
	check_uint(text);
	check_memspec(text);
	free(text);
	return 0;
}
