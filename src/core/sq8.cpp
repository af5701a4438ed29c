#include "quiver/sq8.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "quiver/kernels.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

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

// Per-vector codes (8 and 4 bits).

namespace {

const Sq8VectorHeader *
HeaderOf(const void *coded) noexcept
{
	return static_cast<const Sq8VectorHeader *>(coded);
}

const std::uint8_t *
CodesOf(const void *coded) noexcept
{
	return reinterpret_cast<const std::uint8_t *>(HeaderOf(coded) + 1);
}

#if defined(__x86_64__)
// Bytes widened to 16 bits and multiplied in pairs (pmaddwd): each 32-bit lane sums at most
// n / 4 products of at most 255^2, which stays below 2^31 for n up to kSq8VectorMaxDim.
std::uint32_t
U8DotSse2(const std::uint8_t *a, const std::uint8_t *b, std::size_t n) noexcept
{
	const __m128i zero = _mm_setzero_si128();
	__m128i acc = zero;
	std::size_t i = 0;
	for (; i + 16 <= n; i += 16) {
		__m128i va = _mm_loadu_si128(reinterpret_cast<const __m128i *>(a + i));
		__m128i vb = _mm_loadu_si128(reinterpret_cast<const __m128i *>(b + i));
		acc = _mm_add_epi32(acc, _mm_madd_epi16(_mm_unpacklo_epi8(va, zero), _mm_unpacklo_epi8(vb, zero)));
		acc = _mm_add_epi32(acc, _mm_madd_epi16(_mm_unpackhi_epi8(va, zero), _mm_unpackhi_epi8(vb, zero)));
	}
	std::uint32_t lanes[4];
	_mm_storeu_si128(reinterpret_cast<__m128i *>(lanes), acc);
	std::uint32_t sum = lanes[0] + lanes[1] + lanes[2] + lanes[3];
	for (; i < n; i++)
		sum += static_cast<std::uint32_t>(a[i]) * b[i];
	return sum;
}

__attribute__((target("avx2"))) std::uint32_t
U8DotAvx2(const std::uint8_t *a, const std::uint8_t *b, std::size_t n) noexcept
{
	__m256i acc = _mm256_setzero_si256();
	std::size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		__m256i a0 = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i *>(a + i)));
		__m256i b0 = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i *>(b + i)));
		__m256i a1 = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i *>(a + i + 16)));
		__m256i b1 = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i *>(b + i + 16)));
		acc = _mm256_add_epi32(acc, _mm256_madd_epi16(a0, b0));
		acc = _mm256_add_epi32(acc, _mm256_madd_epi16(a1, b1));
	}
	std::uint32_t lanes[8];
	_mm256_storeu_si256(reinterpret_cast<__m256i *>(lanes), acc);
	std::uint32_t sum = 0;
	for (std::uint32_t lane : lanes)
		sum += lane;
	for (; i < n; i++)
		sum += static_cast<std::uint32_t>(a[i]) * b[i];
	return sum;
}
#endif

} // namespace

std::uint32_t
U8DotScalar(const std::uint8_t *a, const std::uint8_t *b, std::size_t n) noexcept
{
	std::uint32_t sum = 0;
	for (std::size_t i = 0; i < n; i++)
		sum += static_cast<std::uint32_t>(a[i]) * b[i];
	return sum;
}

std::uint32_t
U8Dot(const std::uint8_t *a, const std::uint8_t *b, std::size_t n) noexcept
{
#if defined(__x86_64__)
	// The active level was checked against this CPU and OS when it was chosen.
	if (ActiveKernels().level >= KernelLevel::AVX2)
		return U8DotAvx2(a, b, n);
	return U8DotSse2(a, b, n);
#else
	return U8DotScalar(a, b, n);
#endif
}

std::uint32_t
U4DotScalar(const std::uint8_t *a, const std::uint8_t *b, std::size_t bytes) noexcept
{
	std::uint32_t sum = 0;
	for (std::size_t i = 0; i < bytes; i++)
		sum += static_cast<std::uint32_t>(a[i] & 15u) * (b[i] & 15u) + static_cast<std::uint32_t>(a[i] >> 4) * (b[i] >> 4);
	return sum;
}

