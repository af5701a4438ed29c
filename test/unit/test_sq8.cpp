#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

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

} // namespace
