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

namespace quiver::core {

// Per-vector codes, for graph elements (hnsw's quantizer = 'sq8' and 'sq4'): each vector has its
// own range, so nothing is trained and an insert never meets a range learnt from other rows.
// With `bits` 8, value i stands for lower + step * codes[i] (computed in double), in 255 steps;
// with 4, in 15 steps, two codes a byte (value 2i in the low half of byte i, 2i + 1 in the high
// half). The header keeps the codes' sum and sum of squares, so the distance between two coded
// vectors needs one integer dot product of their codes and a few double operations:
//   a.b        = n la lb + la sb Sb + lb sa Sa + sa sb (ca.cb)
//   |a - b|^2  = n D^2 + 2 D (sa Sa - sb Sb) + sa^2 Qa + sb^2 Qb - 2 sa sb (ca.cb),  D = la - lb
// with S the code sum and Q the sum of squared codes. The integer dot product is exact, so the
// result is the exact distance of the two decoded vectors up to double rounding.
struct Sq8VectorHeader {
	float lower;
	float step;
	std::uint32_t code_sum;
	std::uint32_t code_square_sum;
};
static_assert(sizeof(Sq8VectorHeader) == 16);

// Largest dimensions whose sums fit the header's 32 bits (255^2 per dimension).
inline constexpr std::size_t kSq8VectorMaxDim = 66000;

// Bytes of a coded vector: the header, then the codes rounded up to whole 8-byte words
// (zero-padded), which keeps what follows aligned.
inline std::size_t
CodedVectorBytes(int bits, std::size_t dim)
{
	std::size_t code_bytes = bits == 4 ? (dim + 1) / 2 : dim;
	return sizeof(Sq8VectorHeader) + (code_bytes + 7) / 8 * 8;
}

// Codes x (dim finite floats) into out (CodedVectorBytes): the range is [min x, max x].
void CodedVectorEncode(int bits, const float *x, std::size_t dim, void *out) noexcept;

// The values the codes stand for, each rounded to the nearest float (clamped to the float
// range).
void CodedVectorDecode(int bits, const void *coded, std::size_t dim, float *out) noexcept;

// An upper bound of the distance between x and the values its codes stand for, and between x
// and their float decoding (CodedVectorDecode): the Euclidean norm of the difference, or with
// l1 its L1 norm; computed in double and rounded up.
double CodedVectorError(int bits, const float *x, const void *coded, std::size_t dim, bool l1) noexcept;

// Distances between two coded vectors of dim values (see above): their dot product, squared
// Euclidean distance and L1 distance.
double CodedVectorDot(int bits, const void *a, const void *b, std::size_t dim) noexcept;
double CodedVectorL2Squared(int bits, const void *a, const void *b, std::size_t dim) noexcept;
double CodedVectorL1(int bits, const void *a, const void *b, std::size_t dim) noexcept;

// Whether a coded vector is what the distances assume: a finite, non-negative step, sums that
// are the codes' sums, zero padding codes (the dot products read them). For checking pages.
bool CodedVectorSound(int bits, const void *coded, std::size_t dim) noexcept;

// Exact integer dot products over bytes (n at most kSq8VectorMaxDim): of the bytes, and of the
// bytes' halves (low with low, high with high); the scalar references and the active level's
// versions (SSE2, AVX2).
std::uint32_t U8DotScalar(const std::uint8_t *a, const std::uint8_t *b, std::size_t n) noexcept;
std::uint32_t U8Dot(const std::uint8_t *a, const std::uint8_t *b, std::size_t n) noexcept;
std::uint32_t U4DotScalar(const std::uint8_t *a, const std::uint8_t *b, std::size_t bytes) noexcept;
std::uint32_t U4Dot(const std::uint8_t *a, const std::uint8_t *b, std::size_t bytes) noexcept;

} // namespace quiver::core