namespace {

#if defined(__x86_64__)
// The halves split into two byte vectors, then multiplied as U8DotSse2 does.
std::uint32_t
U4DotSse2(const std::uint8_t *a, const std::uint8_t *b, std::size_t bytes) noexcept
{
	const __m128i zero = _mm_setzero_si128(), low = _mm_set1_epi8(15);
	__m128i acc = zero;
	std::size_t i = 0;
	for (; i + 16 <= bytes; i += 16) {
		__m128i va = _mm_loadu_si128(reinterpret_cast<const __m128i *>(a + i));
		__m128i vb = _mm_loadu_si128(reinterpret_cast<const __m128i *>(b + i));
		__m128i halves[4] = {_mm_and_si128(va, low), _mm_and_si128(vb, low), _mm_and_si128(_mm_srli_epi16(va, 4), low),
		                     _mm_and_si128(_mm_srli_epi16(vb, 4), low)};
		for (int h = 0; h < 4; h += 2) {
			acc = _mm_add_epi32(acc, _mm_madd_epi16(_mm_unpacklo_epi8(halves[h], zero), _mm_unpacklo_epi8(halves[h + 1], zero)));
			acc = _mm_add_epi32(acc, _mm_madd_epi16(_mm_unpackhi_epi8(halves[h], zero), _mm_unpackhi_epi8(halves[h + 1], zero)));
		}
	}
	std::uint32_t lanes[4];
	_mm_storeu_si128(reinterpret_cast<__m128i *>(lanes), acc);
	return lanes[0] + lanes[1] + lanes[2] + lanes[3] + U4DotScalar(a + i, b + i, bytes - i);
}

__attribute__((target("avx2"))) std::uint32_t
U4DotAvx2(const std::uint8_t *a, const std::uint8_t *b, std::size_t bytes) noexcept
{
	const __m128i low = _mm_set1_epi8(15);
	__m256i acc = _mm256_setzero_si256();
	std::size_t i = 0;
	for (; i + 16 <= bytes; i += 16) {
		__m128i va = _mm_loadu_si128(reinterpret_cast<const __m128i *>(a + i));
		__m128i vb = _mm_loadu_si128(reinterpret_cast<const __m128i *>(b + i));
		__m256i a0 = _mm256_cvtepu8_epi16(_mm_and_si128(va, low));
		__m256i b0 = _mm256_cvtepu8_epi16(_mm_and_si128(vb, low));
		__m256i a1 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(va, 4), low));
		__m256i b1 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(vb, 4), low));
		acc = _mm256_add_epi32(acc, _mm256_madd_epi16(a0, b0));
		acc = _mm256_add_epi32(acc, _mm256_madd_epi16(a1, b1));
	}
	std::uint32_t lanes[8];
	_mm256_storeu_si256(reinterpret_cast<__m256i *>(lanes), acc);
	std::uint32_t sum = 0;
	for (std::uint32_t lane : lanes)
		sum += lane;
	return sum + U4DotScalar(a + i, b + i, bytes - i);
}
#endif

// The two widths of per-vector codes: levels, bytes, how a code is read and written, and the
// exact integer dot product of two vectors' codes.
template <int kBits> struct Codes;

template <> struct Codes<8> {
	static constexpr double kLevels = 255;
	static std::uint32_t Get(const std::uint8_t *codes, std::size_t d) { return codes[d]; }
	static void Set(std::uint8_t *codes, std::size_t d, std::uint32_t c) { codes[d] = static_cast<std::uint8_t>(c); }
	static std::uint32_t Dot(const std::uint8_t *a, const std::uint8_t *b, std::size_t dim) { return U8Dot(a, b, dim); }
};

