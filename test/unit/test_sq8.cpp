#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "quiver/kernels.hpp"
#include "quiver/sq8.hpp"
#include "random_rows.hpp"

using namespace quiver::core;

namespace {

std::vector<float>
Gaussian(std::size_t n, std::size_t dim, unsigned seed)
{
	return quiver::test::GaussianRows(n, dim, seed, true); // dimensions of different ranges
}

TEST(Sq8, RoundTripWithinHalfAStep)
{
	const std::size_t n = 500, dim = 37;
	std::vector<float> rows = Gaussian(n, dim, 1), lower(dim), step(dim), out(dim);
	std::vector<std::uint8_t> codes(dim);
	Sq8Train(rows.data(), n, dim, lower.data(), step.data());
	for (std::size_t r = 0; r < n; r++) {
		Sq8Encode(lower.data(), step.data(), &rows[r * dim], dim, codes.data());
		Sq8Decode(lower.data(), step.data(), codes.data(), dim, out.data());
		for (std::size_t d = 0; d < dim; d++)
			ASSERT_LE(std::fabs(out[d] - rows[r * dim + d]), step[d] * 0.5f + 1e-5f * std::fabs(rows[r * dim + d]))
			    << "row " << r << " dim " << d;
	}
}

TEST(Sq8, OutOfRangeValuesClampAndConstantDimensions)
{
	// dimension 0 constant, dimension 1 spans [0, 255]
	std::vector<float> rows = {7, 0, 7, 255, 7, 100};
	float lower[2], step[2];
	Sq8Train(rows.data(), 3, 2, lower, step);
	EXPECT_EQ(step[0], 0.0f);
	EXPECT_EQ(lower[0], 7.0f);
	EXPECT_FLOAT_EQ(step[1], 1.0f);
	std::uint8_t codes[2];
	float high[2] = {9, 1000}, low[2] = {-3, -1000}, nan[2] = {std::nanf(""), std::nanf("")};
	Sq8Encode(lower, step, high, 2, codes);
	EXPECT_EQ(codes[0], 0);
	EXPECT_EQ(codes[1], 255);
	Sq8Encode(lower, step, low, 2, codes);
	EXPECT_EQ(codes[1], 0);
	Sq8Encode(lower, step, nan, 2, codes);
	EXPECT_EQ(codes[1], 0);
	// The constant dimension still counts in the distance, through the bias.
	float q[2] = {10, 100};
	Sq8Query query = Sq8PrepareQuery(lower, step, q, 2, true);
	std::uint8_t at100[2] = {0, 100};
	EXPECT_FLOAT_EQ(Sq8Distance(query, at100), 9.0f);
}

// The approximate distances equal the exact distances to the decoded rows (to float rounding),
// for both metrics and lengths around the lane count.
TEST(Sq8, DistancesMatchDecodedRows)
{
	for (std::size_t dim : {1u, 15u, 16u, 17u, 100u, 784u}) {
		std::vector<float> rows = Gaussian(50, dim, 2), lower(dim), step(dim), dec(dim);
		Sq8Train(rows.data(), 50, dim, lower.data(), step.data());
		std::vector<float> q = Gaussian(1, dim, 3);
		Sq8Query l2 = Sq8PrepareQuery(lower.data(), step.data(), q.data(), dim, true);
		Sq8Query dot = Sq8PrepareQuery(lower.data(), step.data(), q.data(), dim, false);
		std::vector<std::uint8_t> codes(dim);
		for (std::size_t r = 0; r < 50; r++) {
			Sq8Encode(lower.data(), step.data(), &rows[r * dim], dim, codes.data());
			Sq8Decode(lower.data(), step.data(), codes.data(), dim, dec.data());
			double ref_l2 = 0, ref_dot = 0, scale = 0;
			for (std::size_t d = 0; d < dim; d++) {
				ref_l2 += (static_cast<double>(q[d]) - dec[d]) * (static_cast<double>(q[d]) - dec[d]);
				ref_dot += static_cast<double>(q[d]) * dec[d];
				scale += std::fabs(static_cast<double>(q[d]) * dec[d]) + q[d] * q[d] + dec[d] * dec[d];
			}
			EXPECT_NEAR(Sq8Distance(l2, codes.data()), ref_l2, 1e-4 * scale) << "dim " << dim;
			EXPECT_NEAR(Sq8Distance(dot, codes.data()), ref_dot, 1e-4 * scale) << "dim " << dim;
		}
	}
}

// Ranking by the approximate distance keeps most true nearest neighbours near the top.
TEST(Sq8, ApproximateRankingFindsNeighbours)
{
	const std::size_t n = 2000, dim = 32;
	std::vector<float> rows = Gaussian(n, dim, 4), lower(dim), step(dim);
	Sq8Train(rows.data(), n, dim, lower.data(), step.data());
	std::vector<std::uint8_t> codes(n * dim);
	for (std::size_t r = 0; r < n; r++)
		Sq8Encode(lower.data(), step.data(), &rows[r * dim], dim, &codes[r * dim]);
	int hits = 0;
	for (unsigned t = 0; t < 20; t++) {
		std::vector<float> q = Gaussian(1, dim, 100 + t);
		Sq8Query query = Sq8PrepareQuery(lower.data(), step.data(), q.data(), dim, true);
		std::vector<std::pair<float, std::size_t>> exact(n), approx(n);
		for (std::size_t r = 0; r < n; r++) {
			float e = 0;
			for (std::size_t d = 0; d < dim; d++)
				e += (q[d] - rows[r * dim + d]) * (q[d] - rows[r * dim + d]);
			exact[r] = {e, r};
			approx[r] = {Sq8Distance(query, &codes[r * dim]), r};
		}
		std::partial_sort(exact.begin(), exact.begin() + 10, exact.end());
		std::partial_sort(approx.begin(), approx.begin() + 20, approx.end());
		for (std::size_t i = 0; i < 10; i++)
			for (std::size_t j = 0; j < 20; j++)
				hits += exact[i].second == approx[j].second;
	}
	EXPECT_GE(hits, 195); // of 200: the true top 10 within the approximate top 20
}

// Per-vector SQ8 and SQ4 (hnsw elements).

// A code as the layout documents it (the reference the tests read codes with).
struct Width {
	const char *name;
	int bits;
	std::uint32_t
	code(const std::uint8_t *codes, std::size_t d) const
	{
		return bits == 8 ? codes[d] : (codes[d / 2] >> (4 * (d % 2))) & 15u;
	}
	std::size_t bytes(std::size_t dim) const { return CodedVectorBytes(bits, dim); }
	void encode(const float *x, std::size_t dim, void *out) const { CodedVectorEncode(bits, x, dim, out); }
	void decode(const void *c, std::size_t dim, float *out) const { CodedVectorDecode(bits, c, dim, out); }
	double error(const float *x, const void *c, std::size_t dim, bool l1) const { return CodedVectorError(bits, x, c, dim, l1); }
	double dot(const void *a, const void *b, std::size_t dim) const { return CodedVectorDot(bits, a, b, dim); }
	double l2(const void *a, const void *b, std::size_t dim) const { return CodedVectorL2Squared(bits, a, b, dim); }
	double l1(const void *a, const void *b, std::size_t dim) const { return CodedVectorL1(bits, a, b, dim); }
};

const Width kWidths[] = {{"8 bits", 8}, {"4 bits", 4}};

std::vector<std::uint8_t>
Coded(const Width &w, const float *x, std::size_t dim)
{
	std::vector<std::uint8_t> out(w.bytes(dim), 0xAB);
	w.encode(x, dim, out.data());
	return out;
}

// What a coded value stands for, in double (the definition the distances must match).
std::vector<double>
Levels(const Width &w, const std::vector<std::uint8_t> &coded, std::size_t dim)
{
	Sq8VectorHeader h;
	std::memcpy(&h, coded.data(), sizeof h);
	std::vector<double> out(dim);
	for (std::size_t d = 0; d < dim; d++)
		out[d] = static_cast<double>(h.lower) + static_cast<double>(h.step) * w.code(coded.data() + sizeof h, d);
	return out;
}

TEST(Sq8Vector, ByteDotProductsMatchScalarAtEveryLengthAndCannotOverflow)
{
	// Before InitKernels the baseline version runs; after it, the best this CPU has.
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			bool ignored;
			InitKernels(&ignored);
		}
		std::mt19937 rng(7);
		std::uniform_int_distribution<int> byte(0, 255);
		for (std::size_t n : {0, 1, 15, 16, 17, 31, 32, 33, 63, 100, 4096, 8000}) {
			std::vector<std::uint8_t> a(n), b(n);
			for (std::size_t i = 0; i < n; i++) {
				a[i] = static_cast<std::uint8_t>(byte(rng));
				b[i] = static_cast<std::uint8_t>(byte(rng));
			}
			EXPECT_EQ(U8Dot(a.data(), b.data(), n), U8DotScalar(a.data(), b.data(), n)) << n << " level " << pass;
			EXPECT_EQ(U4Dot(a.data(), b.data(), n), U4DotScalar(a.data(), b.data(), n)) << n << " level " << pass;
		}
		std::vector<std::uint8_t> full(kSq8VectorMaxDim, 255);
		EXPECT_EQ(U8Dot(full.data(), full.data(), full.size()), 255u * 255u * kSq8VectorMaxDim);
		EXPECT_EQ(U4Dot(full.data(), full.data(), full.size()), 2u * 15u * 15u * kSq8VectorMaxDim);
	}
}

