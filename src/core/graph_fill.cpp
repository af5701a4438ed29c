#include "quiver/graph_fill.hpp"

#include <algorithm>
#include <utility>

namespace quiver::core {

namespace {

bool
Holds(const NeighborList &list, std::size_t id)
{
	return std::find(list.begin(), list.end(), static_cast<std::uint32_t>(id)) != list.end();
}

} // namespace


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

std::size_t
BaseLayerFill::LinkUnreachable(std::uint32_t entry)
{
	std::size_t linked = 0;
	// Each round links every node the round's search did not reach; a replaced extra edge can
	// cut off another node, which the next round finds. Bounded, though one round is the rule.
	for (int round = 0; round < 8 && entry < n_; round++) {
		std::vector<bool> reached(n_, false);
		std::vector<std::uint32_t> queue{entry};
		reached[entry] = true;
		for (std::size_t head = 0; head < queue.size(); head++) {
			std::uint32_t id = queue[head];
			for (const NeighborList &list : {graph_.Neighbors(id, 0), Extra(id)}) {
				for (std::uint32_t to : list) {
					if (!reached[to]) {
						reached[to] = true;
						queue.push_back(to);
					}
				}
			}
		}
		if (queue.size() == n_)
			break;
		// The search for a host is exhaustive, so a pathological graph with many unreached
		// nodes is only partly repaired (kLinkPerRound per round) rather than taking minutes.
		std::size_t this_round = 0;
		// A host gives up its farthest extra edge only when the node it points to keeps another
		// incoming edge from a reached node, so that no node is cut off in turn.
		std::vector<std::uint32_t> indegree(n_, 0);
		for (std::size_t id = 0; id < n_; id++) {
			if (!reached[id])
				continue;
			for (const NeighborList &list : {graph_.Neighbors(static_cast<std::uint32_t>(id), 0),
			                                 Extra(static_cast<std::uint32_t>(id))})
				for (std::uint32_t to : list)
					indegree[to]++;
		}
		for (std::size_t u = 0; u < n_ && this_round < kLinkPerRound; u++) {
			if (reached[u])
				continue;
			this_round++;
			// Its nearest reachable node with room for one more edge (own + extra below 2m), or
			// failing that with an extra edge to give up: exhaustive, since there are few.
			const float *uv = graph_.Vector(static_cast<std::uint32_t>(u));
			std::int64_t best_room = -1, best_any = -1;
			float d_room = 0, d_any = 0;
			bool held = false;
			for (std::size_t r = 0; r < n_ && !held; r++) {
				if (!reached[r])
					continue;
				float d = graph_.Distance(uv, graph_.Vector(static_cast<std::uint32_t>(r)));
				std::size_t used = graph_.Neighbors(static_cast<std::uint32_t>(r), 0).count + extra_count_[r];
				bool room = used < slots_ && (best_room < 0 || d < d_room);
				bool any = extra_count_[r] > 0 && indegree[extra_[r * slots_ + extra_count_[r] - 1]] >= 2 &&
				           (best_any < 0 || d < d_any);
				// A node linked earlier this round counts as reached without its own lists being
				// walked, so it may already point to u (with equal vectors a whole unreached group
				// points at each other): then u is reached through it, and giving it u again
				// would repeat a neighbour. Checked only for a would-be host.
				if ((room || any) && (Holds(graph_.Neighbors(static_cast<std::uint32_t>(r), 0), u) ||
				                      Holds(Extra(static_cast<std::uint32_t>(r)), u))) {
					held = true;
					break;
				}
				if (room) {
					best_room = static_cast<std::int64_t>(r);
					d_room = d;
				}
				if (any) {
					best_any = static_cast<std::int64_t>(r);
					d_any = d;
				}
			}
			if (held) {
				reached[u] = true;
				continue;
			}
			if (best_room >= 0) {
				std::size_t r = static_cast<std::size_t>(best_room);
				extra_[r * slots_ + extra_count_[r]] = static_cast<std::uint32_t>(u);
				extra_count_[r]++;
				indegree[u]++;
			} else if (best_any >= 0) {
				std::size_t r = static_cast<std::size_t>(best_any);
				std::uint32_t &slot = extra_[r * slots_ + extra_count_[r] - 1];
				indegree[slot]--;
				slot = static_cast<std::uint32_t>(u);
				indegree[u]++;
			} else {
				continue; // no reachable node can take an edge: leave it to the next round
			}
			reached[u] = true; // its own edges lead on; the next round's search confirms
			linked++;
		}
	}
	return linked;
}

NeighborList
BaseLayerFill::Extra(std::uint32_t id) const noexcept
{
	return NeighborList{extra_.data() + static_cast<std::size_t>(id) * slots_, extra_count_[id]};
}

} // namespace quiver::core

#include "quiver/core_only.hpp"
