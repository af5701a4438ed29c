#include "quiver/vector_binary.hpp"

#include <cmath>
#include <cstring>

namespace quiver::core {

namespace {

std::uint16_t
LoadU16(const std::uint8_t *p)
{
	return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

float
LoadF32(const std::uint8_t *p)
{
	std::uint32_t bits = (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
	                     std::uint32_t{p[3]};
	float value;
	std::memcpy(&value, &bits, sizeof value);
	return value;
}

void
StoreF32(float value, std::uint8_t *p)
{
	std::uint32_t bits;
	std::memcpy(&bits, &value, sizeof bits);
	p[0] = static_cast<std::uint8_t>(bits >> 24);
	p[1] = static_cast<std::uint8_t>(bits >> 16);
	p[2] = static_cast<std::uint8_t>(bits >> 8);
	p[3] = static_cast<std::uint8_t>(bits);
}

} // namespace

VectorBinaryResult
ParseVectorBinary(const std::uint8_t *data, std::size_t len, int expected_dim, float *out, int max_dim) noexcept
{
	VectorBinaryResult r{VectorBinaryStatus::Ok, 0, 0, 0};
	if (len < 4) {
		r.status = VectorBinaryStatus::Truncated;
		return r;
	}
	// Both header fields are read as unsigned 16-bit values, as pgvector does, so a "negative"
	// dimension on the wire is reported as too many dimensions rather than too few.
	r.dim = LoadU16(data);
	r.unused = LoadU16(data + 2);

	if (r.dim < 1) {
		r.status = VectorBinaryStatus::NoDimensions;
		return r;
	}
	if (r.dim > max_dim) {
		r.status = VectorBinaryStatus::TooManyDimensions;
		return r;
	}
	if (expected_dim >= 0 && expected_dim != r.dim) {
		r.status = VectorBinaryStatus::DimensionMismatch;
		return r;
	}
	if (r.unused != 0) {
		r.status = VectorBinaryStatus::UnusedNotZero;
		return r;
	}

	const std::uint8_t *p = data + 4;
	std::size_t left = len - 4;
	for (int i = 0; i < r.dim; i++) {
		if (left < 4) {
			r.status = VectorBinaryStatus::Truncated;
			return r;
		}
		float value = LoadF32(p);
		if (std::isnan(value)) {
			r.status = VectorBinaryStatus::NaNValue;
			return r;
		}
		if (std::isinf(value)) {
			r.status = VectorBinaryStatus::InfiniteValue;
			return r;
		}
		out[i] = value;
		p += 4;
		left -= 4;
	}
	r.consumed = VectorBinarySize(r.dim);
	return r;
}

void
WriteVectorBinary(const float *values, int dim, std::uint8_t *out) noexcept
{
	out[0] = static_cast<std::uint8_t>(dim >> 8);
	out[1] = static_cast<std::uint8_t>(dim);
	out[2] = 0;
	out[3] = 0;
	for (int i = 0; i < dim; i++)
		StoreF32(values[i], out + 4 + 4 * static_cast<std::size_t>(i));
}

} // namespace quiver::core