TEST(Sq8Vector, ErrorBoundsTheDecodedDistanceAndDistancesMatchTheLevels)
{
	for (const Width &w : kWidths) {
		SCOPED_TRACE(w.name);
		const std::size_t dim = 777; // odd, and not a multiple of 16 or 32: the kernels' tails
		std::vector<float> rows = Gaussian(40, dim, 11);
		std::vector<std::vector<std::uint8_t>> coded;
		for (std::size_t r = 0; r < 40; r++) {
			const float *x = &rows[r * dim];
			coded.push_back(Coded(w, x, dim));
			std::vector<double> level = Levels(w, coded.back(), dim);
			double l2 = 0, l1 = 0, max_diff = 0;
			for (std::size_t d = 0; d < dim; d++) {
				double diff = std::fabs(x[d] - level[d]);
				l2 += diff * diff;
				l1 += diff;
				max_diff = std::max(max_diff, diff);
			}
			Sq8VectorHeader h;
			std::memcpy(&h, coded.back().data(), sizeof h);
			EXPECT_GE(w.error(x, coded.back().data(), dim, false), std::sqrt(l2));
			EXPECT_GE(w.error(x, coded.back().data(), dim, true), l1);
			EXPECT_LE(max_diff, h.step * 0.5 * (1 + 1e-6)); // nearest level
			std::uint32_t sum = 0, square_sum = 0;
			for (std::size_t d = 0; d < dim; d++) {
				sum += w.code(coded.back().data() + sizeof h, d);
				square_sum += w.code(coded.back().data() + sizeof h, d) * w.code(coded.back().data() + sizeof h, d);
			}
			EXPECT_EQ(h.code_sum, sum);
			EXPECT_EQ(h.code_square_sum, square_sum);
			std::vector<float> decoded(dim);
			w.decode(coded.back().data(), dim, decoded.data());
			for (std::size_t d = 0; d < dim; d++)
				ASSERT_EQ(decoded[d], static_cast<float>(level[d]));
			for (std::size_t d = dim; d < (w.bytes(dim) - sizeof h) * 8 / static_cast<std::size_t>(w.bits); d++)
				ASSERT_EQ(w.code(coded.back().data() + sizeof h, d), 0u) << "padding";
		}
		for (std::size_t i = 0; i < coded.size(); i++) {
			std::vector<double> a = Levels(w, coded[i], dim);
			for (std::size_t j = 0; j < coded.size(); j++) {
				std::vector<double> b = Levels(w, coded[j], dim);
				double dot = 0, l2 = 0, l1 = 0, scale = 0;
				for (std::size_t d = 0; d < dim; d++) {
					dot += a[d] * b[d];
					l2 += (a[d] - b[d]) * (a[d] - b[d]);
					l1 += std::fabs(a[d] - b[d]);
					scale += a[d] * a[d] + b[d] * b[d];
				}
				EXPECT_NEAR(w.dot(coded[i].data(), coded[j].data(), dim), dot, 1e-12 * scale);
				EXPECT_NEAR(w.l2(coded[i].data(), coded[j].data(), dim), l2, 1e-12 * scale);
				EXPECT_NEAR(w.l1(coded[i].data(), coded[j].data(), dim), l1, 1e-12 * l1 + 1e-300);
			}
			EXPECT_EQ(w.l2(coded[i].data(), coded[i].data(), dim), 0.0) << "a vector from itself";
		}
	}
}

