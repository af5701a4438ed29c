#include "quiver/graph_fill.hpp"

#include <algorithm>
#include <utility>

namespace quiver::core {

BaseLayerFill::BaseLayerFill(const HnswBuilder &graph, const float *vectors, std::size_t stride)
    : graph_(graph), vectors_(vectors), stride_(stride), n_(graph.Size()),
      slots_(2 * static_cast<std::size_t>(graph.Params().m))
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
		for (std::uint32_t nb : own) {
			NeighborList second = graph_.Neighbors(nb, 0);
			cands.insert(cands.end(), second.begin(), second.end());
		}
		std::sort(cands.begin(), cands.end());
		cands.erase(std::unique(cands.begin(), cands.end()), cands.end());

		const float *self = vectors_ + static_cast<std::size_t>(graph_.Label(static_cast<std::uint32_t>(id))) * stride_;
		ranked.clear();
		for (std::uint32_t c : cands) {
			if (c == id || std::find(own.begin(), own.end(), c) != own.end())
				continue;
			const float *other = vectors_ + static_cast<std::size_t>(graph_.Label(c)) * stride_;
			ranked.emplace_back(graph_.Distance(self, other), c);
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
