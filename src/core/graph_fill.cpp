#include "quiver/graph_fill.hpp"

#include <algorithm>
#include <functional>
#include <queue>
#include <utility>

namespace quiver::core {

namespace {

bool
Holds(const NeighborList &list, std::size_t id)
{
	return std::find(list.begin(), list.end(), static_cast<std::uint32_t>(id)) != list.end();
}

// A set of ids for one node's candidates: open addressing in a table at least twice the
// number of ids it will hold, cleared per node (a few hundred ids; sorting them, as before,
// cost as much as a third of the distances).
class SmallIdSet {
  public:
	void
	Reset(std::size_t max_ids)
	{
		std::size_t want = 64;
		while (want < 2 * max_ids)
			want *= 2;
		if (table_.size() != want)
			table_.resize(want);
		std::fill(table_.begin(), table_.end(), kEmpty);
		mask_ = want - 1;
	}
	// True when id was not in the set (and is now).
	bool
	Insert(std::uint32_t id)
	{
		// Fibonacci hashing: neighbouring ids, common in one list, land far apart.
		std::size_t at = static_cast<std::size_t>((id * 2654435769u) >> 7) & mask_;
		while (table_[at] != kEmpty) {
			if (table_[at] == id)
				return false;
			at = (at + 1) & mask_;
		}
		table_[at] = id;
		return true;
	}

  private:
	static constexpr std::uint32_t kEmpty = UINT32_MAX;
	std::vector<std::uint32_t> table_;
	std::size_t mask_ = 0;
};

} // namespace


BaseLayerFill::BaseLayerFill(HnswBuilder &graph, std::size_t second_hop_sources)
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
	SmallIdSet seen;
	for (std::size_t id = begin; id < end; id++) {
		NeighborList own = graph_.Neighbors(static_cast<std::uint32_t>(id), 0);
		if (own.count >= slots_)
			continue;

		// Neighbours' neighbours through the first few neighbours only: the far ones add many
		// candidates and few chosen ones. (hnswlib writes a new node's list farthest first and
		// appends link-backs, so "first" is not "nearest"; writing lists nearest first made no
		// difference on glove, see mutuallyConnectNewElement.)
		std::size_t hops = second_hop_sources_ == 0 ? own.count : std::min(own.count, second_hop_sources_);
		std::size_t reverse = rev_start_[id + 1] - rev_start_[id];
		for (std::size_t k = 0; k < hops; k++)
			graph_.PrefetchBaseNeighbors(own.ids[k]);
		// The node itself and its own neighbours are no candidates; each candidate counts once.
		seen.Reset(1 + own.count + reverse + hops * slots_);
		seen.Insert(static_cast<std::uint32_t>(id));
		for (std::uint32_t o : own)
			seen.Insert(o);
		cands.clear();
		for (std::size_t r = rev_start_[id]; r < rev_start_[id + 1]; r++) {
			if (seen.Insert(rev_[r]))
				cands.push_back(rev_[r]);
		}
		for (std::size_t k = 0; k < hops; k++) {
			for (std::uint32_t c : graph_.Neighbors(own.ids[k], 0)) {
				if (seen.Insert(c))
					cands.push_back(c);
			}
		}

		// The graph's own vector copies, not the caller's array: each sits next to data the
		// candidate search just touched. Candidates are scattered over the whole graph, so each
		// distance waits on memory unless its vector was asked for a few distances earlier; a
		// window of kFillPrefetchAhead does that without asking for more lines than the core
		// can have in flight (all candidates at once took twice as long on glove).
		const float *self = graph_.Vector(static_cast<std::uint32_t>(id));
		ranked.clear();
		std::size_t count = cands.size();
		for (std::size_t i = 0; i < count && i < kFillPrefetchAhead; i++)
			graph_.PrefetchVector(cands[i]);
		for (std::size_t i = 0; i < count; i++) {
			if (i + kFillPrefetchAhead < count)
				graph_.PrefetchVector(cands[i + kFillPrefetchAhead]);
			ranked.emplace_back(graph_.Distance(self, graph_.Vector(cands[i])), cands[i]);
		}
		// Pairs compare by distance, then id: the same lists whatever order the candidates came in.
		std::size_t room = std::min(slots_ - own.count, ranked.size());
		std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(room), ranked.end());
		for (std::size_t i = 0; i < room; i++)
			extra_[id * slots_ + i] = ranked[i].second;
		extra_count_[id] = static_cast<std::uint8_t>(room);
	}
}