TEST(Sq8Vector, ErrorBoundsTheFloatDecodingWhenStepsAreNearTheFloatGrain)
{
	// Values near 1000 spread over a few hundred float steps (ulp 6.1e-5): a code's step is
	// about one ulp, so rounding the levels to float can double a value's error. The bound must
	// hold against the decoded floats as well (the scan compares a float32 query with them).
	std::mt19937 rng(3);
	std::uniform_real_distribution<float> spread(1000.0f, 1000.02f);
	const std::size_t dim = 1000;
	for (const Width &w : kWidths) {
		SCOPED_TRACE(w.name);
		for (int r = 0; r < 20; r++) {
			std::vector<float> x(dim), decoded(dim);
			for (float &v : x)
				v = spread(rng);
			auto coded = Coded(w, x.data(), dim);
			w.decode(coded.data(), dim, decoded.data());
			double l2 = 0, l1 = 0;
			for (std::size_t d = 0; d < dim; d++) {
				double diff = std::fabs(static_cast<double>(x[d]) - decoded[d]);
				l2 += diff * diff;
				l1 += diff;
			}
			EXPECT_GE(w.error(x.data(), coded.data(), dim, false), std::sqrt(l2));
			EXPECT_GE(w.error(x.data(), coded.data(), dim, true), l1);
		}
	}
}

