/* arraysize.h - how many bytes a pitched allocation or a CUDA array takes.
 *
 * The driver pads and tiles as it likes, so these are estimates; the memory
 * hooks charge them, and the simulated driver allocates exactly them, so
 * that the two cannot drift apart. Formats are CUDA's CUarray_format
 * values (an ABI that never changes; the simulated driver checks each one
 * against cuda.h at compile time). Results saturate at UINT64_MAX.
 */
#ifndef CUSLICE_ARRAYSIZE_H
#define CUSLICE_ARRAYSIZE_H

#include <stdint.h>

/* X(name, CUarray_format value, bytes per channel) for every known format;
 * CU_AD_FORMAT_<name> in cuda.h. */
#define ARRAY_FORMATS(X) \
	X(UNSIGNED_INT8, 0x01, 1) X(UNSIGNED_INT16, 0x02, 2) X(UNSIGNED_INT32, 0x03, 4) \
	X(SIGNED_INT8, 0x08, 1) X(SIGNED_INT16, 0x09, 2) X(SIGNED_INT32, 0x0a, 4) \
	X(HALF, 0x10, 2) X(FLOAT, 0x20, 4) X(UNORM_INT_101010_2, 0x50, 1) \
	X(BC1_UNORM, 0x91, 1) X(BC1_UNORM_SRGB, 0x92, 1) X(BC2_UNORM, 0x93, 1) \
	X(BC2_UNORM_SRGB, 0x94, 1) X(BC3_UNORM, 0x95, 1) X(BC3_UNORM_SRGB, 0x96, 1) \
	X(BC4_UNORM, 0x97, 1) X(BC4_SNORM, 0x98, 1) X(BC5_UNORM, 0x99, 1) \
	X(BC5_SNORM, 0x9a, 1) X(BC6H_UF16, 0x9b, 1) X(BC6H_SF16, 0x9c, 1) \
	X(BC7_UNORM, 0x9d, 1) X(BC7_UNORM_SRGB, 0x9e, 1) X(P010, 0x9f, 2) \
	X(P016, 0xa1, 2) X(NV16, 0xa2, 1) X(P210, 0xa3, 2) X(P216, 0xa4, 2) \
	X(YUY2, 0xa5, 1) X(Y210, 0xa6, 2) X(Y216, 0xa7, 2) X(AYUV, 0xa8, 1) \
	X(Y410, 0xa9, 4) X(NV12, 0xb0, 1) X(Y416, 0xb1, 2) X(Y444_PLANAR8, 0xb2, 1) \
	X(Y444_PLANAR10, 0xb3, 2) X(YUV444_8bit_SemiPlanar, 0xb4, 1) \
	X(YUV444_16bit_SemiPlanar, 0xb5, 2) \
	X(UNORM_INT8X1, 0xc0, 1) X(UNORM_INT8X2, 0xc1, 1) X(UNORM_INT8X4, 0xc2, 1) \
	X(UNORM_INT16X1, 0xc3, 2) X(UNORM_INT16X2, 0xc4, 2) X(UNORM_INT16X4, 0xc5, 2) \
	X(SNORM_INT8X1, 0xc6, 1) X(SNORM_INT8X2, 0xc7, 1) X(SNORM_INT8X4, 0xc8, 1) \
	X(SNORM_INT16X1, 0xc9, 2) X(SNORM_INT16X2, 0xca, 2) X(SNORM_INT16X4, 0xcb, 2)

/* Bytes per channel of a format, 0 when the format is unknown. */
unsigned array_format_bytes(unsigned format);

/* One CUDA array or mipmapped array. */
struct array_shape {
	uint64_t width, height, depth;  /* 0 height/depth: a 1D/2D array */
	unsigned format;                /* CUarray_format */
	unsigned channels;              /* 1..4 */
	unsigned levels;                /* mipmap levels, 1 for a plain array */
	int layered;                    /* depth counts layers (or cube faces) */
};

/* Bytes of an array: per level, width x height x depth x channels x bytes
 * per channel (zero extents count 1, an unknown format 4 bytes a channel,
 * 0 channels 1); each level halves width, height and, unless the array is
 * layered, depth; at most 64 levels. */
uint64_t array_bytes(const struct array_shape *s);

/* The pitch of a pitched allocation of width bytes: width rounded up to
 * ARRAY_PITCH_ALIGN. Real drivers do not exceed it in practice; the hooks
 * settle the charge to the pitch the driver returns. */
#define ARRAY_PITCH_ALIGN 512u
uint64_t array_pitch(uint64_t width);

/* pitch x height. */
uint64_t array_pitched_bytes(uint64_t pitch, uint64_t height);

#endif
