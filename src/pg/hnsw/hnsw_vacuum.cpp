// VACUUM for hnsw, in passes over the index:
//
//  1. Drop the heap TIDs of dead rows from element tuples; an element left with none is
//     marked deleted (scans skip it from then on, but still walk through it).
//  2. Repair the graph, under the update lock: every live node whose list points to a deleted
//     node gets a new list chosen among its live neighbours and the live neighbours of the
//     deleted ones (the nodes the deleted node was bridging to), with the same diversity
//     heuristic as inserts. This is local work, a few page reads per affected node, instead
//     of a new graph search per node; only a node that lost more than half of a level's list,
//     or has too few candidates to fill it (or every affected node, when most of the index is
//     deleted), is searched for from the entry point, and then linked back from the
//     neighbours it finds, as an insert is. A deleted entry point is replaced by the live node
//     of highest level.
//  3. Empty the deleted nodes' lists, then free their tuples (their line pointers stay,
//     unused, so no other TID moves) and record the space in the free space map, where
//     inserts find it.
//  4. Link the nodes that no list points to any more back into the graph.
//  5. Walk the graph and link back the regions no path reaches (also run, alone, by a vacuum
//     that deletes nothing).
// Each pass leaves the pages sound wherever the vacuum stops between two of its WAL records
// (a crash, a cancel), and the next vacuum takes up what is left; only reachability waits:
// nodes that a stopped pass 2 cut off stay unreachable until the next vacuum's passes 4 and 5.
#include <cstring>

#include "hnsw_search.hpp"

extern "C" {
#include "access/genam.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/freespace.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"
}

namespace quiver::pg::hnsw {

namespace {

struct DeletedNode {
	ItemPointerData element;
	ItemPointerData neighbors;
};

// Element TID -> index in the deleted array; open addressing, built once.
struct DeletedMap {
	std::uint64_t *keys;
	int *values;
	std::uint32_t mask;
};

void
DeletedMapBuild(DeletedMap *map, const DeletedNode *nodes, int n)
{
	std::uint32_t size = 64;
	while (size < static_cast<std::uint32_t>(n) * 2)
		size <<= 1;
	map->keys = static_cast<std::uint64_t *>(palloc0(sizeof(std::uint64_t) * size));
	map->values = static_cast<int *>(palloc(sizeof(int) * size));
	map->mask = size - 1;
	for (int i = 0; i < n; i++) {
		std::uint64_t key = TidKey(const_cast<ItemPointer>(&nodes[i].element));
		std::uint32_t slot = static_cast<std::uint32_t>((key * 0x9E3779B97F4A7C15ull) >> 32) & map->mask;
		while (map->keys[slot] != 0 && map->keys[slot] != key)
			slot = (slot + 1) & map->mask;
		map->keys[slot] = key;
		map->values[slot] = i;
	}
}

int
DeletedMapFind(const DeletedMap *map, ItemPointer tid)
{
	std::uint64_t key = TidKey(tid);
	std::uint32_t slot = static_cast<std::uint32_t>((key * 0x9E3779B97F4A7C15ull) >> 32) & map->mask;
	while (map->keys[slot] != 0) {
		if (map->keys[slot] == key)
			return map->values[slot];
		slot = (slot + 1) & map->mask;
	}
	return -1;
}

// HnswVacated::holds over a DeletedMap.
bool
IsDeletedNode(const void *map, ItemPointer tid)
{
	return DeletedMapFind(static_cast<const DeletedMap *>(map), tid) >= 0;
}

struct VacuumState {
	IndexVacuumInfo *info;
	HnswContext ctx;
	DeletedNode *deleted;
	int n_deleted;
	int cap_deleted;
	ItemPointerData best_live; // live node of highest level, the entry point if needed
	int best_live_level;
	double live_tuples;
	MemoryContext tmp_ctx;
	int orphans_linked;
	int islands_linked;
	bool seeded;           // the index keeps seeds (HnswOfferSeed)
	HnswMetaData seeds;    // the live nodes of largest norm seen by pass 1
};

void
RememberDeleted(VacuumState *vs, ItemPointer element, ItemPointer neighbors)
{
	if (vs->n_deleted == vs->cap_deleted) {
		vs->cap_deleted = vs->cap_deleted == 0 ? 256 : vs->cap_deleted * 2;
		std::size_t bytes = sizeof(DeletedNode) * static_cast<std::size_t>(vs->cap_deleted);
		vs->deleted = static_cast<DeletedNode *>(vs->deleted == nullptr ? palloc(bytes) : repalloc_huge(vs->deleted, bytes));
	}
	vs->deleted[vs->n_deleted].element = *element;
	vs->deleted[vs->n_deleted].neighbors = *neighbors;
	vs->n_deleted++;
}

// Pass 1 over one page. The callback is asked once per heap TID, under the exclusive lock;
// only a page that loses a TID is WAL-logged.
void
RemoveDeadTids(VacuumState *vs, BlockNumber blkno, IndexBulkDeleteResult *stats, IndexBulkDeleteCallback callback,
               void *callback_state)
{
	Relation index = vs->info->index;
	Buffer buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, vs->info->strategy);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	Page page = BufferGetPage(buf);

