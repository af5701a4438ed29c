#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "quiver/error.hpp"
#include "quiver/kernels.hpp"
#include "quiver/pq.hpp"
#include "random_rows.hpp"

using namespace quiver::core;

namespace {

std::vector<float>
Gaussian(std::size_t n, std::size_t dim, unsigned seed)
{
	return quiver::test::GaussianRows(n, dim, seed);
}

double
SquaredError(const PqCodebook &book, const std::vector<float> &rows, std::size_t n)
{
	std::size_t dim = book.Dim();
	std::vector<std::uint8_t> codes(book.M());
	std::vector<float> dec(dim);
	double err = 0;
	for (std::size_t r = 0; r < n; r++) {
		PqEncode(book.View(), &rows[r * dim], codes.data());
		PqDecode(book.View(), codes.data(), dec.data());
		for (std::size_t d = 0; d < dim; d++)
			err += (dec[d] - rows[r * dim + d]) * static_cast<double>(dec[d] - rows[r * dim + d]);
	}
	return err;
}

TEST(Pq, SubVectorsCoverTheRowUnevenly)
{
	PqCodebook book(10, 4); // sizes 3, 3, 2, 2
	EXPECT_EQ(book.Offset(0), 0u);
	EXPECT_EQ(book.Offset(1), 3u);
	EXPECT_EQ(book.Offset(2), 6u);
	EXPECT_EQ(book.Offset(3), 8u);
	EXPECT_EQ(book.Offset(4), 10u);
	EXPECT_EQ(book.Data().size(), kPqCentroids * 10);
	EXPECT_THROW(PqCodebook(10, 0), Error);
	EXPECT_THROW(PqCodebook(10, 11), Error);
}

// Trained codebooks quantize far better than codebooks of random rows, and more sub-vectors
// (more bytes) quantize better than fewer.
TEST(Pq, TrainingLowersTheError)
{
	const std::size_t n = 3000, dim = 24;
	std::vector<float> rows = Gaussian(n, dim, 1);
	PqParams p;
	p.dim = dim;
	p.m = 6;
	p.threads = 2;
	PqCodebook trained = PqTrain(rows.data(), n, p);
	PqCodebook random(dim, 6);
	std::vector<float> other = Gaussian(kPqCentroids, dim, 2);
	for (std::size_t j = 0; j < 6; j++)
		for (std::size_t c = 0; c < kPqCentroids; c++)
			std::copy(&other[c * dim + trained.Offset(j)], &other[c * dim + trained.Offset(j + 1)], random.Centroid(j, c));
	double e_trained = SquaredError(trained, rows, n), e_random = SquaredError(random, rows, n);
	EXPECT_LT(e_trained, e_random * 0.8) << e_trained << " vs " << e_random;
	p.m = 12;
	PqCodebook finer = PqTrain(rows.data(), n, p);
	EXPECT_LT(SquaredError(finer, rows, n), e_trained);
}

TEST(Pq, TableDistancesEqualDistancesToDecodedRows)
{
	const std::size_t n = 600, dim = 13;
	std::vector<float> rows = Gaussian(n, dim, 3);
	PqParams p;
	p.dim = dim;
	p.m = 5;
	PqCodebook book = PqTrain(rows.data(), n, p);
	std::vector<float> q = Gaussian(1, dim, 4), l2(p.m * kPqCentroids), dot(p.m * kPqCentroids), dec(dim);
	PqTable(book.View(), q.data(), true, l2.data());
	PqTable(book.View(), q.data(), false, dot.data());
	std::vector<std::uint8_t> codes(p.m);
	for (std::size_t r = 0; r < 50; r++) {
		PqEncode(book.View(), &rows[r * dim], codes.data());
		PqDecode(book.View(), codes.data(), dec.data());
		double ref_l2 = 0, ref_dot = 0;
		for (std::size_t d = 0; d < dim; d++) {
			ref_l2 += (q[d] - dec[d]) * static_cast<double>(q[d] - dec[d]);
			ref_dot += q[d] * static_cast<double>(dec[d]);
		}
		EXPECT_NEAR(PqTableDistance(l2.data(), codes.data(), p.m), ref_l2, 1e-4 * (1 + ref_l2));
		EXPECT_NEAR(PqTableDistance(dot.data(), codes.data(), p.m), ref_dot, 1e-4 * (1 + std::fabs(ref_dot)));
	}
}

TEST(Pq, FewerRowsThanCentroidsAndDeterminism)
{
	const std::size_t dim = 8;
	std::vector<float> rows = Gaussian(40, dim, 5);
	PqParams p;
	p.dim = dim;
	p.m = 2;
	PqCodebook small = PqTrain(rows.data(), 40, p);
	// 40 rows, 40 distinct centroids per sub-space: each row is encoded exactly.
	EXPECT_LT(SquaredError(small, rows, 40), 1e-8);
	p.threads = 3;
	PqCodebook again = PqTrain(rows.data(), 40, p);
	EXPECT_EQ(small.Data(), again.Data());
	EXPECT_THROW(PqTrain(rows.data(), 0, p), Error);
}

// Ranking by table distance keeps the true nearest neighbours near the top (the re-ranking
// the index does afterwards needs them among the first candidates).
TEST(Pq, ApproximateRankingFindsNeighbours)
{
	const std::size_t n = 3000, dim = 32;
	std::vector<float> rows = Gaussian(n, dim, 6);
	PqParams p;
	p.dim = dim;
	p.m = 16;
	p.threads = 2;
	PqCodebook book = PqTrain(rows.data(), n, p);
	std::vector<std::uint8_t> codes(n * p.m);
	for (std::size_t r = 0; r < n; r++)
		PqEncode(book.View(), &rows[r * dim], &codes[r * p.m]);
	std::vector<float> table(p.m * kPqCentroids);
	int hits = 0;
	for (unsigned t = 0; t < 20; t++) {
		std::vector<float> q = Gaussian(1, dim, 100 + t);
		PqTable(book.View(), q.data(), true, table.data());
		std::vector<std::pair<float, std::size_t>> exact(n), approx(n);
		for (std::size_t r = 0; r < n; r++) {
			float e = 0;
			for (std::size_t d = 0; d < dim; d++)
				e += (q[d] - rows[r * dim + d]) * (q[d] - rows[r * dim + d]);
			exact[r] = {e, r};
			approx[r] = {PqTableDistance(table.data(), &codes[r * p.m], p.m), r};
		}
		std::partial_sort(exact.begin(), exact.begin() + 10, exact.end());
		std::partial_sort(approx.begin(), approx.begin() + 100, approx.end());
		for (std::size_t i = 0; i < 10; i++)
			for (std::size_t j = 0; j < 100; j++)
				hits += exact[i].second == approx[j].second;
	}
	EXPECT_GE(hits, 180); // of 200: the true top 10 within the approximate top 100
}

} // namespace
