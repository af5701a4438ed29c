// Extra base-level neighbours for a graph built by HnswBuilder.
//
// hnswlib keeps only the neighbours its diversity heuristic selects, often far fewer than the
// 2m a base-level list may hold. Short lists cost recall at a given search width, and leave
// low-dimensional or clustered data poorly connected. This fills each short list with the
// nearest of two kinds of candidates: nodes that chose this node (making those edges two-way)
// and the node's neighbours' neighbours; the effect of keeping pruned connections, which
// hnswlib 0.6.2 cannot do, at one distance per candidate.
//
// Prepare builds the reverse lists once (single thread); FillRange may then run on several
// threads for disjoint id ranges (ParallelFor). Ids are the builder's internal ids.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "quiver/hnsw_builder.hpp"

namespace quiver::core {

class BaseLayerFill {
  public:
	// Distances come from the graph's own vector copies; graph must outlive this object.
	// second_hop_sources: through how many of a node's nearest neighbours their own
	// neighbours are taken as candidates (0: all of them).
	explicit BaseLayerFill(const HnswBuilder &graph, std::size_t second_hop_sources = 8);

	// Bytes Prepare and the fills will allocate for n elements with parameter m.
	static std::size_t EstimateMemory(std::size_t n, int m);

	void Prepare();

	// Computes the extra neighbours of ids [begin, end). Thread-safe for disjoint ranges.
	void FillRange(std::size_t begin, std::size_t end);

	// After the fills: makes every node reachable from `entry` on the base level. HNSW graphs
	// can leave a few nodes without incoming edges (on glove 200k, 4); each such node becomes an
	// extra neighbour of its nearest reachable node that has room, or else replaces that node's
	// farthest extra neighbour (re-checked, so no other node is cut off). Single thread.
	// Returns how many nodes were linked. At most kLinkPerRound per round (8 rounds), as the
	// search for a host is exhaustive: a graph with thousands of unreached nodes (seen on
	// 1,000-dimension data with 30 non-zeros per vector: 2,400 of 10,000) is only partly
	// repaired (the checker reports the rest).
	static constexpr std::size_t kLinkPerRound = 256;
	std::size_t LinkUnreachable(std::uint32_t entry);

	// The extra neighbours of id (after FillRange covered it), nearest first.
	NeighborList Extra(std::uint32_t id) const noexcept;

  private:
	const HnswBuilder &graph_;
	std::size_t n_;
	std::size_t slots_; // 2m
	std::size_t second_hop_sources_;
	std::vector<std::uint32_t> rev_start_;
	std::vector<std::uint32_t> rev_;
	std::vector<std::uint32_t> extra_;       // slots_ per id
	std::vector<std::uint8_t> extra_count_;  // per id
};

} // namespace quiver::core

#include "quiver/core_only.hpp"