template <> struct Codes<4> {
	static constexpr double kLevels = 15;
	static std::uint32_t Get(const std::uint8_t *codes, std::size_t d) { return (codes[d / 2] >> (4 * (d % 2))) & 15u; }
	static void
	Set(std::uint8_t *codes, std::size_t d, std::uint32_t c)
	{
		codes[d / 2] = static_cast<std::uint8_t>(codes[d / 2] | (c << (4 * (d % 2))));
	}
	static std::uint32_t Dot(const std::uint8_t *a, const std::uint8_t *b, std::size_t dim) { return U4Dot(a, b, (dim + 1) / 2); }
};

template <int kBits>
void
EncodeVector(const float *x, std::size_t dim, void *out) noexcept
{
	using C = Codes<kBits>;
	auto *header = static_cast<Sq8VectorHeader *>(out);
	auto *codes = reinterpret_cast<std::uint8_t *>(header + 1);
	memset(codes, 0, CodedVectorBytes(kBits, dim) - sizeof(Sq8VectorHeader)); // padding included
	float lo = dim > 0 ? x[0] : 0.0f, hi = lo;
	for (std::size_t d = 1; d < dim; d++) {
		lo = std::min(lo, x[d]);
		hi = std::max(hi, x[d]);
	}
	// The range in double: hi - lo can exceed the float range, its 255th part cannot.
	float step = static_cast<float>((static_cast<double>(hi) - lo) / C::kLevels);
	header->lower = lo;
	header->step = step > 0 ? step : 0.0f;
	std::uint32_t sum = 0, square_sum = 0;
	for (std::size_t d = 0; d < dim; d++) {
		double level = header->step > 0 ? std::nearbyint((static_cast<double>(x[d]) - lo) / header->step) : 0.0;
		auto code = static_cast<std::uint32_t>(std::clamp(level, 0.0, C::kLevels));
		C::Set(codes, d, code);
		sum += code;
		square_sum += code * code;
	}
	header->code_sum = sum;
	header->code_square_sum = square_sum;
}

template <int kBits>
void
DecodeVector(const void *coded, std::size_t dim, float *out) noexcept
{
	const Sq8VectorHeader *h = HeaderOf(coded);
	const std::uint8_t *codes = CodesOf(coded);
	constexpr double kMax = std::numeric_limits<float>::max();
	for (std::size_t d = 0; d < dim; d++)
		out[d] = static_cast<float>(std::clamp(
		    static_cast<double>(h->lower) + static_cast<double>(h->step) * Codes<kBits>::Get(codes, d), -kMax, kMax));
}

template <int kBits>
double
VectorError(const float *x, const void *coded, std::size_t dim, bool l1) noexcept
{
	const Sq8VectorHeader *h = HeaderOf(coded);
	const std::uint8_t *codes = CodesOf(coded);
	constexpr double kMax = std::numeric_limits<float>::max();
	double sum = 0;
	for (std::size_t d = 0; d < dim; d++) {
		// The bound must hold for the values the codes stand for (code-to-code distances) and
		// for the floats they decode to (distances from a float32 query): both, per value.
		double level = static_cast<double>(h->lower) + static_cast<double>(h->step) * Codes<kBits>::Get(codes, d);
		double decoded = static_cast<float>(std::clamp(level, -kMax, kMax));
		double diff = std::max(std::fabs(x[d] - level), std::fabs(x[d] - decoded));
		sum += l1 ? diff : diff * diff;
	}
	// Past the double's own rounding, so it stays a bound.
	return (l1 ? sum : std::sqrt(sum)) * (1 + 1e-9);
}

template <int kBits>
double
VectorDot(const void *a, const void *b, std::size_t dim) noexcept
{
	const Sq8VectorHeader *ha = HeaderOf(a), *hb = HeaderOf(b);
	double la = ha->lower, sa = ha->step, lb = hb->lower, sb = hb->step;
	double ab = Codes<kBits>::Dot(CodesOf(a), CodesOf(b), dim);
	return static_cast<double>(dim) * la * lb + la * sb * hb->code_sum + lb * sa * ha->code_sum + sa * sb * ab;
}

