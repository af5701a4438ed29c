// Reachability repair of the page graph.
//
// Inserting into an HNSW graph links the new node to its neighbours and those back to it; a
// neighbour whose list is full prunes it, and when every neighbour does, nothing points to the
// new node and no search can find it. Data with many equal distances (sparse vectors that share
// no index, bit strings, duplicates) makes that common: a 300-row sparsevec table built by
// inserts left 171 of its rows unreachable. The in-memory build repairs its own graph
// (BaseLayerFill::LinkUnreachable); this pass does the same for a graph on pages: after a build
// that inserted there (the rest of a build that outgrew maintenance_work_mem) or whose
// in-memory repair found no host for some node, and in VACUUM.
//
// It reads every element and base-layer list, walks the base layer from the entry point, and
// gives each live element the walk missed an incoming edge from its nearest reached node. A host
// with a full list gives up the slot of a neighbour it is not the walk's way to (so nothing is
// cut off in turn), its farthest such, and at most an eighth of its list unless no other host
// is found (see FindHost).
#include <cstring>

#include "quiver/graph_fill.hpp"
#include "hnsw.hpp"

extern "C" {
#include "miscadmin.h"
}

namespace quiver::pg::hnsw {

namespace {

struct Node {
	ItemPointerData tid;
	ItemPointerData neighbors;
	bool deleted;
};

struct List {
	ItemPointerData tid; // the neighbour tuple
	std::size_t first;   // its base-layer slots in the slot array
};

template <typename T>
void
Grow(T *&array, std::size_t &cap, std::size_t need)
{
	while (need > cap) {
		cap *= 2;
		array = static_cast<T *>(repalloc_huge(array, sizeof(T) * cap));
	}
}

// Marks everything reachable from start through the base layer (deleted nodes included: a
// search passes through them), recording for each node the one that reached it first: those
// edges form a tree that reaches every marked node, so an edge outside it can be given up
// without cutting anyone off. slot_target maps each slot to a node index or -1.
void
Walk(int start, const int *list_of, const int *slot_target, int width, bool *reached, int *parent, int *queue)
{
	int head = 0, tail = 0;
	reached[start] = true;
	queue[tail++] = start;
	while (head < tail) {
		int i = queue[head++];
		if (list_of[i] < 0)
			continue;
		const int *targets = slot_target + static_cast<std::size_t>(list_of[i]) * width;
		for (int s = 0; s < width; s++) {
			int t = targets[s];
			if (t >= 0 && !reached[t]) {
				reached[t] = true;
				parent[t] = i;
				queue[tail++] = t;
			}
		}
	}
}

constexpr int kLinkRounds = 2;

// The slot of h's list (targets) that h gives up for a new edge: of its neighbours h is not the
// walk's way to, the farthest from h (the near ones carry searches). -1 when there is none.
int
FarthestGiveable(const HnswContext *ctx, int h, const Node *nodes, const int *targets, int width, const int *parent,
                 void *hv, void *tv)
{
	int slot = -1;
	float farthest = 0;
	bool loaded = false;
	for (int s = 0; s < width; s++) {
		int t = targets[s];
		if (t < 0 || parent[t] == h)
			continue;
		if (!loaded && !HnswLoadVector(ctx, const_cast<ItemPointer>(&nodes[h].tid), hv))
			return -1;
		loaded = true;
		if (!HnswLoadVector(ctx, const_cast<ItemPointer>(&nodes[t].tid), tv))
			continue;
		float d = IndexDistance(ctx, hv, tv);
		if (slot < 0 || d > farthest) {
			slot = s;
			farthest = d;
		}
	}
	return slot;
}

// Searches the base layer from start for u's nearest nodes and picks a host among the reached
// ones: the nearest with a free slot; failing that (with replace), the nearest that can give
// up an edge (FarthestGiveable) and has given up fewer than an eighth of its list in this pass
// (many unreached nodes can share one nearest node, a hub of the search: giving up all its
// edges would make it a dead end; building sparse rows, that cost 0.1 of recall@10 at
// ef_search 40), else any that can give up an edge. Free slots come first, as giving up edges
// costs the graph navigability.
// *host stays -1 when no found node qualifies.
void
FindHost(const HnswContext *ctx, const void *values, const HnswCandidate &start, int u, const Node *nodes,
         int n_nodes, const int *list_of, const int *slot_target, int width, const bool *reached, const int *parent,
         const int *given_up, bool replace, void *hv, void *tv, int *host, int *slot)
{
	HnswCandidate *found;
	int n = HnswSearchLayer(ctx, values, &start, 1, ctx->ef_construction, 0, &found);
	*host = -1;
	*slot = -1;
	// Passes: a free slot; an edge to give up within the host's share; any edge to give up (the
	// share is for quality; a node must not be left unreachable for it).
	for (int pass = 0; pass < (replace ? 3 : 1) && *host < 0; pass++) {
		for (int c = 0; c < n && *host < 0; c++) {
			int h = FindByTid(nodes, n_nodes, &found[c].element);
			if (h < 0 || h == u || !reached[h] || list_of[h] < 0)
				continue;
			const int *targets = slot_target + static_cast<std::size_t>(list_of[h]) * width;
			if (pass == 0) {
				for (int s = 0; s < width && *slot < 0; s++)
					if (targets[s] < 0)
						*slot = s;
			} else if (pass == 2 || static_cast<std::size_t>(given_up[h]) < quiver::core::MaxEdgesGivenUp(static_cast<std::size_t>(width))) {
				*slot = FarthestGiveable(ctx, h, nodes, targets, width, parent, hv, tv);
			}
			if (*slot >= 0)
				*host = h;
		}
	}
	if (n > 0)
		pfree(found);
}

} // namespace

bool
HnswWalkFits(const HnswContext *ctx, double nodes)
{
	// Per node: element and list records, parent, queue, flags, and the slots with their
	// resolved targets; doubled, as the arrays grow by doubling while the pages are read.
	double slot_bytes = sizeof(ItemPointerData) + sizeof(int);
	double per_node = 2 * (64.0 + slot_bytes * LevelSlotCount(0, ctx->m));
	return per_node * nodes <= static_cast<double>(maintenance_work_mem) * 1024.0;
}

int
HnswLinkUnreachable(const HnswContext *ctx, bool replace, bool count_only)
{
	HnswEntryPoint entry = HnswReadEntryPoint(ctx->index);
	if (!ItemPointerIsValid(&entry.tid))
		return 0;
	const int width = LevelSlotCount(0, ctx->m);
	const int start_slot = LevelSlotStart(0, ctx->m);

	// Every element and every base-layer list, in TID order (the scan order).
	std::size_t cap_n = 1024, cap_l = 1024, cap_s = 1024 * static_cast<std::size_t>(width);
	int n_nodes = 0, n_lists = 0;
	auto *nodes = static_cast<Node *>(palloc(sizeof(Node) * cap_n));
	auto *lists = static_cast<List *>(palloc(sizeof(List) * cap_l));
	auto *slots = static_cast<ItemPointerData *>(palloc(sizeof(ItemPointerData) * cap_s));
	BlockNumber nblocks = RelationGetNumberOfBlocks(ctx->index);
	for (BlockNumber blkno = kHnswMetaBlock + 1; blkno < nblocks; blkno++) {
		CHECK_FOR_INTERRUPTS();
		Buffer buf = ReadBuffer(ctx->index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		Page page = BufferGetPage(buf);
		OffsetNumber maxoff = PageIsNew(page) ? InvalidOffsetNumber : PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++) {
			ItemId item = PageGetItemId(page, off);
			if (!ItemIdIsNormal(item))
				continue;
			auto *start = reinterpret_cast<std::uint8_t *>(PageGetItem(page, item));
			ItemPointerData tid;
			ItemPointerSet(&tid, blkno, off);
			// Read through the checked accessors: a damaged item is an ERROR, not a wild read.
			if (start[0] == kHnswElementType) {
				auto *e = ElementAt(ctx, page, &tid);
				Grow(nodes, cap_n, static_cast<std::size_t>(n_nodes) + 1);
				nodes[n_nodes++] = Node{tid, *ElementNeighborTid(e), e->deleted != 0};
			} else if (start[0] == kHnswNeighborType) {
				auto *nt = ItemAt<HnswNeighborTuple>(ctx->index, page, &tid, kHnswNeighborType);
				if (nt->count < start_slot + width)
					continue;
				std::size_t first = static_cast<std::size_t>(n_lists) * width;
				Grow(lists, cap_l, static_cast<std::size_t>(n_lists) + 1);
				Grow(slots, cap_s, first + width);
				lists[n_lists++] = List{tid, first};
				memcpy(slots + first, NeighborSlots(nt) + start_slot, sizeof(ItemPointerData) * width);
			}
		}
		UnlockReleaseBuffer(buf);
	}
	int entry_index = FindByTid(nodes, n_nodes, &entry.tid);
	if (entry_index < 0)
		return 0;

	// Slots resolved to node indexes once; list_of maps a node to its list.
	auto *slot_target = static_cast<int *>(palloc_extended(sizeof(int) * (static_cast<std::size_t>(n_lists) * width + 1), MCXT_ALLOC_HUGE));
	for (std::size_t s = 0; s < static_cast<std::size_t>(n_lists) * width; s++)
		slot_target[s] = ItemPointerIsValid(&slots[s]) ? FindByTid(nodes, n_nodes, &slots[s]) : -1;
	auto *list_of = static_cast<int *>(palloc(sizeof(int) * static_cast<std::size_t>(n_nodes)));
	auto *given_up = static_cast<int *>(palloc0(sizeof(int) * static_cast<std::size_t>(n_nodes)));
	for (int i = 0; i < n_nodes; i++)
		list_of[i] = FindByTid(lists, n_lists, &nodes[i].neighbors);

	auto *reached = static_cast<bool *>(palloc(sizeof(bool) * static_cast<std::size_t>(n_nodes)));
	auto *parent = static_cast<int *>(palloc(sizeof(int) * static_cast<std::size_t>(n_nodes)));
	auto *queue = static_cast<int *>(palloc(sizeof(int) * static_cast<std::size_t>(n_nodes)));
	int linked = 0;
	void *values = palloc(ctx->vector_bytes);
	void *hv = palloc(ctx->vector_bytes);
	void *tv = palloc(ctx->vector_bytes);
	// Replacing only edges outside the walk's tree keeps everything reached reached, so one
	// round links all it can; a second one picks up nodes whose search found no host the
	// first time but finds one through nodes linked since.
	for (int round = 0; round < kLinkRounds; round++) {
		memset(reached, 0, sizeof(bool) * static_cast<std::size_t>(n_nodes));
		parent[entry_index] = -1;
		Walk(entry_index, list_of, slot_target, width, reached, parent, queue);
		if (count_only) {
			int unreached = 0;
			for (int u = 0; u < n_nodes; u++)
				unreached += !reached[u] && !nodes[u].deleted ? 1 : 0;
			return unreached;
		}
		int linked_before = linked;
		for (int u = 0; u < n_nodes; u++) {
			if (reached[u] || nodes[u].deleted)
				continue;
			CHECK_FOR_INTERRUPTS();
			if (!HnswLoadVector(ctx, &nodes[u].tid, values))
				continue;
			// Nearest nodes to u by a search (u itself cannot be among them: nothing reaches it).
			HnswCandidate start;
			if (!HnswGreedyDescend(ctx, values, entry, 0, &start))
				break;
			int host = -1, slot = -1;
			FindHost(ctx, values, start, u, nodes, n_nodes, list_of, slot_target, width, reached, parent, given_up,
			         replace, hv, tv, &host, &slot);
			// The descent runs through the upper layers, whose edges can lead into the very region
			// the base layer cannot reach; the search from there then finds only that region (with
			// many equal vectors, ef_construction of u's copies at distance 0). The base layer
			// from the entry point reaches only reached nodes.
			int start_index = FindByTid(nodes, n_nodes, &start.element);
			if (host < 0 && (start_index < 0 || !reached[start_index]) &&
			    HnswLoadCandidate(ctx, &entry.tid, values, &start))
				FindHost(ctx, values, start, u, nodes, n_nodes, list_of, slot_target, width, reached, parent, given_up,
				         replace, hv, tv, &host, &slot);
			if (host >= 0) {
				int *targets = slot_target + static_cast<std::size_t>(list_of[host]) * width;
				const List &list = lists[list_of[host]];
				Buffer buf = ReadBuffer(ctx->index, ItemPointerGetBlockNumber(&list.tid));
				LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
				HnswPageEdit edit;
				HnswEditStart(&edit, ctx->index, ctx->building);
				Page page = HnswEditRegister(&edit, buf, false);
				auto *nt = ItemAt<HnswNeighborTuple>(ctx->index, page, const_cast<ItemPointer>(&list.tid), kHnswNeighborType);
				if (nt == nullptr)
					elog(ERROR, "hnsw: neighbour tuple (%u,%u) vanished during repair", ItemPointerGetBlockNumber(&list.tid),
					     ItemPointerGetOffsetNumber(&list.tid));
				NeighborSlots(nt)[start_slot + slot] = nodes[u].tid;
				HnswEditFinish(&edit);
				UnlockReleaseBuffer(buf);

				if (targets[slot] >= 0)
					given_up[host]++;
				targets[slot] = u;
				linked++;
				// u, and whatever only u leads to, is reached now, through host.
				parent[u] = host;
				Walk(u, list_of, slot_target, width, reached, parent, queue);
			}
		}
		if (linked == linked_before)
			break;
	}
	return linked;
}

} // namespace quiver::pg::hnsw
