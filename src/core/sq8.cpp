#include "quiver/sq8.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace quiver::core {

namespace {

// Sums over 16 lanes, element i into lane i % 16, then the lanes in a fixed order: the compiler
// can keep the lanes in vector registers, and the result does not depend on how it does.
constexpr std::size_t kLanes = 16;

constexpr float kSq8MaxStep = 1e18f;

float
SumLanes(const float *lanes) noexcept
{
	float s = 0;
	for (std::size_t l = 0; l < kLanes; l++)
		s += lanes[l];
	return s;
}

float
WeightedL2(const float *a, const float *w, const std::uint8_t *c, std::size_t n) noexcept
{
	float lanes[kLanes] = {};
	std::size_t i = 0;
	for (; i + kLanes <= n; i += kLanes)
		for (std::size_t l = 0; l < kLanes; l++) {
			float d = a[i + l] - static_cast<float>(c[i + l]);
			lanes[l] += w[i + l] * d * d;
		}
	for (std::size_t l = 0; i < n; i++, l++) {
		float d = a[i] - static_cast<float>(c[i]);
		lanes[l] += w[i] * d * d;
	}
	return SumLanes(lanes);
}

float
Dot(const float *a, const std::uint8_t *c, std::size_t n) noexcept
{
	float lanes[kLanes] = {};
	std::size_t i = 0;
	for (; i + kLanes <= n; i += kLanes)
		for (std::size_t l = 0; l < kLanes; l++)
			lanes[l] += a[i + l] * static_cast<float>(c[i + l]);
	for (std::size_t l = 0; i < n; i++, l++)
		lanes[l] += a[i] * static_cast<float>(c[i]);
	return SumLanes(lanes);
}

} // namespace

void
Sq8Extend(const float *x, std::size_t dim, float *lo, float *hi) noexcept
{
	for (std::size_t d = 0; d < dim; d++) {
		if (!std::isfinite(x[d]))
			continue;
		lo[d] = std::min(lo[d], x[d]);
		hi[d] = std::max(hi[d], x[d]);
	}
}

void
Sq8FromRange(const float *lo, const float *hi, std::size_t dim, float *lower, float *step) noexcept
{
	for (std::size_t d = 0; d < dim; d++) {
		if (lo[d] > hi[d]) { // no finite value seen
			lower[d] = 0;
			step[d] = 0;
			continue;
		}
		lower[d] = lo[d];
		// Capped so that step^2 (the L2 tables' weights) stays finite: a wider range is covered
		// from lower only, and values beyond are clamped (the index's error bounds cover that).
		step[d] = std::min((hi[d] - lo[d]) / 255.0f, kSq8MaxStep);
	}
}

void
Sq8Train(const float *rows, std::size_t n, std::size_t dim, float *lower, float *step)
{
	std::vector<float> lo(dim, std::numeric_limits<float>::infinity());
	std::vector<float> hi(dim, -std::numeric_limits<float>::infinity());
	for (std::size_t r = 0; r < n; r++)
		Sq8Extend(rows + r * dim, dim, lo.data(), hi.data());
	Sq8FromRange(lo.data(), hi.data(), dim, lower, step);
}

void
Sq8Encode(const float *lower, const float *step, const float *x, std::size_t dim, std::uint8_t *codes) noexcept
{
	for (std::size_t d = 0; d < dim; d++) {
		if (step[d] <= 0) {
			codes[d] = 0;
			continue;
		}
		float level = std::nearbyint((x[d] - lower[d]) / step[d]);
		if (!(level >= 0)) // below the range, or NaN
			level = 0;
		codes[d] = static_cast<std::uint8_t>(std::min(level, 255.0f));
	}
}

float
Sq8Error(const float *lower, const float *step, const float *x, const std::uint8_t *codes, std::size_t dim) noexcept
{
	double sum = 0;
	for (std::size_t d = 0; d < dim; d++) {
		double diff = static_cast<double>(x[d]) - (static_cast<double>(lower[d]) + static_cast<double>(step[d]) * codes[d]);
		sum += diff * diff;
	}
	return std::nextafter(static_cast<float>(std::sqrt(sum)), std::numeric_limits<float>::infinity());
}

void
Sq8Decode(const float *lower, const float *step, const std::uint8_t *codes, std::size_t dim, float *out) noexcept
{
	for (std::size_t d = 0; d < dim; d++)
		out[d] = lower[d] + step[d] * static_cast<float>(codes[d]);
}

Sq8Query
Sq8PrepareQuery(const float *lower, const float *step, const float *q, std::size_t dim, bool l2)
{
	Sq8Query query;
	query.l2 = l2;
	query.a.resize(dim);
	if (l2)
		query.w.resize(dim);
	double bias = 0;
	for (std::size_t d = 0; d < dim; d++) {
		if (l2) {
			if (step[d] > 0) {
				query.a[d] = (q[d] - lower[d]) / step[d];
				query.w[d] = step[d] * step[d];
			} else {
				query.a[d] = 0;
				query.w[d] = 0;
				double diff = static_cast<double>(q[d]) - lower[d];
				bias += diff * diff;
			}
		} else {
			query.a[d] = q[d] * step[d];
			bias += static_cast<double>(q[d]) * lower[d];
		}
	}
	query.bias = static_cast<float>(bias);
	return query;
}

float
Sq8Distance(const Sq8Query &query, const std::uint8_t *codes) noexcept
{
	std::size_t n = query.a.size();
	if (query.l2)
		return query.bias + WeightedL2(query.a.data(), query.w.data(), codes, n);
	return query.bias + Dot(query.a.data(), codes, n);
}

} // namespace quiver::core
