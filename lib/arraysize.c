/* arraysize.c - size estimates of pitched allocations and arrays; see
 * arraysize.h. */
#include "arraysize.h"

#include "size.h"

unsigned array_format_bytes(unsigned format)
{
	switch (format) {
#define X(name, value, bytes) case value: return bytes;
	ARRAY_FORMATS(X)
#undef X
	default:
		return 0;
	}
}

static uint64_t at_least_1(uint64_t v)
{
	return v != 0 ? v : 1;
}

/* One level: width x height x depth (layers included) x element size. */
static uint64_t level_bytes(const struct array_shape *s, uint64_t w, uint64_t h, uint64_t d)
{
	unsigned per_channel = array_format_bytes(s->format);
	uint64_t element = size_mul_sat(per_channel != 0 ? per_channel : 4, at_least_1(s->channels));
	return size_mul_sat(size_mul_sat(size_mul_sat(element, at_least_1(w)), at_least_1(h)),
			    at_least_1(d));
}

uint64_t array_bytes(const struct array_shape *s)
{
	uint64_t w = s->width, h = s->height, d = s->depth, sum = 0;
	for (unsigned l = 0; l < at_least_1(s->levels) && l < 64; l++) {
		sum = size_add_sat(sum, level_bytes(s, w, h, d));
		w = at_least_1(w / 2);
		h = h != 0 ? at_least_1(h / 2) : 0;
		if (!s->layered)
			d = d != 0 ? at_least_1(d / 2) : 0; /* layers stay */
	}
	return sum;
}

uint64_t array_pitch(uint64_t width)
{
	return size_add_sat(width, ARRAY_PITCH_ALIGN - 1) & ~(uint64_t)(ARRAY_PITCH_ALIGN - 1);
}

uint64_t array_pitched_bytes(uint64_t pitch, uint64_t height)
{
	return size_mul_sat(pitch, height);
}
