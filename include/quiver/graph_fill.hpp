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
#include <utility>
#include <vector>

#include "quiver/hnsw_builder.hpp"

namespace quiver::core {

// How many edges the reachability repairs (LinkUnreachable here, VACUUM's page-level repair)
// take from one node's list of `width` slots before looking for another host: an eighth. Without
// a cap, unreached nodes crowd onto one hub, which gives up all its edges and becomes a dead
// end (recall@10 at ef_search 40 on skewed sparse rows: 0.867 uncapped, 0.951 to 0.956 capped).
constexpr std::size_t
MaxEdgesGivenUp(std::size_t width) noexcept
{
	return width / 8 > 1 ? width / 8 : 1;
}

class BaseLayerFill {
  public:
	// Distances come from the graph's own vector copies; graph must outlive this object.
	// second_hop_sources: through how many of a node's first neighbours (list order) their own
	// neighbours are taken as candidates (0: all of them).
	explicit BaseLayerFill(HnswBuilder &graph, std::size_t second_hop_sources = 8);

	// Bytes Prepare and the fills will allocate for n elements with parameter m.
	static std::size_t EstimateMemory(std::size_t n, int m);

	void Prepare();

	// How many candidates ahead FillRange starts loading a vector (see FillRange).
	static constexpr std::size_t kFillPrefetchAhead = 8;
	// Computes the extra neighbours of ids [begin, end). Thread-safe for disjoint ranges.
	void FillRange(std::size_t begin, std::size_t end);

	// After the fills: makes every node reachable from `entry` on the base level. HNSW graphs
	// can leave nodes without incoming edges (on glove 200k, 4; on sparse rows sharing few
	// indices, thousands); each such node becomes an extra neighbour of a near reachable node
	// that has room, or else takes the place of one of that node's neighbours that the node is
	// not the only way to (so no other node is cut off; this may change the graph's own lists,
	// see HnswBuilder::ReplaceNeighbor). Hosts come from a search over the reachable nodes
	// (kHostSearchWidth wide, wider when none qualifies), not from all of them, so the cost
	// grows with the number of unreached nodes times one search's. A node gives up its farthest
	// edges, at most an eighth of its list unless no other host can be found. Single thread.
	// Returns how many nodes were linked.
	static constexpr std::size_t kHostSearchWidth = 16;
	// When no search finds a host, an exhaustive search over every reachable node, at most
	// this many times per round.
	static constexpr std::size_t kExhaustivePerRound = 64;
	std::size_t LinkUnreachable(std::uint32_t entry);
	static constexpr int kLinkRounds = 8; // one is the rule; later ones confirm it
	// How many nodes the last LinkUnreachable left unreachable (0 unless searches found no host).
	std::size_t Unreached() const noexcept { return unreached_; }

	// The extra neighbours of id (after FillRange covered it), nearest first.
	NeighborList Extra(std::uint32_t id) const noexcept;

  private:
	struct Host {
		enum Kind { None, Holds, Room, Replace } kind;
		std::uint32_t id;
		std::size_t slot; // Replace: the slot given up, own list first, then extras
	};
	// Marks what queue[from..] reach through base-level lists (own and extra) as reached,
	// appending each to queue with the node that reached it first as its parent.
	void Walk(std::vector<std::uint32_t> &queue, std::size_t from, std::vector<bool> &reached,
	          std::vector<std::uint32_t> &parent) const;
	// The ef nearest nodes to v found by a best-first search that starts from `starts` and
	// steps through reached nodes only (own and extra lists), nearest first, into out.
	void SearchReached(const float *v, const std::vector<std::uint32_t> &starts, const std::vector<bool> &reached,
	                   std::size_t ef, std::vector<std::pair<float, std::uint32_t>> &out);
	// Where unreached node u gets its incoming edge, among `found` (nearest first); with
	// `share`, only from nodes that gave up fewer edges than their share.
	Host ChooseHost(std::size_t u, const std::vector<std::pair<float, std::uint32_t>> &found,
	                const std::vector<std::uint32_t> &parent, bool share = true) const;

	HnswBuilder &graph_;
	std::size_t n_;
	std::size_t slots_; // 2m
	std::size_t second_hop_sources_;
	std::vector<std::uint32_t> rev_start_;
	std::vector<std::uint32_t> rev_;
	std::vector<std::uint32_t> extra_;       // slots_ per id
	std::vector<std::uint8_t> extra_count_;  // per id
	std::vector<std::uint32_t> visit_mark_;  // SearchReached's visited set: marked = visit_stamp_
	std::uint32_t visit_stamp_ = 0;
	std::vector<std::uint16_t> given_up_; // per id: edges LinkUnreachable took from its list
	std::size_t unreached_ = 0;
};

} // namespace quiver::core

#include "quiver/core_only.hpp"
