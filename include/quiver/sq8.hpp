#include "quiver/core_only.hpp"
// Scalar quantization to 8 bits per dimension (SQ8), for compressed IVF lists.
//
// Each dimension d has its own range [lower[d], lower[d] + 255 * step[d]] learnt from sample
// rows; a value is stored as the nearest of the 256 levels (clamped to the range). A query
// stays in float32: distances to codes are computed against the decoded levels without
// decoding them row by row, through per-query tables:
//   squared L2   sum_d step[d]^2 * (q'[d] - code[d])^2 + bias,  q'[d] = (q[d] - lower[d]) / step[d]
//   dot product  sum_d (q[d] * step[d]) * code[d] + bias,       bias = sum_d q[d] * lower[d]
// A dimension with a single value (step 0) stores code 0 and contributes only to the bias.
// These are approximations of the true distances, for choosing candidates that are then
// re-ranked exactly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace quiver::core {

// Learns lower[d] and step[d] (dim each) from n rows: the range of the values seen.
void Sq8Train(const float *rows, std::size_t n, std::size_t dim, float *lower, float *step);

// The same in a stream: lo and hi (dim each) start at +Inf and -Inf, Sq8Extend widens them by
// one row (non-finite values ignored), Sq8FromRange turns them into lower and step.
void Sq8Extend(const float *x, std::size_t dim, float *lo, float *hi) noexcept;
void Sq8FromRange(const float *lo, const float *hi, std::size_t dim, float *lower, float *step) noexcept;

// Codes of one row (dim bytes).
void Sq8Encode(const float *lower, const float *step, const float *x, std::size_t dim, std::uint8_t *codes) noexcept;

// An upper bound of the distance between x and the levels its codes stand for (rounded up
// from a double computation), for the index's exact-order guarantee.
float Sq8Error(const float *lower, const float *step, const float *x, const std::uint8_t *codes, std::size_t dim) noexcept;

// The levels the codes stand for (dim floats).
void Sq8Decode(const float *lower, const float *step, const std::uint8_t *codes, std::size_t dim, float *out) noexcept;

// Per-query tables for one metric: squared L2 (l2 = true) or dot product.
struct Sq8Query {
	bool l2 = true;
	std::vector<float> a; // L2: q'; dot: q * step
	std::vector<float> w; // L2: step^2 (unused for dot)
	float bias = 0;
};
Sq8Query Sq8PrepareQuery(const float *lower, const float *step, const float *q, std::size_t dim, bool l2);

// The approximate squared L2 distance or dot product between the query and one row's codes.
float Sq8Distance(const Sq8Query &query, const std::uint8_t *codes) noexcept;

} // namespace quiver::core
