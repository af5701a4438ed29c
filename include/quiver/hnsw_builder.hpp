// HNSW graph construction in memory, for bulk index builds.
//
// hnswlib (Debian's 0.6.2) does the work; this class is the only door to it. Its headers
// define non-inline globals, so exactly one translation unit (src/core/hnsw_builder.cpp) may
// include them, and nothing of hnswlib shows through this header.
//
// Ids. The caller gives every vector a label: its own element index, 0..max_elements-1, each
// used once. hnswlib numbers elements internally 0..Size()-1 in the order their insertion
// began; that equals the label order only for a single-threaded build that adds labels in
// ascending order. The read-out (Level, Neighbors, EntryPoint) speaks internal ids, because
// that is what the graph stores and reading it costs nothing; Label(id) translates one id.
// A writer of index pages therefore walks internal ids 0..Size()-1, assigns each a position,
// and maps every neighbour id through a table indexed by internal id.
//
// Errors. Invalid parameters and caller mistakes throw quiver::core::Error; errors raised by
// hnswlib become Error(ErrorCode::Internal), except its "Not enough memory", which becomes
// std::bad_alloc like any other allocation failure. The glue catches all of it at its boundary.
// After Add has thrown, the graph may hold a half-linked element: discard the builder.
//
// Threads. Add may run on several threads at once (distinct labels); everything else must not
// run concurrently with Add. Search may not run concurrently with another Search either (it
// sets hnswlib's ef). The read-out functions may run concurrently with each other.
//
// Determinism. A single-threaded build with a fixed seed and a fixed insertion order always
// produces the same graph. A multi-threaded build does not: insertion order depends on
// scheduling, and hnswlib's level generator is shared by all threads without a lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "quiver/metric.hpp"

namespace quiver::core {

// What the builder accepts. The SQL layer is stricter (reloption bounds, page-size limits).
inline constexpr int kHnswBuilderMaxDim = 65535;
// hnswlib 0.6.2 silently caps M at 10000 (printing to stderr); refuse instead of capping.
inline constexpr int kHnswBuilderMinM = 2;
inline constexpr int kHnswBuilderMaxM = 10000;
// Internal ids are 32-bit and hnswlib sizes its visited lists with an int.
inline constexpr std::size_t kHnswBuilderMaxElements = 2147483647;

struct HnswBuildParams {
	int dim;             // 1..kHnswBuilderMaxDim
	int m;               // kHnswBuilderMinM..kHnswBuilderMaxM; level 0 keeps up to 2m neighbours
	int ef_construction; // >= 1 (hnswlib uses at least m)
	Metric metric;
	std::size_t max_elements; // 1..kHnswBuilderMaxElements; labels must be below it
	std::uint64_t seed = 100; // hnswlib's level generator
	// Sparse vectors: each added "vector" is then dim = 2 floats' worth of bytes holding a
	// `const void *` to a packed sparse vector (sparse.hpp) that must outlive the builder.
	// Metrics L2, InnerProduct, Cosine and L1 only.
	bool sparse = false;
	// Dense L2, inner product, cosine and L1 only: the graph keeps its vector copies as halves,
	// each value multiplied by half_scale (a power of two, so exactly) on the way in. Half the
	// bytes per distance; the distances are then those of the scaled, rounded vectors (times
	// half_scale^2 for L2 and inner product, half_scale for L1), the same order up to rounding.
	// The caller picks half_scale so that the values fit the half range (HalfScaleFor).
	bool half = false;
	float half_scale = 1.0f;
	// Link as the page insert path does (see mutuallyConnectNewElement in hnsw_builder.cpp):
	// full lists during the build instead of hnswlib's diverse-only ones. Costs build time (1.6x
	// at m 8 on glove, 3x at m 16) and repays it at small m, where short lists starve the build's
	// own searches (glove m 8: recall@10 at ef_search 40 0.72 without, 0.76 with).
	bool dense_links = false;
};

// A power of two that brings max_abs (the largest |value| of the vectors) to between 2^13 and
// 2^14, where halves keep 11 significant bits with room to spare below their 65504; 1 for
// zero (or a non-finite max_abs); at most 2^126 for the tiniest.
float HalfScaleFor(float max_abs) noexcept;

// A view of one neighbour list inside the builder, valid until the builder is destroyed or
// another Add runs. Holds internal ids.
struct NeighborList {
	const std::uint32_t *ids;
	std::size_t count;