void
BaseLayerFill::SearchReached(const float *v, const std::vector<std::uint32_t> &starts, const std::vector<bool> &reached,
                             std::size_t ef, std::vector<std::pair<float, std::uint32_t>> &out)
{
	if (visit_mark_.size() != n_) {
		visit_mark_.assign(n_, 0);
		visit_stamp_ = 0;
	}
	if (++visit_stamp_ == 0) { // wrapped: old marks could collide with the new stamp
		std::fill(visit_mark_.begin(), visit_mark_.end(), 0);
		visit_stamp_ = 1;
	}
	using Item = std::pair<float, std::uint32_t>;
	std::priority_queue<Item, std::vector<Item>, std::greater<Item>> frontier; // nearest on top
	std::priority_queue<Item> best;                                             // farthest on top
	for (std::uint32_t s : starts) {
		if (!reached[s] || visit_mark_[s] == visit_stamp_)
			continue;
		visit_mark_[s] = visit_stamp_;
		float d = graph_.Distance(v, graph_.Vector(s));
		frontier.emplace(d, s);
		best.emplace(d, s);
		if (best.size() > ef)
			best.pop();
	}
	while (!frontier.empty()) {
		Item c = frontier.top();
		if (best.size() >= ef && c.first > best.top().first)
			break;
		frontier.pop();
		for (const NeighborList &list : {graph_.Neighbors(c.second, 0), Extra(c.second)}) {
			for (std::uint32_t to : list) {
				if (!reached[to] || visit_mark_[to] == visit_stamp_)
					continue;
				visit_mark_[to] = visit_stamp_;
				float d = graph_.Distance(v, graph_.Vector(to));
				if (best.size() < ef || d < best.top().first) {
					frontier.emplace(d, to);
					best.emplace(d, to);
					if (best.size() > ef)
						best.pop();
				}
			}
		}
	}
	out.resize(best.size());
	for (std::size_t k = best.size(); k > 0; k--) {
		out[k - 1] = best.top();
		best.pop();
	}
}

void
BaseLayerFill::Walk(std::vector<std::uint32_t> &queue, std::size_t from, std::vector<bool> &reached,
                    std::vector<std::uint32_t> &parent) const
{
	for (std::size_t head = from; head < queue.size(); head++) {
		std::uint32_t id = queue[head];
		for (const NeighborList &list : {graph_.Neighbors(id, 0), Extra(id)}) {
			for (std::uint32_t to : list) {
				if (!reached[to]) {
					reached[to] = true;
					parent[to] = id;
					queue.push_back(to);
				}
			}
		}
	}
}