template <int kBits>
double
VectorL2Squared(const void *a, const void *b, std::size_t dim) noexcept
{
	const Sq8VectorHeader *ha = HeaderOf(a), *hb = HeaderOf(b);
	double la = ha->lower, sa = ha->step, lb = hb->lower, sb = hb->step;
	double ab = Codes<kBits>::Dot(CodesOf(a), CodesOf(b), dim);
	double diff = la - lb;
	double d = static_cast<double>(dim) * diff * diff + 2 * diff * (sa * ha->code_sum - sb * hb->code_sum) +
	           sa * sa * ha->code_square_sum + sb * sb * hb->code_square_sum - 2 * sa * sb * ab;
	return d > 0 ? d : 0.0;
}

template <int kBits>
double
VectorL1(const void *a, const void *b, std::size_t dim) noexcept
{
	const Sq8VectorHeader *ha = HeaderOf(a), *hb = HeaderOf(b);
	const std::uint8_t *ca = CodesOf(a), *cb = CodesOf(b);
	double la = ha->lower, sa = ha->step, lb = hb->lower, sb = hb->step;
	double sum = 0;
	for (std::size_t d = 0; d < dim; d++)
		sum += std::fabs((la + sa * Codes<kBits>::Get(ca, d)) - (lb + sb * Codes<kBits>::Get(cb, d)));
	return sum;
}

} // namespace

std::uint32_t
U4Dot(const std::uint8_t *a, const std::uint8_t *b, std::size_t bytes) noexcept
{
#if defined(__x86_64__)
	if (ActiveKernels().level >= KernelLevel::AVX2)
		return U4DotAvx2(a, b, bytes);
	return U4DotSse2(a, b, bytes);
#else
	return U4DotScalar(a, b, bytes);
#endif
}

namespace {

template <int kBits>
bool
VectorSound(const void *coded, std::size_t dim) noexcept
{
	const Sq8VectorHeader *h = HeaderOf(coded);
	const std::uint8_t *codes = CodesOf(coded);
	std::uint32_t sum = 0, square_sum = 0;
	for (std::size_t d = 0; d < dim; d++) {
		std::uint32_t c = Codes<kBits>::Get(codes, d);
		sum += c;
		square_sum += c * c;
	}
	std::size_t slots = (CodedVectorBytes(kBits, dim) - sizeof(Sq8VectorHeader)) * 8 / kBits;
	for (std::size_t d = dim; d < slots; d++)
		if (Codes<kBits>::Get(codes, d) != 0)
			return false;
	return std::isfinite(h->lower) && std::isfinite(h->step) && h->step >= 0 && h->code_sum == sum &&
	       h->code_square_sum == square_sum;
}

} // namespace

void
CodedVectorEncode(int bits, const float *x, std::size_t dim, void *out) noexcept
{
	bits == 4 ? EncodeVector<4>(x, dim, out) : EncodeVector<8>(x, dim, out);
}

void
CodedVectorDecode(int bits, const void *coded, std::size_t dim, float *out) noexcept
{
	bits == 4 ? DecodeVector<4>(coded, dim, out) : DecodeVector<8>(coded, dim, out);
}

double
CodedVectorError(int bits, const float *x, const void *coded, std::size_t dim, bool l1) noexcept
{
	return bits == 4 ? VectorError<4>(x, coded, dim, l1) : VectorError<8>(x, coded, dim, l1);
}

double
CodedVectorDot(int bits, const void *a, const void *b, std::size_t dim) noexcept
{
	return bits == 4 ? VectorDot<4>(a, b, dim) : VectorDot<8>(a, b, dim);
}

double
CodedVectorL2Squared(int bits, const void *a, const void *b, std::size_t dim) noexcept
{
	return bits == 4 ? VectorL2Squared<4>(a, b, dim) : VectorL2Squared<8>(a, b, dim);
}

double
CodedVectorL1(int bits, const void *a, const void *b, std::size_t dim) noexcept
{
	return bits == 4 ? VectorL1<4>(a, b, dim) : VectorL1<8>(a, b, dim);
}

bool
CodedVectorSound(int bits, const void *coded, std::size_t dim) noexcept
{
	return bits == 4 ? VectorSound<4>(coded, dim) : VectorSound<8>(coded, dim);
}

} // namespace quiver::core
