#include "quiver/core_only.hpp"
// k-means for IVF indexes: k-means++ seeding, then Lloyd iterations accelerated by bounds
// from the triangle inequality, which let a row skip centres that cannot be nearer than its
// own: Elkan's (a lower bound per row and centre) when they fit KmeansParams::bound_memory,
// else Hamerly's (one lower bound per row); spread over several threads.
//
// The data are float32 rows. Euclidean k-means serves L2 directly; `spherical` serves inner
// product and cosine (rows and centres on the unit sphere, where the nearest centre by
// Euclidean distance is the one of largest dot product); bit strings are trained as rows of
// 0/1 floats (squared Euclidean distance between them is the Hamming distance) and the
// caller rounds the centres.
//
// Deterministic: the same data, k, seed and max_iterations give the same centres whatever
// the number of threads (each centre's mean is summed over its members in row order).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "quiver/parallel_for.hpp"

namespace quiver::core {

struct KmeansParams {
	std::size_t k = 0;
	std::size_t dim = 0;
	bool spherical = false; // rows are unit vectors and centres are kept on the unit sphere
	int max_iterations = 20;
	int threads = 1;
	std::uint64_t seed = 42;
	// Bytes the per-row bounds may take: Elkan's bounds (n * k + k * k floats), which skip far
	// more distances in many dimensions, when they fit; else Hamerly's (2 n floats).
	std::size_t bound_memory = std::size_t{256} << 20;
};

struct KmeansResult {
	std::vector<float> centers; // k * dim
	int iterations = 0;         // Lloyd iterations run
	double inertia = 0;         // sum over rows of squared distance to their centre
	std::size_t distance_evaluations = 0; // row-centre distances computed in the iterations
	double seed_seconds = 0;              // k-means++ seeding
	double iterate_seconds = 0;           // the iterations (and the final centres)
	bool elkan = false;                   // Elkan's bounds were used (else Hamerly's)
};

// Clusters n rows of dim floats into k centres (k <= n required; with fewer distinct rows than
// k, the extra centres duplicate rows). Stops early when no row changes its centre. `stop`
// (optional) is polled between chunks of work: when set, returns promptly with what it has.
// `progress` (optional) counts finished iterations. Throws Error(DataException) on k == 0,
// k > n or dim == 0.
KmeansResult Kmeans(const float *rows, std::size_t n, const KmeansParams &params,
                    const std::atomic<bool> *stop = nullptr, std::atomic<std::size_t> *progress = nullptr);

// Plain Lloyd iterations from the same seeding, without bounds: the reference the tests and
// benchmarks compare Kmeans against.
KmeansResult KmeansLloyd(const float *rows, std::size_t n, const KmeansParams &params);

// The index of the nearest of k centres to one row (squared Euclidean distance; the first of
// equals).
std::int32_t NearestCenter(const float *centers, std::size_t k, const float *row, std::size_t dim);

// NearestCenter for each of n rows, computed on `threads` threads.
void AssignNearest(const float *centers, std::size_t k, const float *rows, std::size_t n, std::size_t dim,
                   std::int32_t *out, int threads);

// Kmeans on a worker thread, for an owner that must stay responsive (BackgroundTask); Done and
// Total count iterations. rows must outlive the task.
class KmeansJob : public BackgroundTask<KmeansResult> {
  public:
	KmeansJob(const float *rows, std::size_t n, const KmeansParams &params)
	    : BackgroundTask(static_cast<std::size_t>(params.max_iterations),
	                     [rows, n, params](const std::atomic<bool> *stop, std::atomic<std::size_t> *progress) {
		                     return Kmeans(rows, n, params, stop, progress);
	                     })
	{
	}
};

} // namespace quiver::core
