// The scalar reference kernels: one float accumulator, one element at a time, in index order.
//
// These are the ground truth the SIMD levels are tested against, so they stay as plain as
// possible. Without -ffast-math the compiler may not reassociate a float sum, so it cannot
// vectorise these loops into a different order of additions. This file gets the baseline flags,
// which on x86-64 include no FMA, so every product is rounded before it is added; the FMA levels
// differ from it only by rounding, which the tests allow for.
//
// The half kernels are the same loops over halves converted exactly to float, so they equal the
// float kernels on the converted vectors.
#include <cmath>

#include "quiver/kernels_impl.hpp"
#include "kernels_internal.hpp"

namespace quiver::core::internal {

namespace {

float
ToFloat(float x)
{
	return x;
}

float
ToFloat(Half h)
{
	return impl::HalfBits<Baseline>::ToFloat(h);
}

} // namespace

template <class T>
float
ScalarL2Squared(const T *a, const T *b, std::size_t n)
{
	float sum = 0.0f;
	for (std::size_t i = 0; i < n; i++) {
		float d = ToFloat(a[i]) - ToFloat(b[i]);
		sum += d * d;
	}
	return sum;
}

template <class T>
float
ScalarDot(const T *a, const T *b, std::size_t n)
{
	float sum = 0.0f;
	for (std::size_t i = 0; i < n; i++)
		sum += ToFloat(a[i]) * ToFloat(b[i]);
	return sum;
}

template <class T>
float
ScalarL1(const T *a, const T *b, std::size_t n)
{
	float sum = 0.0f;
	for (std::size_t i = 0; i < n; i++)
		sum += std::fabs(ToFloat(a[i]) - ToFloat(b[i]));
	return sum;
}

template <class T>
CosineSums
ScalarCosineSums(const T *a, const T *b, std::size_t n)
{
	CosineSums sums = {0.0f, 0.0f, 0.0f};
	for (std::size_t i = 0; i < n; i++) {
		float x = ToFloat(a[i]);
		float y = ToFloat(b[i]);
		sums.dot += x * y;
		sums.norm_a += x * x;
		sums.norm_b += y * y;
	}
	return sums;
}

template float ScalarL2Squared<float>(const float *, const float *, std::size_t);
template float ScalarDot<float>(const float *, const float *, std::size_t);
template float ScalarL1<float>(const float *, const float *, std::size_t);
template CosineSums ScalarCosineSums<float>(const float *, const float *, std::size_t);
template float ScalarL2Squared<Half>(const Half *, const Half *, std::size_t);
template float ScalarDot<Half>(const Half *, const Half *, std::size_t);
template float ScalarL1<Half>(const Half *, const Half *, std::size_t);
template CosineSums ScalarCosineSums<Half>(const Half *, const Half *, std::size_t);

} // namespace quiver::core::internal

#include "quiver/core_only.hpp"