	const std::uint32_t *
	begin() const noexcept
	{
		return ids;
	}
	const std::uint32_t *
	end() const noexcept
	{
		return ids + count;
	}
};

class HnswBuilder {
  public:
	// Validates params (Error DataException / LimitExceeded), then allocates hnswlib's fixed
	// structures for max_elements at once (see EstimateMemory). The distance kernels are those
	// of ActiveKernels() at this moment: scalar until InitKernels has run.
	explicit HnswBuilder(const HnswBuildParams &params);
	~HnswBuilder();
	HnswBuilder(const HnswBuilder &) = delete;
	HnswBuilder &operator=(const HnswBuilder &) = delete;

	// Throws Error (DataException / LimitExceeded) when the builder would refuse params.
	static void Validate(const HnswBuildParams &params);

	// Bytes hnswlib (plus this wrapper) will have allocated once max_elements vectors were added
	// by `threads` threads, for comparing with maintenance_work_mem before starting; excludes
	// the caller's copy of the input vectors. Validates params like the constructor. The
	// formula is in src/core/hnsw_builder.cpp; for dim 100, m 16 it is about 650 bytes per
	// element (540 of them the level-0 record) plus 2.6 MB; glibc's malloc statistics after
	// building 200,000 such vectors on 2 threads were within 0.5% of it.
	static std::size_t EstimateMemory(const HnswBuildParams &params, int threads = 1);

	const HnswBuildParams &Params() const noexcept;

	// Inserts vec (dim floats, copied) under label. Throws Error(LimitExceeded) when label >=
	// max_elements and Error(Internal) when the label was already added; hnswlib's errors as
	// described above; std::bad_alloc. Safe to call from several threads with distinct labels.
	void Add(const float *vec, std::uint32_t label);

	// The distance the graph is built with ("smaller is closer", see metric.hpp). Cosine with a
	// zero vector on either side is 1 (as if orthogonal): finite, so the graph stays usable,
	// and neutral. A NaN from overflowing sums (e.g. inf - inf) becomes +infinity (farthest),
	// because hnswlib's heaps must never see a NaN.
	float Distance(const float *a, const float *b) const noexcept;

	// Read-out, valid once no Add is running. Ids are internal ids (see the top of this file).

	// Elements in the graph, including one whose Add failed half-way.
	std::size_t Size() const noexcept;
	// The entry point's internal id, -1 while the graph is empty.
	std::int64_t EntryPoint() const noexcept;
	// The entry point's level, -1 while the graph is empty.
	int MaxLevel() const noexcept;
	// An element's top level (0 = only the base layer). Throws Error(Internal) for id >= Size().
	int Level(std::uint32_t id) const;
	// The label the element was added with. Throws Error(Internal) for id >= Size().
	std::uint32_t Label(std::uint32_t id) const;
	// The graph's own copy of the element's vector (dim floats, or with params.half dim halves
	// scaled: only for Distance then; next to its base-level list in memory, so reading it
	// after the list costs no further cache miss). Not checked: id must be below Size().
	const float *Vector(std::uint32_t id) const noexcept;
	// Starts loading every cache line of Vector(id) (a hardware prefetch of its start alone
	// leaves the rest of a 400-byte vector to miss when the distance reads it).
	void PrefetchVector(std::uint32_t id) const noexcept;
	// Starts loading the element's base-level list. Not checked: id must be below Size().
	void PrefetchBaseNeighbors(std::uint32_t id) const noexcept;
	// The element's neighbours on one level: at most 2m on level 0, m above, never itself.
	// Throws Error(Internal) for id >= Size() or a level outside 0..Level(id).
	NeighborList Neighbors(std::uint32_t id, int level) const;
	// Points slot `slot` of the element's base-level list to `to` instead (the repair after the
	// build). Once no Add is running. Throws Error(Internal) for ids >= Size(), a slot beyond
	// the list, to == id, or a `to` the list already holds.
	void ReplaceNeighbor(std::uint32_t id, std::size_t slot, std::uint32_t to);

	// The k nearest labels to q with their distances, nearest first, searching with ef
	// candidates (at least k). For tests and benchmarks: not concurrently with Add or another
	// Search. Throws like Add.
	std::vector<std::pair<float, std::uint32_t>> Search(const float *q, std::size_t k, std::size_t ef) const;

	// For tests: how many of the calling thread's insertion searches (one per level below an
	// element's first) started from the candidates of the level above, since the thread began.
	static std::uint64_t SeededSearchesOnThisThread() noexcept;

  private:
	struct Impl;
	std::unique_ptr<Impl> impl_;
};

} // namespace quiver::core

#include "quiver/core_only.hpp"
