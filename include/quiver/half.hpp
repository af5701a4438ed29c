// IEEE 754 binary16 ("half") values and the distance kernels of the `halfvec` type.
//
// A half is kept as its 16-bit pattern. Conversions are exact from half to float and round to
// nearest, ties to even, from float to half (what F16C's VCVTPS2PH does with rounding mode 0),
// so the scalar and SIMD paths store the same bits.
//
// The kernels convert each element to float32 and then compute exactly what the float32
// kernels of the same level compute on the converted values (same lanes, same float32
// accumulation, same order), so a halfvec distance equals the vector distance of the two
// vectors cast to `vector`, at every level. pgvector computes halfvec distances the same way
// (convert, then accumulate in float32), which its observable results depend on
// (inner_product('[65504]'::halfvec, '[65504]') = 4290774016).
//
// Levels: the half kernels follow the float32 level chosen by InitKernels. The AVX2 and
// AVX-512 levels convert with F16C, which every CPU with AVX2 has; KernelLevelSupported checks
// for it too. The SSE2 level converts in scalar code.
#pragma once

#include <cstddef>
#include <cstdint>

#include "quiver/kernels.hpp"

namespace quiver::core {

using Half = std::uint16_t;

// The largest finite half.
inline constexpr float kHalfMax = 65504.0f;

// Exact.
float HalfToFloat(Half h) noexcept;

// Round to nearest, ties to even; beyond the half range gives +-Inf, NaN stays NaN.
Half FloatToHalf(float f) noexcept;

// The smallest half at least f, for f >= 0 (an upper bound stored in half precision).
Half FloatToHalfUp(float f) noexcept;

// Whether a half is +-Inf or NaN.
inline bool
HalfIsFinite(Half h) noexcept
{
	return (h & 0x7C00u) != 0x7C00u;
}

// Bulk conversions with the active level's instructions.
void HalfToFloatArray(const Half *in, float *out, std::size_t n) noexcept;
void FloatToHalfArray(const float *in, Half *out, std::size_t n) noexcept;

using HalfDistanceFn = float (*)(const Half *a, const Half *b, std::size_t n);
using HalfCosineSumsFn = CosineSums (*)(const Half *a, const Half *b, std::size_t n);
using HalfConvertFn = void (*)(const Half *in, float *out, std::size_t n);
using FloatConvertFn = void (*)(const float *in, Half *out, std::size_t n);

struct F16Kernels {
	KernelLevel level;
	HalfDistanceFn l2_squared; // sum (a[i]-b[i])^2
	HalfDistanceFn dot;        // sum a[i]*b[i]
	HalfDistanceFn l1;         // sum |a[i]-b[i]|
	HalfCosineSumsFn cosine_sums;
	HalfConvertFn to_float;
	FloatConvertFn from_float;
};

// The half kernels of one level (scalar when the level is not supported here).
const F16Kernels &HalfKernelsFor(KernelLevel level) noexcept;

// The scalar reference.
const F16Kernels &ScalarHalfKernels() noexcept;

// The half kernels of the level InitKernels chose (scalar until it runs).
const F16Kernels &ActiveHalfKernels() noexcept;

} // namespace quiver::core

#include "quiver/core_only.hpp"
