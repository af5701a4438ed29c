// Ordered index scans: ORDER BY column <op> query LIMIT k.
//
// The first call to gettuple runs the whole search (greedy descent, then ef_search candidates
// at level 0) and later calls hand out the heap TIDs of the results, nearest first. Results
// are exact distances from the stored vectors, so the executor needs no recheck.
#include <cstring>

#include "hnsw_search.hpp"

extern "C" {
#include "access/relscan.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/float.h"
#include "utils/snapmgr.h"
}

namespace quiver::pg::hnsw {

namespace {

// Iterative scans resume the layer-0 search where the previous batch stopped: nodes visited
// but not returned wait in `pending`, nodes not yet expanded in `frontier`, and the visited set
// persists, so each batch hands out ef_search new nodes, nearest first, until
// hnsw.max_scan_tuples nodes were visited or the memory budget is spent.
struct ScanState {
	HnswContext ctx;
	MemoryContext search_ctx; // reset on every rescan
	void *query; // in the index's value format
	bool started;
	bool exhausted;
	VisitedSet visited;
	CandidateHeap<false> pending;
	CandidateHeap<false> frontier;
	int visited_count;
	HnswCandidate *results;
	int n_results;
	int next_result;
	float last_distance; // of the last node handed out (strict_order)
	ItemPointerData tids[kHnswHeapTids];
	int n_tids;
	int next_tid;
	ItemPointerData *neighbors;
	HnswCandidate *loaded;
};

bool
WithinBudget(const ScanState *so)
{
	if (so->visited_count >= hnsw_max_scan_tuples)
		return false;
	double bytes = static_cast<double>(so->visited.mask + 1) * sizeof(std::uint64_t) +
	               static_cast<double>(so->pending.capacity + so->frontier.capacity) * sizeof(HnswCandidate);
	return bytes <= static_cast<double>(work_mem) * 1024.0 * hnsw_scan_mem_multiplier;
}

void
StartSearch(ScanState *so)
{
	so->started = true;
	so->exhausted = true;
	// The entry point can be moved by vacuum between reading it and reading its node.
	HnswCandidate start;
	HnswMetaData meta;
	bool found = false;
	for (int attempt = 0; attempt < 3 && !found; attempt++) {
		HnswReadMeta(so->ctx.index, &meta);
		if (meta.entry_blkno == InvalidBlockNumber)
			return;
		HnswEntryPoint entry;
		ItemPointerSet(&entry.tid, meta.entry_blkno, meta.entry_offno);
		entry.level = meta.entry_level;
		found = HnswGreedyDescend(&so->ctx, so->query, entry, 0, &start);
	}
	if (!found)
		return;
	VisitedInit(&so->visited, static_cast<std::uint32_t>(hnsw_ef_search) * 8);
	so->pending.Init(hnsw_ef_search * 2);
	so->frontier.Init(hnsw_ef_search * 2);
	so->neighbors = static_cast<ItemPointerData *>(palloc(sizeof(ItemPointerData) * LevelSlotCount(0, so->ctx.m)));
	so->loaded = static_cast<HnswCandidate *>(palloc(sizeof(HnswCandidate) * LevelSlotCount(0, so->ctx.m)));
	VisitedAdd(&so->visited, TidKey(&start.element));
	so->visited_count = 1;
	so->pending.Push(start);
	so->exhausted = false;

	// Seeds (inner-product graphs of few dimensions; see HnswOfferSeed) start the search too.
	int n_seeds = Min(meta.n_seeds, kHnswMaxSeeds);
	if (n_seeds > 0) {
		ItemPointerData tids[kHnswMaxSeeds];
		int fresh = 0;
		for (int i = 0; i < n_seeds; i++)
			if (VisitedAdd(&so->visited, TidKey(&meta.seeds[i])))
				tids[fresh++] = meta.seeds[i];
		HnswCandidate loaded[kHnswMaxSeeds];
		int n = HnswLoadCandidates(&so->ctx, tids, fresh, so->query, loaded);
		for (int i = 0; i < n; i++)
			so->pending.Push(loaded[i]);
		so->visited_count += fresh;
	}
}

// Finds the next ef_search nodes into so->results, sorted by distance.
void
NextBatch(ScanState *so)
{
	bool iterative = hnsw_iterative_scan != kHnswIterativeOff;
	int ef = hnsw_ef_search;
	CandidateHeap<true> best;
	best.Init(ef + 1);

	while (so->pending.size > 0 && best.size < ef) {
		HnswCandidate c = so->pending.Pop();
		best.Push(c);
		so->frontier.Push(c);
	}

	while (so->frontier.size > 0) {
		CHECK_FOR_INTERRUPTS();
		if (best.size >= ef && so->frontier.Top().distance > best.Top().distance)
			break;
		HnswCandidate c = so->frontier.Pop();
		int count = HnswLoadNeighbors(&so->ctx, &c.neighbors, 0, so->neighbors);
		int fresh = 0;
		for (int i = 0; i < count; i++) {
			if (VisitedAdd(&so->visited, TidKey(&so->neighbors[i])))
				so->neighbors[fresh++] = so->neighbors[i];
		}
		so->visited_count += fresh;
		int loaded = HnswLoadCandidates(&so->ctx, so->neighbors, fresh, so->query, so->loaded);
		for (int i = 0; i < loaded; i++) {
			const HnswCandidate &e = so->loaded[i];
			if (best.size < ef || e.distance < best.Top().distance) {
				best.Push(e);
				so->frontier.Push(e);
				if (best.size > ef) {
					HnswCandidate evicted = best.Pop();
					if (iterative)
						so->pending.Push(evicted);
				}
			} else if (iterative) {
				so->pending.Push(e);
			}
		}
	}

	qsort(best.items, static_cast<std::size_t>(best.size), sizeof(HnswCandidate), CompareCandidatesByDistance);
	so->results = best.items;
	so->n_results = best.size;
	so->next_result = 0;

	if (!iterative || (so->pending.size == 0 && so->frontier.size == 0) || !WithinBudget(so))
		so->exhausted = true;
}

} // namespace

} // namespace quiver::pg::hnsw