std::size_t
BaseLayerFill::LinkUnreachable(std::uint32_t entry)
{
	constexpr std::uint32_t kNoParent = UINT32_MAX;
	std::size_t linked = 0;
	std::vector<std::uint32_t> starts;
	std::vector<std::pair<float, std::uint32_t>> found;
	given_up_.assign(n_, 0);
	// One round links every node the walk did not reach, and only gives up edges outside the
	// walk's tree, so everything stays reachable; the next round's walk confirms it.
	unreached_ = 0;
	for (int round = 0; entry < n_; round++) {
		// The walk: reached nodes, and for each the node that reached it first (those edges form
		// a tree from the entry point, so an edge outside it can go without cutting anyone off).
		std::vector<bool> reached(n_, false);
		std::vector<std::uint32_t> parent(n_, kNoParent);
		std::vector<std::uint32_t> queue{entry};
		reached[entry] = true;
		Walk(queue, 0, reached, parent);
		unreached_ = n_ - queue.size();
		if (unreached_ == 0 || round == kLinkRounds)
			break;
		std::size_t exhaustive = 0;
		for (std::size_t u = 0; u < n_; u++) {
			if (reached[u])
				continue;
			const float *uv = graph_.Vector(static_cast<std::uint32_t>(u));
			// Hosts: the nearest reached nodes a search over reached nodes finds, from the entry
			// point and from reached nodes among u's own neighbours (u's region is often next to
			// them). Thousands of nodes can be unreached (1,000-dimension sparse rows with 30
			// non-zeros left 3,300 of 10,000), too many for an exhaustive search each; that is
			// only a bounded fallback for when the search finds no host.
			starts.assign(1, entry);
			for (const NeighborList &list : {graph_.Neighbors(static_cast<std::uint32_t>(u), 0),
			                                 Extra(static_cast<std::uint32_t>(u))})
				starts.insert(starts.end(), list.begin(), list.end());
			SearchReached(uv, starts, reached, kHostSearchWidth, found);
			Host host = ChooseHost(u, found, parent);
			// No host among them (all full, and gave up their share already): wider searches.
			for (std::size_t wider = kHostSearchWidth * 4; host.kind == Host::None && wider <= kHostSearchWidth * 64;
			     wider *= 4) {
				SearchReached(uv, starts, reached, wider, found);
				host = ChooseHost(u, found, parent);
			}
			if (host.kind == Host::None && exhaustive < kExhaustivePerRound) {
				exhaustive++;
				found.clear();
				for (std::uint32_t r : queue)
					found.emplace_back(graph_.Distance(uv, graph_.Vector(r)), r);
				std::sort(found.begin(), found.end());
				host = ChooseHost(u, found, parent);
				// Every reached node gave up its share: the share is for quality, and a node must
				// not stay unreachable for it.
				if (host.kind == Host::None)
					host = ChooseHost(u, found, parent, false);
			}
			if (host.kind == Host::None)
				continue; // no host found (or the round's exhaustive searches are spent): next round
			if (host.kind == Host::Room) {
				extra_[host.id * slots_ + extra_count_[host.id]] = static_cast<std::uint32_t>(u);
				extra_count_[host.id]++;
			} else if (host.kind == Host::Replace) {
				std::size_t own = graph_.Neighbors(host.id, 0).count;
				if (host.slot < own)
					graph_.ReplaceNeighbor(host.id, host.slot, static_cast<std::uint32_t>(u));
				else
					extra_[host.id * slots_ + (host.slot - own)] = static_cast<std::uint32_t>(u);
				given_up_[host.id]++;
			}
			// (Host::Holds: a node linked earlier this round already points to u.)
			if (host.kind != Host::Holds)
				linked++;
			// u is reached through host now, and so is what u leads to (an unreached group of
			// equal vectors needs one way in, not one each).
			reached[u] = true;
			parent[u] = host.id;
			queue.push_back(static_cast<std::uint32_t>(u));
			Walk(queue, queue.size() - 1, reached, parent);
		}
	}
	return linked;
}

BaseLayerFill::Host
BaseLayerFill::ChooseHost(std::size_t u, const std::vector<std::pair<float, std::uint32_t>> &found,
                          const std::vector<std::uint32_t> &parent, bool share) const
{
	// The nearest candidate with room for one more edge (own + extra below 2m), or failing that
	// the nearest with an edge to give up. A node linked earlier this round counts as reached
	// without its own lists being walked, so it may already point to u (with equal vectors a
	// whole unreached group points at each other): then u is reached through it, and giving it
	// u again would repeat a neighbour. Checked only for a would-be host.
	Host replace{Host::None, 0, 0};
	for (const auto &[d, r] : found) {
		NeighborList own = graph_.Neighbors(r, 0), extra = Extra(r);
		bool room = own.count + extra.count < slots_;
		// Many unreached nodes share their nearest reached node (on sparse rows, a row of small
		// norm near everything); giving up all its edges would turn a hub of the search into a
		// dead end (recall@10 at ef_search 40 fell from 0.96 to 0.85), so with `share` each node
		// gives up at most an eighth of its list and the rest go to other hosts.
		if (!room && (replace.kind != Host::None || (share && given_up_[r] >= MaxEdgesGivenUp(slots_))))
			continue;
		if (Holds(own, u) || Holds(extra, u))
			return Host{Host::Holds, r, 0};
		if (room)
			return Host{Host::Room, r, 0};
		// The edge given up: of those outside the walk's tree, the farthest (the nearest ones
		// carry searches; on sparse rows, giving up the edge to the node with the most incoming
		// edges, a hub, cost 0.1 of recall@10 at ef_search 40).
		std::size_t slot = slots_;
		float farthest = 0;
		for (std::size_t k = 0; k < own.count + extra.count; k++) {
			std::uint32_t to = k < own.count ? own.ids[k] : extra.ids[k - own.count];
			if (parent[to] == r)
				continue;
			float d_to = graph_.Distance(graph_.Vector(r), graph_.Vector(to));
			if (slot == slots_ || d_to > farthest) {
				slot = k;
				farthest = d_to;
			}
		}
		if (slot < slots_)
			replace = Host{Host::Replace, r, slot};
	}
	return replace;
}

NeighborList
BaseLayerFill::Extra(std::uint32_t id) const noexcept
{
	return NeighborList{extra_.data() + static_cast<std::size_t>(id) * slots_, extra_count_[id]};
}

} // namespace quiver::core

#include "quiver/core_only.hpp"