	// Bit i of dead[off]: heap TID slot i of the element at off is dead.
	std::uint16_t dead[MaxOffsetNumber + 1];
	static_assert(kHnswHeapTids <= 16, "one bit per heap TID slot");
	bool changes = false;
	ForEachItem(page, [&](OffsetNumber off, std::uint8_t type, std::uint8_t *) {
		dead[off] = 0;
		if (type != kHnswElementType)
			return;
		// Checked before its heap TIDs are read (and rewritten below): a damaged element is an
		// ERROR, not a write past its end.
		ItemPointerData tid;
		ItemPointerSet(&tid, blkno, off);
		auto *e = ElementAt(&vs->ctx, page, &tid);
		if (e->deleted)
			return;
		ItemPointerData *tids = ElementHeapTids(e);
		for (int i = 0; i < kHnswHeapTids; i++) {
			if (ItemPointerIsValid(&tids[i]) && callback(&tids[i], callback_state))
				dead[off] = static_cast<std::uint16_t>(dead[off] | (1u << i));
		}
		changes = changes || dead[off] != 0;
	});

	GenericXLogState *state = nullptr;
	Page target = page;
	if (changes) {
		state = GenericXLogStart(index);
		target = GenericXLogRegisterBuffer(state, buf, 0);
	}
	ForEachItem(target, [&](OffsetNumber off, std::uint8_t type, std::uint8_t *item) {
		if (type != kHnswElementType)
			return;
		auto *e = reinterpret_cast<HnswElementTuple *>(item);
		if (!e->deleted) {
			ItemPointerData *tids = ElementHeapTids(e);
			int kept = 0;
			for (int i = 0; i < kHnswHeapTids; i++) {
				if (!ItemPointerIsValid(&tids[i]))
					continue;
				if (dead[off] & (1u << i))
					stats->tuples_removed += 1;
				else
					tids[kept++] = tids[i];
			}
			for (int i = kept; i < kHnswHeapTids; i++)
				ItemPointerSetInvalid(&tids[i]);
			if (kept == 0)
				e->deleted = 1;
			vs->live_tuples += kept;
		}
		ItemPointerData tid;
		ItemPointerSet(&tid, blkno, off);
		if (e->deleted) {
			RememberDeleted(vs, &tid, ElementNeighborTid(e));
			return;
		}
		if (e->level > vs->best_live_level) {
			vs->best_live = tid;
			vs->best_live_level = e->level;
		}
		if (vs->seeded)
			HnswOfferSeed(&vs->seeds, &tid, HnswSeedNorm(&vs->ctx, ElementValues(e)));
	});
	if (changes)
		GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

// Pass 2 for one live node: new lists for the levels that point to deleted nodes.
void
RepairNode(VacuumState *vs, const DeletedMap *map, ItemPointer element, ItemPointer neighbor_tid, int level,
           HnswEntryPoint entry)
{
	HnswContext *ctx = &vs->ctx;
	int m = ctx->m;
	int slots = NeighborSlotCount(level, m);

	// Copy the whole list.
	Buffer buf = ReadBuffer(ctx->index, ItemPointerGetBlockNumber(neighbor_tid));
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	Page page = BufferGetPage(buf);
	auto *nt = reinterpret_cast<HnswNeighborTuple *>(
	    PageGetItem(page, PageGetItemId(page, ItemPointerGetOffsetNumber(neighbor_tid))));
	if (nt->type != kHnswNeighborType || nt->count < slots) {
		UnlockReleaseBuffer(buf);
		return;
	}
	auto *list = static_cast<ItemPointerData *>(palloc(sizeof(ItemPointerData) * static_cast<std::size_t>(slots)));
	memcpy(list, NeighborSlots(nt), sizeof(ItemPointerData) * static_cast<std::size_t>(slots));
	UnlockReleaseBuffer(buf);

	bool any = false;
	for (int i = 0; i < slots && !any; i++)
		any = ItemPointerIsValid(&list[i]) && DeletedMapFind(map, &list[i]) >= 0;
	if (!any)
		return;

	void *base = palloc(ctx->vector_bytes);
	if (!HnswLoadVector(ctx, element, base))
		return;

	// The neighbours chosen at levels repaired by a search, which are linked back to the node
	// once its list is written.
	auto *link_back = static_cast<HnswCandidate *>(palloc(sizeof(HnswCandidate) * static_cast<std::size_t>(slots)));
	auto *link_back_level = static_cast<int *>(palloc(sizeof(int) * static_cast<std::size_t>(slots)));
	int n_link_back = 0;

	for (int lc = 0; lc <= level; lc++) {
		ItemPointerData *slots_lc = list + LevelSlotStart(lc, m);
		int count = LevelSlotCount(lc, m);
		bool affected = false;
		for (int i = 0; i < count && !affected; i++)
			affected = ItemPointerIsValid(&slots_lc[i]) && DeletedMapFind(map, &slots_lc[i]) >= 0;
		if (!affected)
			continue;

		// Candidates: live neighbours, and the live neighbours of deleted neighbours.
		int cap = count * (count + 1);
		auto *cand_tids = static_cast<ItemPointerData *>(palloc(sizeof(ItemPointerData) * static_cast<std::size_t>(cap)));
		int n = 0;
		auto *second = static_cast<ItemPointerData *>(palloc(sizeof(ItemPointerData) * static_cast<std::size_t>(count)));
		int live_before = 0;
		for (int i = 0; i < count; i++) {
			if (!ItemPointerIsValid(&slots_lc[i]))
				continue;
			int d = DeletedMapFind(map, &slots_lc[i]);
			if (d < 0) {
				cand_tids[n++] = slots_lc[i];
				live_before++;
				continue;
			}
			int k = HnswLoadNeighbors(ctx, &vs->deleted[d].neighbors, lc, second);
			for (int j = 0; j < k && n < cap; j++)
				cand_tids[n++] = second[j];
		}

		VisitedSet seen;
		VisitedInit(&seen, static_cast<std::uint32_t>(n + 1));
		VisitedAdd(&seen, TidKey(element));
		auto *cands = static_cast<HnswCandidate *>(palloc(sizeof(HnswCandidate) * static_cast<std::size_t>(n + 1)));
		int nc = 0;
		for (int i = 0; i < n; i++) {
			if (DeletedMapFind(map, &cand_tids[i]) >= 0 || !VisitedAdd(&seen, TidKey(&cand_tids[i])))
				continue;
			if (HnswLoadCandidate(ctx, &cand_tids[i], base, &cands[nc]) && !cands[nc].deleted && cands[nc].level >= lc)
				nc++;
		}

		// Heavy deletion around this node (it lost more than half of this level's list), or
		// too few candidates to fill it, or most of the graph deleted (then the deleted nodes'
		// neighbours are mostly deleted too): search for more from the entry point, as an
		// insert does, counting live nodes only. Local candidates alone keep recall on average
		// but leave such nodes hard to reach; searching for every affected node (pgvector's
		// way) costs 4x the time when a minority of the graph is deleted.
		bool mostly_deleted = static_cast<double>(vs->n_deleted) > vs->live_tuples;
		bool searched = false;
		if ((nc < count || 2 * live_before < count || mostly_deleted) && ItemPointerIsValid(&entry.tid) &&
		    entry.level >= lc) {
			HnswCandidate start;
			if (HnswGreedyDescend(ctx, base, entry, lc, &start)) {
				HnswCandidate *found;
				int nf = HnswSearchLayer(ctx, base, &start, 1, ctx->ef_construction, lc, &found, true);
				searched = true;
				cands = static_cast<HnswCandidate *>(
				    repalloc(cands, sizeof(HnswCandidate) * static_cast<std::size_t>(nc + nf + 1)));
				for (int i = 0; i < nf; i++) {
					if (found[i].deleted || DeletedMapFind(map, &found[i].element) >= 0 ||
					    !VisitedAdd(&seen, TidKey(&found[i].element)))
						continue;
					cands[nc++] = found[i];
				}
			}
		}

		qsort(cands, static_cast<std::size_t>(nc), sizeof(HnswCandidate), CompareCandidatesByDistance);
		CandidateVectors cv = LoadCandidateVectors(ctx, cands, nc);
		int *chosen = static_cast<int *>(palloc(sizeof(int) * static_cast<std::size_t>(count)));
		int kept = SelectNeighbors(ctx, cands, cv, count, chosen);
		for (int i = 0; i < count; i++) {
			if (i < kept)
				slots_lc[i] = cands[chosen[i]].element;
			else
				ItemPointerSetInvalid(&slots_lc[i]);
		}
		for (int i = 0; i < kept && searched; i++) {
			link_back[n_link_back] = cands[chosen[i]];
			link_back_level[n_link_back++] = lc;
		}
	}

	buf = ReadBuffer(ctx->index, ItemPointerGetBlockNumber(neighbor_tid));
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	GenericXLogState *state = GenericXLogStart(ctx->index);
	Page copy = GenericXLogRegisterBuffer(state, buf, 0);
	auto *cnt = reinterpret_cast<HnswNeighborTuple *>(
	    PageGetItem(copy, PageGetItemId(copy, ItemPointerGetOffsetNumber(neighbor_tid))));
	memcpy(NeighborSlots(cnt), list, sizeof(ItemPointerData) * static_cast<std::size_t>(slots));
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);