using namespace quiver::pg::hnsw;

extern "C" IndexScanDesc
hnswbeginscan(Relation index, int nkeys, int norderbys)
{
	return quiver::pg::Guarded([&] {
		IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
		auto *so = static_cast<ScanState *>(palloc0(sizeof(ScanState)));
		HnswInitContext(&so->ctx, index, false);
		so->search_ctx = AllocSetContextCreate(CurrentMemoryContext, "hnsw scan", ALLOCSET_DEFAULT_SIZES);
		scan->opaque = so;
		return scan;
	});
}

extern "C" void
hnswrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys)
{
	quiver::pg::Guarded([&] {
		auto *so = static_cast<ScanState *>(scan->opaque);
		quiver::pg::CopyScanKeys(scan, keys, nkeys, orderbys, norderbys);
		MemoryContextReset(so->search_ctx);
		so->started = false;
		so->exhausted = false;
		so->query = nullptr;
		so->results = nullptr;
		so->n_results = so->next_result = 0;
		so->n_tids = so->next_tid = 0;
		so->last_distance = -get_float4_infinity();
	});
}

extern "C" bool
hnswgettuple(IndexScanDesc scan, ScanDirection)
{
	return quiver::pg::Guarded([&]() -> bool {
		auto *so = static_cast<ScanState *>(scan->opaque);

		if (!so->started) {
			if (scan->orderByData == nullptr)
				elog(ERROR, "cannot scan hnsw index without order");
			// The search reads pages without a heavyweight lock; only an MVCC snapshot makes
			// that consistent with what the executor then fetches.
			if (!IsMVCCSnapshot(scan->xs_snapshot))
				elog(ERROR, "non-MVCC snapshots are not supported with hnsw");

			MemoryContext old = MemoryContextSwitchTo(so->search_ctx);
			// A NULL query orders nothing; the rows still come back, in graph order from a zero
			// vector (zero bytes are also an empty sparse vector).
			if (!(scan->orderByData[0].sk_flags & SK_ISNULL)) {
				so->query = IndexQueryValues(&so->ctx, scan->orderByData[0].sk_argument);
				IndexPrepareVector(&so->ctx, so->query);
			} else {
				so->query = palloc0(so->ctx.vector_bytes);
			}
			StartSearch(so);
			MemoryContextSwitchTo(old);
			pgstat_count_index_scan(scan->indexRelation);
		}

		for (;;) {
			if (so->next_tid < so->n_tids) {
				scan->xs_heaptid = so->tids[so->next_tid++];
				scan->xs_recheck = false;
				scan->xs_recheckorderby = false;
				return true;
			}
			if (so->next_result < so->n_results) {
				HnswCandidate &c = so->results[so->next_result++];
				// strict_order never goes back to a nearer node found late.
				if (hnsw_iterative_scan == kHnswIterativeStrict && c.distance < so->last_distance)
					continue;
				if (c.distance > so->last_distance)
					so->last_distance = c.distance;
				so->n_tids = HnswLoadHeapTids(&so->ctx, c, so->query, so->tids);
				so->next_tid = 0;
				continue;
			}
			if (so->exhausted)
				return false;
			MemoryContext old = MemoryContextSwitchTo(so->search_ctx);
			if (so->results != nullptr)
				pfree(so->results);
			NextBatch(so);
			MemoryContextSwitchTo(old);
		}
	});
}

extern "C" void
hnswendscan(IndexScanDesc scan)
{
	quiver::pg::Guarded([&] {
		auto *so = static_cast<ScanState *>(scan->opaque);
		MemoryContextDelete(so->search_ctx);
		pfree(so);
		scan->opaque = nullptr;
	});
}