TEST(Sq8Vector, SoundnessCheckFindsDamagedSumsAndPadding)
{
	const std::size_t dim = 33; // odd: a 4-bit vector's last byte has a padding half
	std::vector<float> x = Gaussian(1, dim, 5);
	for (const Width &w : kWidths) {
		SCOPED_TRACE(w.name);
		auto coded = Coded(w, x.data(), dim);
		EXPECT_TRUE(CodedVectorSound(w.bits, coded.data(), dim));
		auto sums = coded;
		sums[offsetof(Sq8VectorHeader, code_sum)] ^= 1;
		EXPECT_FALSE(CodedVectorSound(w.bits, sums.data(), dim));
		auto padding = coded;
		padding.back() = 0x10; // the last padding byte (8 bits) or its high half (either width)
		EXPECT_FALSE(CodedVectorSound(w.bits, padding.data(), dim));
		auto step = coded;
		float negative = -1.0f;
		std::memcpy(step.data() + offsetof(Sq8VectorHeader, step), &negative, sizeof negative);
		EXPECT_FALSE(CodedVectorSound(w.bits, step.data(), dim));
	}
}

TEST(Sq8Vector, ConstantAndExtremeVectors)
{
	for (const Width &w : kWidths) {
		SCOPED_TRACE(w.name);
		std::vector<float> constant(10, 0.25f);
		auto c = Coded(w, constant.data(), constant.size());
		EXPECT_EQ(w.error(constant.data(), c.data(), constant.size(), false), 0.0);
		std::vector<float> out(10);
		w.decode(c.data(), 10, out.data());
		EXPECT_EQ(out, constant);

		// The range exceeds the float range; its steps do not, and decoding stays finite.
		const float big = std::numeric_limits<float>::max();
		std::vector<float> extreme = {-big, big, 0.0f, 1.0f};
		auto e = Coded(w, extreme.data(), extreme.size());
		Sq8VectorHeader h;
		std::memcpy(&h, e.data(), sizeof h);
		EXPECT_TRUE(std::isfinite(h.step));
		w.decode(e.data(), extreme.size(), out.data());
		for (std::size_t d = 0; d < extreme.size(); d++)
			EXPECT_TRUE(std::isfinite(out[d])) << d;
		EXPECT_EQ(out[0], -big);
		EXPECT_TRUE(std::isfinite(w.error(extreme.data(), e.data(), extreme.size(), false)));
	}
}

} // namespace