	// A node repaired by a search is in effect inserted again, and as an insert links its new
	// neighbours back to it (pgvector's vacuum does the same): their lists lost deleted nodes
	// too, and without these edges the repaired node is reached only through its old ones.
	HnswVacated vacated{&IsDeletedNode, map};
	for (int i = 0; i < n_link_back; i++)
		HnswLinkBack(ctx, link_back[i], element, link_back[i].distance, link_back_level[i], false, nullptr, 0, nullptr,
		             nullptr, &vacated);
}

// The live elements of one page: their TIDs, neighbour tuple TIDs and levels.
int
ReadLiveElements(VacuumState *vs, BlockNumber blkno, HnswCandidate *out)
{
	int n = 0;
	Buffer buf = ReadBufferExtended(vs->info->index, MAIN_FORKNUM, blkno, RBM_NORMAL, vs->info->strategy);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	ForEachItem(BufferGetPage(buf), [&](OffsetNumber off, std::uint8_t type, std::uint8_t *item) {
		auto *e = reinterpret_cast<HnswElementTuple *>(item);
		if (type != kHnswElementType || e->deleted)
			return;
		ItemPointerSet(&out[n].element, blkno, off);
		out[n].neighbors = *ElementNeighborTid(e);
		out[n].level = e->level;
		out[n].deleted = false;
		out[n].rounding_error = e->rounding_error;
		out[n].distance = 0;
		n++;
	});
	UnlockReleaseBuffer(buf);
	return n;
}

// Pass 2 over the whole index.
void
RepairGraph(VacuumState *vs, const DeletedMap *map)
{
	Relation index = vs->info->index;

	// Move the entry point off a deleted node first, so that searches done while repairing
	// start from a live one; and the seeds, which must name no node pass 3 frees.
	HnswEntryPoint entry = HnswReadEntryPoint(index);
	bool entry_deleted = ItemPointerIsValid(&entry.tid) && DeletedMapFind(map, &entry.tid) >= 0;
	if (entry_deleted || vs->seeded) {
		Buffer mbuf = ReadBuffer(index, kHnswMetaBlock);
		LockBuffer(mbuf, BUFFER_LOCK_EXCLUSIVE);
		GenericXLogState *state = GenericXLogStart(index);
		Page mpage = GenericXLogRegisterBuffer(state, mbuf, 0);
		auto *meta = reinterpret_cast<HnswMetaData *>(PageGetContents(mpage));
		if (vs->seeded) {
			// The seeds inserts added since pass 1 that are still live, and pass 1's.
			HnswMetaData kept = *meta;
			meta->n_seeds = 0;
			for (int i = 0; i < Min(kept.n_seeds, kHnswMaxSeeds); i++)
				if (DeletedMapFind(map, &kept.seeds[i]) < 0)
					HnswOfferSeed(meta, &kept.seeds[i], kept.seed_norms[i]);
			for (int i = 0; i < vs->seeds.n_seeds; i++)
				HnswOfferSeed(meta, &vs->seeds.seeds[i], vs->seeds.seed_norms[i]);
		}
		if (entry_deleted && vs->best_live_level >= 0) {
			meta->entry_blkno = ItemPointerGetBlockNumber(&vs->best_live);
			meta->entry_offno = ItemPointerGetOffsetNumber(&vs->best_live);
			meta->entry_level = static_cast<std::int16_t>(vs->best_live_level);
		} else if (entry_deleted) {
			meta->entry_blkno = InvalidBlockNumber;
			meta->entry_offno = InvalidOffsetNumber;
			meta->entry_level = -1;
		}
		GenericXLogFinish(state);
		UnlockReleaseBuffer(mbuf);
		entry = HnswReadEntryPoint(index);
	}

	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	auto *nodes = static_cast<HnswCandidate *>(palloc(sizeof(HnswCandidate) * MaxOffsetNumber));
	for (BlockNumber blkno = kHnswMetaBlock + 1; blkno < nblocks; blkno++) {
		vacuum_delay_point();
		int n = ReadLiveElements(vs, blkno, nodes);
		for (int i = 0; i < n; i++) {
			MemoryContext old = MemoryContextSwitchTo(vs->tmp_ctx);
			RepairNode(vs, map, &nodes[i].element, &nodes[i].neighbors, nodes[i].level, entry);
			MemoryContextSwitchTo(old);
			MemoryContextReset(vs->tmp_ctx);
		}
	}
}

int
CompareTids(const void *a, const void *b)
{
	return ItemPointerCompare(const_cast<ItemPointer>(static_cast<const ItemPointerData *>(a)),
	                          const_cast<ItemPointer>(static_cast<const ItemPointerData *>(b)));
}

int
CompareTidsDescending(const void *a, const void *b)
{
	return CompareTids(b, a);
}

int
CompareBlocks(const void *a, const void *b)
{
	BlockNumber x = *static_cast<const BlockNumber *>(a), y = *static_cast<const BlockNumber *>(b);
	return x < y ? -1 : x > y ? 1 : 0;
}

// Pass 3a: empty the deleted nodes' lists, one record per page. Pass 2 took every pointer to a
// deleted node out of the live lists; once the deleted lists are empty too, nothing anywhere
// names a deleted node, so pass 3b may free them in any order and stop anywhere (a crash, a
// cancel) without leaving a slot that names a freed tuple, or a tuple put in its place later.
void
EmptyDeletedLists(VacuumState *vs)
{
	Relation index = vs->info->index;
	int n = vs->n_deleted;
	auto *tids = static_cast<ItemPointerData *>(palloc_extended(sizeof(ItemPointerData) * static_cast<std::size_t>(n), MCXT_ALLOC_HUGE));
	for (int i = 0; i < n; i++)
		tids[i] = vs->deleted[i].neighbors;
	qsort(tids, static_cast<std::size_t>(n), sizeof(ItemPointerData), CompareTids);

	for (int i = 0; i < n;) {
		BlockNumber blkno = ItemPointerGetBlockNumber(&tids[i]);
		int j = i;
		while (j < n && ItemPointerGetBlockNumber(&tids[j]) == blkno)
			j++;
		vacuum_delay_point();
		// Not through vacuum's buffer ring: pass 2 just read these pages into shared buffers,
		// and a ring would write each one back (flushing WAL first) to make room. On glove 200k
		// with 30% deleted the whole VACUUM took 26 s through the ring, as long without it as
		// before this pass existed (22-23 s; noisy machine, few runs).
		Buffer buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		// Only lists that still name someone: a vacuum redone after an interrupted one finds
		// most of them empty already, and writes nothing for those pages.
		bool any = false;
		for (int k = i; k < j && !any; k++) {
			auto *nt = ItemAt<HnswNeighborTuple>(index, BufferGetPage(buf), &tids[k], kHnswNeighborType);
			for (int s = 0; nt != nullptr && s < nt->count && !any; s++)
				any = ItemPointerIsValid(&NeighborSlots(nt)[s]);
		}
		if (any) {
			GenericXLogState *state = GenericXLogStart(index);
			Page page = GenericXLogRegisterBuffer(state, buf, 0);
			for (int k = i; k < j; k++) {
				auto *nt = ItemAt<HnswNeighborTuple>(index, page, &tids[k], kHnswNeighborType);
				for (int s = 0; nt != nullptr && s < nt->count; s++)
					ItemPointerSetInvalid(&NeighborSlots(nt)[s]);
			}
			GenericXLogFinish(state);
		}
		UnlockReleaseBuffer(buf);
		i = j;
	}
	pfree(tids);
}

// Pass 3b: free the deleted nodes' element and neighbour tuples (their line pointers stay,
// unused, so no other TID moves). A node's two tuples go in the same record even when they
// sit on different pages (large vectors): an element left without its list would make the
// next vacuum free whatever an insert had put in the list's slot meanwhile, and a list left
// without its element would never be freed.
void
FreeDeleted(VacuumState *vs)
{
	Relation index = vs->info->index;
	int n = vs->n_deleted;
	// vs->deleted is in element TID order already (pass 1 read the pages in order), so a page's
	// nodes are next to each other.
	constexpr int kMaxOther = MAX_GENERIC_XLOG_PAGES - 1;

	for (int i = 0; i < n;) {
		BlockNumber eblk = ItemPointerGetBlockNumber(&vs->deleted[i].element);
		int j = i;
		while (j < n && ItemPointerGetBlockNumber(&vs->deleted[j].element) == eblk)
			j++;

		// The other pages holding these nodes' lists, a record's worth at a time.
		auto *others = static_cast<BlockNumber *>(palloc(sizeof(BlockNumber) * static_cast<std::size_t>(j - i)));
		int n_others = 0;
		for (int k = i; k < j; k++) {
			BlockNumber nblk = ItemPointerGetBlockNumber(&vs->deleted[k].neighbors);
			if (nblk != eblk)
				others[n_others++] = nblk;
		}
		qsort(others, static_cast<std::size_t>(n_others), sizeof(BlockNumber), CompareBlocks);
		int distinct = 0;
		for (int k = 0; k < n_others; k++)
			if (distinct == 0 || others[distinct - 1] != others[k])
				others[distinct++] = others[k];

		for (int first = 0; first == 0 || first < distinct; first += kMaxOther) {
			vacuum_delay_point();
			int n_chunk = distinct - first < kMaxOther ? distinct - first : kMaxOther;
			BlockNumber blocks[MAX_GENERIC_XLOG_PAGES];
			int n_blocks = 0;
			blocks[n_blocks++] = eblk;
			for (int k = 0; k < n_chunk; k++)
				blocks[n_blocks++] = others[first + k];
			// Locked in block order, the same for every vacuum (inserts, which also hold two
			// data pages at once, are kept out by the update lock).
			qsort(blocks, static_cast<std::size_t>(n_blocks), sizeof(BlockNumber), CompareBlocks);
			Buffer bufs[MAX_GENERIC_XLOG_PAGES];
			Page pages[MAX_GENERIC_XLOG_PAGES];
			for (int b = 0; b < n_blocks; b++) {
				bufs[b] = ReadBufferExtended(index, MAIN_FORKNUM, blocks[b], RBM_NORMAL, vs->info->strategy);
				LockBuffer(bufs[b], BUFFER_LOCK_EXCLUSIVE);
			}
			GenericXLogState *state = GenericXLogStart(index);
			for (int b = 0; b < n_blocks; b++)
				pages[b] = GenericXLogRegisterBuffer(state, bufs[b], 0);
			auto page_of = [&](ItemPointer tid) -> Page {
				for (int b = 0; b < n_blocks; b++)
					if (blocks[b] == ItemPointerGetBlockNumber(tid))
						return pages[b];
				return nullptr;
			};

			// The tuples this record frees, highest offsets first (removing the last line
			// pointer shortens the array).
			auto *victims = static_cast<ItemPointerData *>(palloc(sizeof(ItemPointerData) * 2 * static_cast<std::size_t>(j - i)));
			int n_victims = 0;
			for (int k = i; k < j; k++) {
				DeletedNode &d = vs->deleted[k];
				Page npage = page_of(&d.neighbors);
				bool in_chunk = ItemPointerGetBlockNumber(&d.neighbors) == eblk ? first == 0 : npage != nullptr;
				if (!in_chunk)
					continue;
				// Still the deleted element this vacuum saw, and still its list.
				auto *e = ElementAt(&vs->ctx, page_of(&d.element), &d.element);
				if (e == nullptr || !e->deleted)
					continue;
				victims[n_victims++] = d.element;
				if (ItemPointerEquals(ElementNeighborTid(e), &d.neighbors) &&
				    ItemAt<HnswNeighborTuple>(index, npage, &d.neighbors, kHnswNeighborType) != nullptr)
					victims[n_victims++] = d.neighbors;
			}
			qsort(victims, static_cast<std::size_t>(n_victims), sizeof(ItemPointerData), CompareTidsDescending);
			for (int v = 0; v < n_victims; v++)
				PageIndexTupleDeleteNoCompact(page_of(&victims[v]), ItemPointerGetOffsetNumber(&victims[v]));
			pfree(victims);
			GenericXLogFinish(state);

			for (int b = 0; b < n_blocks; b++) {
				Size avail = PageGetFreeSpace(BufferGetPage(bufs[b]));
				UnlockReleaseBuffer(bufs[b]);
				RecordPageWithFreeSpace(index, blocks[b], avail);
			}
		}
		pfree(others);
		i = j;
	}
	IndexFreeSpaceMapVacuum(index);
}

// Pass 4: nodes no list points to any more (their only incoming edges came from deleted
// nodes, or the repaired lists chose others) cannot be found by a search. Each gets linked
// into the lists of its nearest nodes, as if it were being inserted.
void
LinkOrphans(VacuumState *vs)
{
	Relation index = vs->info->index;
	HnswContext *ctx = &vs->ctx;
	HnswEntryPoint entry = HnswReadEntryPoint(index);
	if (!ItemPointerIsValid(&entry.tid))
		return;

	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	VisitedSet pointed;
	VisitedInit(&pointed, 1024);
	for (BlockNumber blkno = kHnswMetaBlock + 1; blkno < nblocks; blkno++) {
		vacuum_delay_point();
		Buffer buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, vs->info->strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		ForEachItem(BufferGetPage(buf), [&](OffsetNumber, std::uint8_t type, std::uint8_t *item) {
			if (type != kHnswNeighborType)
				return;
			auto *nt = reinterpret_cast<HnswNeighborTuple *>(item);
			int count = nt->count < LevelSlotCount(0, ctx->m) ? nt->count : LevelSlotCount(0, ctx->m);
			for (int i = 0; i < count; i++) {
				if (ItemPointerIsValid(&NeighborSlots(nt)[i]))
					VisitedAdd(&pointed, TidKey(&NeighborSlots(nt)[i]));
			}
		});
		UnlockReleaseBuffer(buf);
	}

	auto *orphans = static_cast<HnswCandidate *>(palloc(sizeof(HnswCandidate) * MaxOffsetNumber));
	void *base = palloc(ctx->vector_bytes);
	for (BlockNumber blkno = kHnswMetaBlock + 1; blkno < nblocks; blkno++) {
		vacuum_delay_point();
		int live = ReadLiveElements(vs, blkno, orphans);
		int n = 0;
		for (int i = 0; i < live; i++) {
			if (!ItemPointerEquals(&orphans[i].element, &entry.tid) && VisitedAdd(&pointed, TidKey(&orphans[i].element)))
				orphans[n++] = orphans[i];
		}

		for (int i = 0; i < n; i++) {
			MemoryContext old = MemoryContextSwitchTo(vs->tmp_ctx);
			if (HnswLoadVector(ctx, &orphans[i].element, base)) {
				HnswCandidate start;
				if (HnswGreedyDescend(ctx, base, entry, 0, &start)) {
					HnswCandidate *found;
					int nf = HnswSearchLayer(ctx, base, &start, 1, ctx->ef_construction, 0, &found, true);
					int k = 0;
					auto *cands = static_cast<HnswCandidate *>(palloc(sizeof(HnswCandidate) * static_cast<std::size_t>(nf + 1)));
					for (int j = 0; j < nf; j++) {
						if (!found[j].deleted && !ItemPointerEquals(&found[j].element, &orphans[i].element))
							cands[k++] = found[j];
					}
					CandidateVectors cv = LoadCandidateVectors(ctx, cands, k);
					int *chosen = static_cast<int *>(palloc(sizeof(int) * static_cast<std::size_t>(LevelSlotCount(0, ctx->m))));
					int kept = SelectNeighbors(ctx, cands, cv, LevelSlotCount(0, ctx->m), chosen);
					for (int j = 0; j < kept; j++)
						HnswLinkBack(ctx, cands[chosen[j]], &orphans[i].element, cands[chosen[j]].distance, 0);
					vs->orphans_linked++;
				}
			}
			MemoryContextSwitchTo(old);
			MemoryContextReset(vs->tmp_ctx);
		}
	}
}

// Pass 5: pass 4 finds nodes nothing points to, not groups that point only to each other. Those
// form when repairs and pruning cut the last edges into a region (seen with many equal vectors
// under deletes and inserts, where every distance ties: 100 to 130 of 3,300 live rows left
// unreachable). A walk from the entry point finds them, and each gets an edge from its nearest
// reached node. The walk holds the whole base layer in memory (about 20 bytes a slot), so it
// runs only when that fits maintenance_work_mem.
bool
WalkFits(VacuumState *vs)
{
	if (HnswWalkFits(&vs->ctx, vs->live_tuples))
		return true;
	ereport(DEBUG1, (errmsg("hnsw vacuum of \"%s\": reachability walk skipped, it needs more than maintenance_work_mem",
	                        RelationGetRelationName(vs->info->index))));
	return false;
}

void
LinkIslands(VacuumState *vs)
{
	if (!WalkFits(vs))
		return;
	MemoryContext old = MemoryContextSwitchTo(vs->tmp_ctx);
	vs->islands_linked += HnswLinkUnreachable(&vs->ctx, true);
	MemoryContextSwitchTo(old);
	MemoryContextReset(vs->tmp_ctx);
}

// Passes 4 and 5 alone, for a vacuum that deletes nothing: inserts prune edges too, and can
// leave a region with no way in; and a vacuum stopped after freeing (a crash, a cancel) leaves
// nothing deleted for the next one to repair, only the nodes its repair cut off. The walk runs
// first without the update lock, so inserts go on; only when something is unreachable does it
// walk again with inserts kept out, and link.
void
RelinkUnreachable(IndexVacuumInfo *info, double live_tuples)
{
	VacuumState vs;
	memset(&vs, 0, sizeof vs);
	vs.info = info;
	HnswInitContext(&vs.ctx, info->index, false);
	vs.live_tuples = live_tuples;
	vs.tmp_ctx = AllocSetContextCreate(CurrentMemoryContext, "hnsw vacuum", ALLOCSET_DEFAULT_SIZES);
	if (WalkFits(&vs)) {
		MemoryContext old = MemoryContextSwitchTo(vs.tmp_ctx);
		int unreached = HnswLinkUnreachable(&vs.ctx, true, true);
		MemoryContextSwitchTo(old);
		MemoryContextReset(vs.tmp_ctx);
		if (unreached > 0) {
			LockPage(info->index, kHnswUpdateLockBlock, ExclusiveLock);
			LinkIslands(&vs);
			UnlockPage(info->index, kHnswUpdateLockBlock, ExclusiveLock);
		}
		ereport(info->message_level, (errmsg("index \"%s\": %d nodes unreachable, %d relinked",
		                                     RelationGetRelationName(info->index), unreached, vs.islands_linked)));
	}
	MemoryContextDelete(vs.tmp_ctx);
}

} // namespace

} // namespace quiver::pg::hnsw

