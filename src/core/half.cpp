// Scalar half <-> float conversions, and the bulk ones at the active level. Compiled with the
// baseline flags; the integer conversions themselves are impl::HalfBits, shared with the SIMD
// levels that lack F16C, so that there is one definition of every rounding decision.
#include "quiver/half.hpp"
#include "quiver/kernels_impl.hpp"
#include "kernels_internal.hpp"

namespace quiver::core {

float
HalfToFloat(Half h) noexcept
{
	return impl::HalfBits<internal::Baseline>::ToFloat(h);
}

Half
FloatToHalf(float f) noexcept
{
	return impl::HalfBits<internal::Baseline>::FromFloat(f);
}

void
internal::ScalarHalfToFloat(const Half *in, float *out, std::size_t n)
{
	for (std::size_t i = 0; i < n; i++)
		out[i] = HalfToFloat(in[i]);
}

void
internal::ScalarFloatToHalf(const float *in, Half *out, std::size_t n)
{
	for (std::size_t i = 0; i < n; i++)
		out[i] = FloatToHalf(in[i]);
}

void
HalfToFloatArray(const Half *in, float *out, std::size_t n) noexcept
{
	ActiveHalfKernels().to_float(in, out, n);
}

void
FloatToHalfArray(const float *in, Half *out, std::size_t n) noexcept
{
	ActiveHalfKernels().from_float(in, out, n);
}

Half
FloatToHalfUp(float f) noexcept
{
	Half h = FloatToHalf(f);
	// Non-negative halves order as their bit patterns: the next pattern is the next half.
	if (HalfToFloat(h) < f)
		h = static_cast<Half>(h + 1);
	return h;
}

} // namespace quiver::core

#include "quiver/core_only.hpp"
