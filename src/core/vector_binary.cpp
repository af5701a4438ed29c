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

void
StoreU16(std::uint16_t v, std::uint8_t *p)
{
	p[0] = static_cast<std::uint8_t>(v >> 8);
	p[1] = static_cast<std::uint8_t>(v);
}

// How one element type travels: its width on the wire, its decoding, and its NaN and
// infinity tests (the two types differ only in these).
struct F32Codec {
	using Element = float;
	static constexpr std::size_t kBytes = 4;

	static float
	Load(const std::uint8_t *p)
	{
		std::uint32_t bits = (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
		                     std::uint32_t{p[3]};
		float value;
		std::memcpy(&value, &bits, sizeof value);
		return value;
	}

	static void
	Store(float value, std::uint8_t *p)
	{
		std::uint32_t bits;
		std::memcpy(&bits, &value, sizeof bits);
		StoreU16(static_cast<std::uint16_t>(bits >> 16), p);
		StoreU16(static_cast<std::uint16_t>(bits), p + 2);
	}

	static bool IsNaN(float v) { return std::isnan(v); }
	static bool IsInf(float v) { return std::isinf(v); }
};

struct F16Codec {
	using Element = Half;
	static constexpr std::size_t kBytes = 2;

	static Half Load(const std::uint8_t *p) { return LoadU16(p); }
	static void Store(Half value, std::uint8_t *p) { StoreU16(value, p); }
	static bool IsNaN(Half v) { return !HalfIsFinite(v) && (v & 0x03FFu) != 0; }
	static bool IsInf(Half v) { return !HalfIsFinite(v) && (v & 0x03FFu) == 0; }
};

template <class Codec>
VectorBinaryResult
Parse(const std::uint8_t *data, std::size_t len, int expected_dim, typename Codec::Element *out, int max_dim) noexcept
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
		if (left < Codec::kBytes) {
			r.status = VectorBinaryStatus::Truncated;
			return r;
		}
		typename Codec::Element value = Codec::Load(p);
		if (Codec::IsNaN(value)) {
			r.status = VectorBinaryStatus::NaNValue;
			return r;
		}
		if (Codec::IsInf(value)) {
			r.status = VectorBinaryStatus::InfiniteValue;
			return r;
		}
		out[i] = value;
		p += Codec::kBytes;
		left -= Codec::kBytes;
	}
	r.consumed = 4 + Codec::kBytes * static_cast<std::size_t>(r.dim);
	return r;
}

template <class Codec>
void
Write(const typename Codec::Element *values, int dim, std::uint8_t *out) noexcept
{
	StoreU16(static_cast<std::uint16_t>(dim), out);
	StoreU16(0, out + 2);
	for (int i = 0; i < dim; i++)
		Codec::Store(values[i], out + 4 + Codec::kBytes * static_cast<std::size_t>(i));
}

} // namespace

VectorBinaryResult
ParseVectorBinary(const std::uint8_t *data, std::size_t len, int expected_dim, float *out, int max_dim) noexcept
{
	return Parse<F32Codec>(data, len, expected_dim, out, max_dim);
}

void
WriteVectorBinary(const float *values, int dim, std::uint8_t *out) noexcept
{
	Write<F32Codec>(values, dim, out);
}

VectorBinaryResult
ParseHalfvecBinary(const std::uint8_t *data, std::size_t len, int expected_dim, Half *out, int max_dim) noexcept
{
	return Parse<F16Codec>(data, len, expected_dim, out, max_dim);
}

void
WriteHalfvecBinary(const Half *values, int dim, std::uint8_t *out) noexcept
{
	Write<F16Codec>(values, dim, out);
}

} // namespace quiver::core
