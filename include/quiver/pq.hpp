#include "quiver/core_only.hpp"
// Product quantization (PQ), for IVF lists compressed to one byte per sub-vector.
//
// A row of `dim` floats is cut into m contiguous sub-vectors (sizes differing by at most one,
// the longer ones first); each sub-space has a codebook of 256 centroids learnt by k-means on
// sample rows, and a row is stored as the index of the nearest centroid in each sub-space:
// m bytes. A query is compared with codes through a table of its distance (squared L2, or dot
// product) to every centroid of every sub-space, m * 256 floats, after which a row's
// approximate distance is m table lookups and adds. Callers usually encode residuals (a row
// minus its list's centre), which are smaller and better quantized.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "quiver/parallel_for.hpp"

namespace quiver::core {

inline constexpr std::size_t kPqCentroids = 256;

struct PqParams {
	std::size_t dim = 0;
	std::size_t m = 0; // sub-vectors, 1..dim
	int iterations = 20;
	int threads = 1;
	std::uint64_t seed = 42;
	// Rows each sub-space's k-means trains on at most (evenly spaced over the given rows): 64
	// per centroid is plenty for 256 centroids of a few dimensions, and training time grows
	// with it.
	std::size_t max_train_rows = kPqCentroids * 64;
};

// A codebook's centroids without owning them (trivially destructible, so extension code can
// hold one across calls into PostgreSQL): sub-space after sub-space, kPqCentroids * dim floats.
struct PqView {
	std::size_t dim;
	std::size_t m;
	const float *data;

	// Sub-vector j covers dimensions [Offset(j), Offset(j + 1)); the first dim % m are one longer.
	std::size_t
	Offset(std::size_t j) const noexcept
	{
		std::size_t base = dim / m, extra = dim % m;
		return j * base + (j < extra ? j : extra);
	}
	const float *
	Centroid(std::size_t j, std::size_t c) const noexcept
	{
		return data + kPqCentroids * Offset(j) + c * (Offset(j + 1) - Offset(j));
	}
};

class PqCodebook {
  public:
	PqCodebook() = default;
	PqCodebook(std::size_t dim, std::size_t m);

	std::size_t
	Dim() const noexcept
	{
		return dim_;
	}
	std::size_t
	M() const noexcept
	{
		return m_;
	}
	// Sub-vector j covers dimensions [Offset(j), Offset(j + 1)).
	std::size_t Offset(std::size_t j) const noexcept;
	// Centroid c of sub-space j: Offset(j + 1) - Offset(j) floats.
	const float *Centroid(std::size_t j, std::size_t c) const noexcept;
	float *Centroid(std::size_t j, std::size_t c) noexcept;
	// All centroids, sub-space after sub-space: kPqCentroids * dim floats (for storage).
	const std::vector<float> &
	Data() const noexcept
	{
		return data_;
	}
	std::vector<float> &
	Data() noexcept
	{
		return data_;
	}
	PqView
	View() const noexcept
	{
		return PqView{dim_, m_, data_.data()};
	}

  private:
	std::size_t dim_ = 0;
	std::size_t m_ = 0;
	std::vector<float> data_;
};

// Learns the codebooks from n rows (n >= 1; with fewer than 256 distinct sub-rows some centroids
// repeat). `stop` (optional) is polled between sub-spaces and inside k-means. Throws
// Error(DataException) for m == 0, m > dim or n == 0.
PqCodebook PqTrain(const float *rows, std::size_t n, const PqParams &params, const std::atomic<bool> *stop = nullptr,
                   std::atomic<std::size_t> *progress = nullptr);

// The codes of one row (m bytes): the nearest centroid of each sub-space (the first of equals).
void PqEncode(const PqView &book, const float *x, std::uint8_t *codes) noexcept;

// An upper bound of the distance between x and the row its codes stand for (rounded up from a
// double computation), for the index's exact-order guarantee.
float PqError(const PqView &book, const float *x, const std::uint8_t *codes) noexcept;

// The row the codes stand for (dim floats).
void PqDecode(const PqView &book, const std::uint8_t *codes, float *out) noexcept;

// The query's table (m * kPqCentroids floats): squared L2 distance (l2 = true) or dot product
// of each sub-vector of q to each centroid.
void PqTable(const PqView &book, const float *q, bool l2, float *table) noexcept;

// PqTrain on a worker thread, for an owner that must stay responsive (BackgroundTask); Done and
// Total count sub-spaces. rows must outlive the task.
class PqTrainJob : public BackgroundTask<PqCodebook> {
  public:
	PqTrainJob(const float *rows, std::size_t n, const PqParams &params)
	    : BackgroundTask(params.m, [rows, n, params](const std::atomic<bool> *stop, std::atomic<std::size_t> *progress) {
		      return PqTrain(rows, n, params, stop, progress);
	      })
	{
	}
};

// The approximate distance (or dot product) of the table's query to a row's codes: the sum of
// one table entry per sub-space.
float PqTableDistance(const float *table, const std::uint8_t *codes, std::size_t m) noexcept;

} // namespace quiver::core
