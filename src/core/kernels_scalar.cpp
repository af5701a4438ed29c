// The scalar reference kernels: one float accumulator, one element at a time, in index order.
//
// These are the ground truth the SIMD levels are tested against, so they stay as plain as
// possible. Without -ffast-math the compiler may not reassociate a float sum, so it cannot
// vectorise these loops into a different order of additions. This file gets the baseline flags,
// which on x86-64 include no FMA, so every product is rounded before it is added; the FMA levels
// differ from it only by rounding, which the tests allow for.
#include <cmath>

#include "kernels_internal.hpp"

namespace quiver::core::internal {

float
ScalarL2Squared(const float *a, const float *b, std::size_t n)
{
	float sum = 0.0f;
	for (std::size_t i = 0; i < n; i++) {
		float d = a[i] - b[i];
		sum += d * d;
	}
	return sum;
}

float
ScalarDot(const float *a, const float *b, std::size_t n)
{
	float sum = 0.0f;
	for (std::size_t i = 0; i < n; i++)
		sum += a[i] * b[i];
	return sum;
}

float
ScalarL1(const float *a, const float *b, std::size_t n)
{
	float sum = 0.0f;
	for (std::size_t i = 0; i < n; i++)
		sum += std::fabs(a[i] - b[i]);
	return sum;
}

CosineSums
ScalarCosineSums(const float *a, const float *b, std::size_t n)
{
	CosineSums sums = {0.0f, 0.0f, 0.0f};
	for (std::size_t i = 0; i < n; i++) {
		sums.dot += a[i] * b[i];
		sums.norm_a += a[i] * a[i];
		sums.norm_b += b[i] * b[i];
	}
	return sums;
}

} // namespace quiver::core::internal

#include "quiver/core_only.hpp"
