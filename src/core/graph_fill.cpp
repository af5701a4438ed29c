#include "quiver/graph_fill.hpp"

#include <algorithm>
#include <utility>

namespace quiver::core {


BaseLayerFill::BaseLayerFill(const HnswBuilder &graph, std::size_t second_hop_sources)
    : graph_(graph), n_(graph.Size()), slots_(2 * static_cast<std::size_t>(graph.Params().m)),
      second_hop_sources_(second_hop_sources)
{
}

std::size_t
BaseLayerFill::EstimateMemory(std::size_t n, int m)
{
	std::size_t slots = 2 * static_cast<std::size_t>(m);
	// reverse offsets and ids (at most `slots` edges per node), the extra lists and counts
	return (n + 1) * 4 + n * slots * 4 + n * slots * 4 + n;
}

void
BaseLayerFill::Prepare()
{
	rev_start_.assign(n_ + 1, 0);
	for (std::size_t id = 0; id < n_; id++) {
		for (std::uint32_t to : graph_.Neighbors(static_cast<std::uint32_t>(id), 0))
			rev_start_[to + 1]++;
	}
	for (std::size_t id = 0; id < n_; id++)
		rev_start_[id + 1] += rev_start_[id];
	rev_.resize(rev_start_[n_]);
	std::vector<std::uint32_t> fill(rev_start_.begin(), rev_start_.end() - 1);
	for (std::size_t id = 0; id < n_; id++) {
		for (std::uint32_t to : graph_.Neighbors(static_cast<std::uint32_t>(id), 0))
			rev_[fill[to]++] = static_cast<std::uint32_t>(id);
	}
	extra_.assign(n_ * slots_, 0);
	extra_count_.assign(n_, 0);
}

void
BaseLayerFill::FillRange(std::size_t begin, std::size_t end)
{
	std::vector<std::uint32_t> cands;
	std::vector<std::pair<float, std::uint32_t>> ranked;
	for (std::size_t id = begin; id < end; id++) {
		NeighborList own = graph_.Neighbors(static_cast<std::uint32_t>(id), 0);
		if (own.count >= slots_)
			continue;

		cands.clear();
		cands.insert(cands.end(), rev_.begin() + rev_start_[id], rev_.begin() + rev_start_[id + 1]);
		// Neighbours' neighbours through the nearest few neighbours only (hnswlib keeps a list
		// nearest first): the far ones add many candidates and few chosen ones.
		std::size_t hops = second_hop_sources_ == 0 ? own.count : std::min(own.count, second_hop_sources_);
		for (std::size_t k = 0; k < hops; k++) {
			NeighborList second = graph_.Neighbors(own.ids[k], 0);
			cands.insert(cands.end(), second.begin(), second.end());
		}
		std::sort(cands.begin(), cands.end());
		cands.erase(std::unique(cands.begin(), cands.end()), cands.end());

		// The graph's own vector copies, not the caller's array: each sits next to data the
		// candidate search just touched, and all the candidates' misses are started first.
		const float *self = graph_.Vector(static_cast<std::uint32_t>(id));
		ranked.clear();
		for (std::uint32_t c : cands)
			__builtin_prefetch(graph_.Vector(c));
		for (std::uint32_t c : cands) {
			if (c == id || std::find(own.begin(), own.end(), c) != own.end())
				continue;
			ranked.emplace_back(graph_.Distance(self, graph_.Vector(c)), c);
		}
		std::size_t room = std::min(slots_ - own.count, ranked.size());
		std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(room), ranked.end());
		for (std::size_t i = 0; i < room; i++)
			extra_[id * slots_ + i] = ranked[i].second;
		extra_count_[id] = static_cast<std::uint8_t>(room);
	}
}

NeighborList
BaseLayerFill::Extra(std::uint32_t id) const noexcept
{
	return NeighborList{extra_.data() + static_cast<std::size_t>(id) * slots_, extra_count_[id]};
}

} // namespace quiver::core

#include "quiver/core_only.hpp"
