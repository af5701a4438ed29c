// Binary codec of the `vector` type, byte-compatible with pgvector's send/recv:
// int16 dim, int16 unused (always 0), then dim float32 values, all in network byte order.
// COPY ... (FORMAT binary) files and binary-protocol clients therefore interoperate.
#pragma once

#include <cstddef>
#include <cstdint>

#include "quiver/half.hpp"

namespace quiver::core {

enum class VectorBinaryStatus {
	Ok,
	Truncated,          // the message ends before the header or a value
	NoDimensions,       // dim == 0
	TooManyDimensions,  // dim > max_dim
	DimensionMismatch,  // dim differs from the expected typmod
	UnusedNotZero,      // the reserved field is not 0
	NaNValue,
	InfiniteValue,
};

struct VectorBinaryResult {
	VectorBinaryStatus status;
	int dim;              // as read from the header (when the header was complete)
	int unused;           // as read from the header
	std::size_t consumed; // bytes read on success
};

// Bytes of the binary form of a vector with dim values.
inline constexpr std::size_t
VectorBinarySize(int dim) noexcept
{
	return 4 + 4 * static_cast<std::size_t>(dim);
}

// Decodes data[0..len) into out (room for max_dim values). expected_dim < 0 means no typmod.
// The header is checked in pgvector's order: dimension bounds, typmod, then the unused field;
// values are checked one by one as they are read.
VectorBinaryResult ParseVectorBinary(const std::uint8_t *data, std::size_t len, int expected_dim, float *out,
                                     int max_dim) noexcept;

// Encodes dim values into out (VectorBinarySize(dim) bytes).
void WriteVectorBinary(const float *values, int dim, std::uint8_t *out) noexcept;

// The `halfvec` form, also pgvector's: the same header, then dim binary16 values (2 bytes each,
// network byte order). NaN and infinite halves are rejected like NaN and infinite floats.
inline constexpr std::size_t
HalfvecBinarySize(int dim) noexcept
{
	return 4 + 2 * static_cast<std::size_t>(dim);
}

VectorBinaryResult ParseHalfvecBinary(const std::uint8_t *data, std::size_t len, int expected_dim, Half *out,
                                      int max_dim) noexcept;

void WriteHalfvecBinary(const Half *values, int dim, std::uint8_t *out) noexcept;

} // namespace quiver::core

#include "quiver/core_only.hpp"
