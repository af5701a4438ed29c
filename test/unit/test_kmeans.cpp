#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "quiver/error.hpp"
#include "quiver/kernels.hpp"
#include "quiver/kmeans.hpp"
#include "random_rows.hpp"

using namespace quiver::core;

namespace {

// `blobs` tight Gaussian clusters around random centres far apart, rows interleaved.
std::vector<float>
Blobs(std::size_t n, std::size_t dim, std::size_t blobs, unsigned seed, std::vector<float> *truth)
{
	std::mt19937 rng(seed);
	std::uniform_real_distribution<float> u(-100.0f, 100.0f);
	std::normal_distribution<float> noise(0.0f, 0.5f);
	truth->assign(blobs * dim, 0);
	for (float &x : *truth)
		x = u(rng);
	std::vector<float> rows(n * dim);
	for (std::size_t i = 0; i < n; i++)
		for (std::size_t t = 0; t < dim; t++)
			rows[i * dim + t] = (*truth)[(i % blobs) * dim + t] + noise(rng);
	return rows;
}

std::vector<float>
Uniform(std::size_t n, std::size_t dim, unsigned seed)
{
	return quiver::test::UniformRows(n, dim, seed);
}

float
SquaredDistance(const float *a, const float *b, std::size_t d)
{
	float s = 0;
	for (std::size_t t = 0; t < d; t++)
		s += (a[t] - b[t]) * (a[t] - b[t]);
	return s;
}

TEST(Kmeans, FindsSeparatedClusters)
{
	const std::size_t n = 4000, d = 8, k = 10;
	std::vector<float> truth;
	std::vector<float> rows = Blobs(n, d, k, 1, &truth);
	KmeansParams p;
	p.k = k;
	p.dim = d;
	p.threads = 3;
	KmeansResult r = Kmeans(rows.data(), n, p);
	// Every true centre has a found centre within the noise.
	for (std::size_t b = 0; b < k; b++) {
		float best = INFINITY;
		for (std::size_t j = 0; j < k; j++)
			best = std::min(best, SquaredDistance(&truth[b * d], &r.centers[j * d], d));
		EXPECT_LT(best, 0.1f) << "blob " << b;
	}
	// Rows of one blob share one centre, and different blobs different centres.
	std::vector<std::int32_t> assign(n);
	AssignNearest(r.centers.data(), k, rows.data(), n, d, assign.data(), 2);
	std::set<std::int32_t> used;
	for (std::size_t b = 0; b < k; b++) {
		for (std::size_t i = b; i < n; i += k)
			EXPECT_EQ(assign[i], assign[b]);
		used.insert(assign[b]);
	}
	EXPECT_EQ(used.size(), k);
}

// Both bound schemes against plain Lloyd from the same seeds: the same clustering quality, far
// fewer distances.
void
ExpectLikeLloyd(std::size_t bound_memory, bool elkan, double max_share)
{
	const std::size_t n = 6000, d = 16, k = 60;
	std::vector<float> rows = Uniform(n, d, 2);
	KmeansParams p;
	p.k = k;
	p.dim = d;
	p.threads = 2;
	p.max_iterations = 30;
	p.bound_memory = bound_memory;
	KmeansResult fast = Kmeans(rows.data(), n, p);
	KmeansResult plain = KmeansLloyd(rows.data(), n, p);
	EXPECT_EQ(fast.elkan, elkan);
	EXPECT_GT(fast.iterations, 1);
	EXPECT_NEAR(fast.inertia, plain.inertia, plain.inertia * 0.01);
	EXPECT_LT(static_cast<double>(fast.distance_evaluations), static_cast<double>(plain.distance_evaluations) * max_share)
	    << fast.distance_evaluations << " vs " << plain.distance_evaluations;
	// And k-means must beat its own seeding by a clear margin.
	KmeansParams seed_only = p;
	seed_only.max_iterations = 0;
	KmeansResult seeded = KmeansLloyd(rows.data(), n, seed_only);
	EXPECT_LT(fast.inertia, seeded.inertia * 0.9);
}

// Measured on these uniform 16-dimension rows, where clusters barely separate: Elkan computes
// 11% of Lloyd's distances, Hamerly 54% (on 784-dimension fashion-mnist, 5% and 73%).
TEST(Kmeans, ElkanMatchesLloydWithFewerDistances)
{
	ExpectLikeLloyd(std::size_t{256} << 20, true, 0.3);
}

TEST(Kmeans, HamerlyMatchesLloydWithFewerDistances)
{
	ExpectLikeLloyd(0, false, 0.7);
}

TEST(Kmeans, DeterministicWhateverTheThreads)
{
	const std::size_t n = 3000, d = 12, k = 25;
	std::vector<float> rows = Uniform(n, d, 3);
	KmeansParams p;
	p.k = k;
	p.dim = d;
	p.seed = 7;
	p.threads = 1;
	KmeansResult one = Kmeans(rows.data(), n, p);
	p.threads = 4;
	KmeansResult four = Kmeans(rows.data(), n, p);
	KmeansResult again = Kmeans(rows.data(), n, p);
	EXPECT_EQ(one.centers, four.centers);
	EXPECT_EQ(four.centers, again.centers);
	p.bound_memory = 0; // Hamerly's bounds: the same clustering
	KmeansResult hamerly = Kmeans(rows.data(), n, p);
	EXPECT_FALSE(hamerly.elkan);
	EXPECT_EQ(hamerly.centers, four.centers);
	p.seed = 8;
	KmeansResult other = Kmeans(rows.data(), n, p);
	EXPECT_NE(other.centers, four.centers);
}

TEST(Kmeans, FewerDistinctRowsThanCenters)
{
	const std::size_t d = 3;
	std::vector<float> rows;
	for (int i = 0; i < 10; i++)
		rows.insert(rows.end(), {1, 2, 3});
	KmeansParams p;
	p.k = 5;
	p.dim = d;
	KmeansResult r = Kmeans(rows.data(), 10, p);
	for (std::size_t j = 0; j < p.k; j++)
		EXPECT_EQ(SquaredDistance(&r.centers[j * d], rows.data(), d), 0.0f);

	for (int i = 0; i < 10; i++)
		rows.insert(rows.end(), {4, 5, 6});
	p.k = 10;
	r = Kmeans(rows.data(), 20, p);
	int at_first = 0, at_second = 0;
	for (std::size_t j = 0; j < p.k; j++) {
		at_first += SquaredDistance(&r.centers[j * d], &rows[0], d) == 0;
		at_second += SquaredDistance(&r.centers[j * d], &rows[30], d) == 0;
	}
	EXPECT_GT(at_first, 0);
	EXPECT_GT(at_second, 0);
	EXPECT_EQ(at_first + at_second, 10);
	EXPECT_EQ(r.inertia, 0.0);
}

TEST(Kmeans, EachRowItsOwnCenterWhenKEqualsN)
{
	std::vector<float> rows = {0, 0, 0, 1, 2, 3, 1, 1, 1};
	KmeansParams p;
	p.k = 3;
	p.dim = 3;
	KmeansResult r = Kmeans(rows.data(), 3, p);
	for (std::size_t i = 0; i < 3; i++) {
		bool found = false;
		for (std::size_t j = 0; j < 3; j++)
			found |= SquaredDistance(&rows[i * 3], &r.centers[j * 3], 3) == 0;
		EXPECT_TRUE(found) << "row " << i;
	}
}

TEST(Kmeans, SphericalCentersAreUnitVectors)
{
	const std::size_t n = 2000, d = 10, k = 16;
	std::vector<float> rows = Uniform(n, d, 4);
	for (std::size_t i = 0; i < n; i++) {
		float *x = &rows[i * d];
		for (std::size_t t = 0; t < d; t++)
			x[t] -= 0.5f;
		float norm = std::sqrt(SquaredDistance(x, std::vector<float>(d, 0).data(), d));
		for (std::size_t t = 0; t < d; t++)
			x[t] /= norm;
	}
	KmeansParams p;
	p.k = k;
	p.dim = d;
	p.spherical = true;
	KmeansResult r = Kmeans(rows.data(), n, p);
	for (std::size_t j = 0; j < k; j++) {
		double norm = 0;
		for (std::size_t t = 0; t < d; t++)
			norm += static_cast<double>(r.centers[j * d + t]) * r.centers[j * d + t];
		EXPECT_NEAR(norm, 1.0, 1e-5);
	}
}

TEST(Kmeans, RejectsBadParameters)
{
	std::vector<float> rows = Uniform(10, 2, 5);
	KmeansParams p;
	p.dim = 2;
	p.k = 0;
	EXPECT_THROW(Kmeans(rows.data(), 10, p), Error);
	p.k = 11;
	EXPECT_THROW(Kmeans(rows.data(), 10, p), Error);
	p.k = 2;
	p.dim = 0;
	EXPECT_THROW(Kmeans(rows.data(), 10, p), Error);
}

TEST(Kmeans, AssignNearestMatchesBruteForce)
{
	const std::size_t n = 1000, d = 7, k = 13;
	std::vector<float> rows = Uniform(n, d, 6), centers = Uniform(k, d, 7);
	std::vector<std::int32_t> assign(n);
	AssignNearest(centers.data(), k, rows.data(), n, d, assign.data(), 3);
	for (std::size_t i = 0; i < n; i++) {
		std::size_t best = 0;
		for (std::size_t j = 1; j < k; j++)
			if (SquaredDistance(&rows[i * d], &centers[j * d], d) < SquaredDistance(&rows[i * d], &centers[best * d], d))
				best = j;
		EXPECT_EQ(assign[i], static_cast<std::int32_t>(best));
	}
}

TEST(KmeansJob, RunsToCompletionAndStops)
{
	const std::size_t n = 5000, d = 8;
	std::vector<float> rows = Uniform(n, d, 8);
	KmeansParams p;
	p.k = 40;
	p.dim = d;
	p.threads = 2;
	KmeansJob job(rows.data(), n, p);
	job.Start();
	while (!job.WaitFor(10)) {
	}
	job.Join();
	EXPECT_GT(job.Done(), 0u);
	EXPECT_EQ(job.Result().centers.size(), p.k * d);
	EXPECT_EQ(job.Result().centers, Kmeans(rows.data(), n, p).centers);

	p.max_iterations = 1000;
	std::vector<float> big = Uniform(50000, 32, 9);
	p.dim = 32;
	p.k = 500;
	KmeansJob stopped(big.data(), 50000, p);
	stopped.Start();
	stopped.RequestStop();
	while (!stopped.WaitFor(10)) {
	}
	stopped.Join(); // promptly, with no error
	EXPECT_LT(stopped.Done(), 1000u);
}

} // namespace