using namespace quiver::pg::hnsw;

extern "C" IndexBulkDeleteResult *
hnswbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats, IndexBulkDeleteCallback callback,
               void *callback_state)
{
	return quiver::pg::Guarded([&] {
		Relation index = info->index;
		if (stats == nullptr)
			stats = static_cast<IndexBulkDeleteResult *>(palloc0(sizeof(IndexBulkDeleteResult)));

		VacuumState vs;
		memset(&vs, 0, sizeof vs);
		vs.info = info;
		HnswInitContext(&vs.ctx, index, false);
		vs.best_live_level = -1;
		HnswMetaData meta;
		HnswReadMeta(index, &meta);
		vs.seeded = meta.max_seeds > 0;
		vs.seeds.max_seeds = meta.max_seeds;
		vs.tmp_ctx = AllocSetContextCreate(CurrentMemoryContext, "hnsw vacuum", ALLOCSET_DEFAULT_SIZES);

		BlockNumber nblocks = RelationGetNumberOfBlocks(index);
		for (BlockNumber blkno = kHnswMetaBlock + 1; blkno < nblocks; blkno++) {
			vacuum_delay_point();
			RemoveDeadTids(&vs, blkno, stats, callback, callback_state);
		}

		if (vs.n_deleted > 0) {
			DeletedMap map;
			DeletedMapBuild(&map, vs.deleted, vs.n_deleted);
			// Inserts would link new nodes to nodes being freed: keep them out meanwhile.
			LockPage(index, kHnswUpdateLockBlock, ExclusiveLock);
			RepairGraph(&vs, &map);
			EmptyDeletedLists(&vs);
			FreeDeleted(&vs);
			LinkOrphans(&vs);
			LinkIslands(&vs);
			UnlockPage(index, kHnswUpdateLockBlock, ExclusiveLock);
			ereport(info->message_level,
			        (errmsg("index \"%s\": %d deleted nodes freed, %d nodes relinked that nothing pointed to, %d from unreachable regions",
			                RelationGetRelationName(index), vs.n_deleted, vs.orphans_linked, vs.islands_linked)));
		} else {
			RelinkUnreachable(info, vs.live_tuples);
		}

		MemoryContextDelete(vs.tmp_ctx);
		stats->num_pages = RelationGetNumberOfBlocks(index);
		stats->num_index_tuples = vs.live_tuples;
		return stats;
	});
}

extern "C" IndexBulkDeleteResult *
hnswvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	return quiver::pg::Guarded([&]() -> IndexBulkDeleteResult * {
		if (info->analyze_only)
			return stats;
		if (stats == nullptr) {
			// No row was removed (an insert-only table's autovacuum, or nothing dead).
			RelinkUnreachable(info, Max(info->num_heap_tuples, 0));
			// The index's row count is not known here (partial indexes, NULLs): say so.
			stats = static_cast<IndexBulkDeleteResult *>(palloc0(sizeof(IndexBulkDeleteResult)));
			stats->num_index_tuples = Max(info->num_heap_tuples, 0);
			stats->estimated_count = true;
		}
		stats->num_pages = RelationGetNumberOfBlocks(info->index);
		return stats;
	});
}
