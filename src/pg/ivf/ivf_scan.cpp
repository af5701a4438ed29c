// ivfflat ordered scans: ORDER BY column <op> query LIMIT k.
//
// The first call to gettuple ranks the lists by their centre's distance to the query, reads
// every entry of the nearest `ivfflat.probes` lists, and hands the rows out nearest first
// (a heap, so a LIMIT 10 costs no full sort). With ivfflat.iterative_scan = relaxed_order, a
// scan that runs out of rows (a filter rejected them) probes the next `probes` lists, up to
// ivfflat.max_probes lists in all. Distances are exact, so the executor needs no recheck.
//
// With compressed lists (quantizer = 'sq8') the distances to the entries are approximate: the
// nearest quiver.ivfflat_rerank candidates by that distance are re-ranked by their exact
// distance, computed from the column's value fetched from the table with the scan's snapshot
// (a candidate the snapshot cannot see is dropped: the executor would not return it either),
// and handed out in that order; then the next ones. Within a window the order is exact.
#include <algorithm>
#include <cstring>

#include "quiver/sq8.hpp"
#include "ivf.hpp"

extern "C" {
#include "access/relscan.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
}

namespace quiver::pg::ivf {

namespace {

struct ScanItem {
	float distance;
	ItemPointerData tid;
};

// Nearest first out of std::push_heap / pop_heap (a max-heap on `greater`).
bool
Farther(const ScanItem &a, const ScanItem &b)
{
	return a.distance > b.distance;
}

struct RankedList {
	float distance;
	int list;
};

struct ScanState {
	IvfContext ctx;
	MemoryContext search_ctx; // reset on every rescan
	void *query;              // in the index's value format
	core::Sq8Query *sq8;      // sq8: the query's tables (owned through search_ctx's callback)
	bool started;
	int probes;     // lists per batch
	int max_probes; // lists in all
	RankedList *ranked;
	int next_list; // the next list of `ranked` to probe
	ScanItem *items;
	std::size_t n_items;
	std::size_t cap_items;
	// sq8 re-ranking: the current window, exact distances, nearest first
	ScanItem *ranked_window;
	int n_window;
	int next_window;
	IndexFetchTableData *fetch; // kept across rescans, ended with the scan
	TupleTableSlot *slot;
	MemoryContext rerank_ctx; // per window
};

void
FreeSq8Query(void *arg)
{
	auto *so = static_cast<ScanState *>(arg);
	delete so->sq8;
	so->sq8 = nullptr;
}

// The approximate distance to an entry's codes, in the operator's order.
float
Sq8EntryDistance(const ScanState *so, const std::uint8_t *codes)
{
	float d = core::Sq8Distance(*so->sq8, codes);
	switch (so->ctx.metric) {
	case core::Metric::InnerProduct:
		return -d;
	case core::Metric::Cosine:
		return 1.0f - d;
	default:
		return d;
	}
}

void
AddItem(ScanState *so, float distance, ItemPointer tid)
{
	if (so->n_items == so->cap_items) {
		so->cap_items = so->cap_items == 0 ? 1024 : so->cap_items * 2;
		so->items = static_cast<ScanItem *>(
		    so->items == nullptr ? MemoryContextAllocHuge(so->search_ctx, so->cap_items * sizeof(ScanItem))
		                         : repalloc_huge(so->items, so->cap_items * sizeof(ScanItem)));
	}
	so->items[so->n_items].distance = distance;
	so->items[so->n_items].tid = *tid;
	so->n_items++;
}

// Reads the centres and ranks the lists by distance to the query (nearest first, then list
// order), keeping the first max_probes.
void
RankLists(ScanState *so)
{
	IvfLoadMeta(&so->ctx);
	int lists = so->ctx.lists;
	so->probes = std::min(ivfflat_probes, lists);
	so->max_probes = ivfflat_iterative_scan != kIvfIterativeOff ? std::max(ivfflat_max_probes, ivfflat_probes)
	                                                              : ivfflat_probes;
	so->max_probes = std::min(so->max_probes, lists);

	auto *all = static_cast<RankedList *>(palloc(sizeof(RankedList) * static_cast<std::size_t>(lists)));
	for (int list = 0; list < lists;) {
		BlockNumber blkno = ListBlock(&so->ctx, list);
		Buffer buf = ReadBuffer(so->ctx.index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		Page page = BufferGetPage(buf);
		for (; list < lists && ListBlock(&so->ctx, list) == blkno; list++) {
			IvfListTuple *t =
			    IvfListAt(so->ctx.index, page, blkno, ListOffset(&so->ctx, list), so->ctx.vector_bytes);
			all[list].distance = IndexDistance(&so->ctx, so->query, ListCenter(t));
			all[list].list = list;
		}
		UnlockReleaseBuffer(buf);
	}
	std::partial_sort(all, all + so->max_probes, all + lists, [](const RankedList &a, const RankedList &b) {
		return a.distance < b.distance || (a.distance == b.distance && a.list < b.list);
	});
	so->ranked = all;
	so->next_list = 0;
}

// Reads every entry of one list, with its distance to the query.
void
ProbeList(ScanState *so, int list)
{
	BlockNumber center_blkno = ListBlock(&so->ctx, list);
	Buffer buf = ReadBuffer(so->ctx.index, center_blkno);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	BlockNumber blkno = IvfListAt(so->ctx.index, BufferGetPage(buf), center_blkno, ListOffset(&so->ctx, list),
	                              so->ctx.vector_bytes)
	                        ->start_blkno;
	UnlockReleaseBuffer(buf);

	std::size_t entry_size = EntryTupleSize(so->ctx.entry_bytes);
	bool sq8 = so->ctx.quantizer == kIvfQuantizerSq8;
	while (blkno != InvalidBlockNumber) {
		CHECK_FOR_INTERRUPTS();
		buf = ReadBuffer(so->ctx.index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		Page page = BufferGetPage(buf);
		auto *opaque = PageOpaque(page);
		if (PageIsNew(page) || opaque->page_id != kIvfPageId)
			ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
			                errmsg("index \"%s\" block %u is not a valid ivfflat page",
			                       RelationGetRelationName(so->ctx.index), blkno)));
		OffsetNumber maxoff = PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off = OffsetNumberNext(off)) {
			ItemId item = PageGetItemId(page, off);
			if (!ItemIdIsNormal(item))
				continue;
			if (ItemIdGetLength(item) != entry_size)
				ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
				                errmsg("index \"%s\" block %u item %u is not an entry",
				                       RelationGetRelationName(so->ctx.index), blkno, off)));
			auto *entry = reinterpret_cast<IvfEntryTuple *>(PageGetItem(page, item));
			float distance = sq8 ? Sq8EntryDistance(so, reinterpret_cast<const std::uint8_t *>(EntryValues(entry)))
			                     : IndexDistance(&so->ctx, so->query, EntryValues(entry));
			AddItem(so, distance, &entry->heap_tid);
		}
		BlockNumber next = opaque->next_blkno;
		UnlockReleaseBuffer(buf);
		blkno = next;
	}
}

// sq8: the next window of candidates (nearest by approximate distance), ranked by their exact
// distance; false when the probed lists have no candidate left.
bool
RerankWindow(ScanState *so, IndexScanDesc scan)
{
	if (so->ranked_window == nullptr)
		so->ranked_window = static_cast<ScanItem *>(
		    MemoryContextAllocHuge(so->search_ctx, sizeof(ScanItem) * static_cast<std::size_t>(ivfflat_rerank)));
	if (so->fetch == nullptr) {
		// Scan-lifetime objects, in the scan's own context (not search_ctx, reset on rescan).
		MemoryContext old = MemoryContextSwitchTo(GetMemoryChunkContext(so));
		so->fetch = table_index_fetch_begin(scan->heapRelation);
		so->slot = table_slot_create(scan->heapRelation, nullptr);
		so->rerank_ctx = AllocSetContextCreate(CurrentMemoryContext, "ivfflat rerank", ALLOCSET_DEFAULT_SIZES);
		MemoryContextSwitchTo(old);
	}
	AttrNumber attnum = so->ctx.index->rd_index->indkey.values[0];
	so->n_window = so->next_window = 0;
	MemoryContext old = MemoryContextSwitchTo(so->rerank_ctx);
	void *values = palloc(so->ctx.vector_bytes);
	while (so->n_window < ivfflat_rerank && so->n_items > 0) {
		std::pop_heap(so->items, so->items + so->n_items, Farther);
		so->n_items--;
		ItemPointerData tid = so->items[so->n_items].tid;
		bool call_again = false, all_dead = false;
		if (!table_index_fetch_tuple(so->fetch, &tid, scan->xs_snapshot, so->slot, &call_again, &all_dead))
			continue;
		bool isnull;
		Datum datum = slot_getattr(so->slot, attnum, &isnull);
		if (isnull)
			continue;
		IndexDatumValues(&so->ctx, datum, values);
		IndexPrepareVector(&so->ctx, values);
		so->ranked_window[so->n_window].distance = IndexDistance(&so->ctx, so->query, values);
		so->ranked_window[so->n_window].tid = so->items[so->n_items].tid;
		so->n_window++;
		ExecClearTuple(so->slot);
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(so->rerank_ctx);
	std::sort(so->ranked_window, so->ranked_window + so->n_window,
	          [](const ScanItem &a, const ScanItem &b) { return a.distance < b.distance; });
	return so->n_window > 0 || so->n_items > 0;
}

// Probes the next batch of lists; false when no list is left to probe.
bool
NextBatch(ScanState *so)
{
	if (so->next_list >= so->max_probes)
		return false;
	so->n_items = 0;
	for (int i = 0; i < so->probes && so->next_list < so->max_probes; i++)
		ProbeList(so, so->ranked[so->next_list++].list);
	std::make_heap(so->items, so->items + so->n_items, Farther);
	return true;
}

} // namespace

} // namespace quiver::pg::ivf

using namespace quiver::pg::ivf;

extern "C" IndexScanDesc
ivfflatbeginscan(Relation index, int nkeys, int norderbys)
{
	return quiver::pg::Guarded([&] {
		IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
		auto *so = static_cast<ScanState *>(palloc0(sizeof(ScanState)));
		IvfInitContext(&so->ctx, index);
		so->search_ctx = AllocSetContextCreate(CurrentMemoryContext, "ivfflat scan", ALLOCSET_DEFAULT_SIZES);
		scan->opaque = so;
		return scan;
	});
}

extern "C" void
ivfflatrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys)
{
	quiver::pg::Guarded([&] {
		auto *so = static_cast<ScanState *>(scan->opaque);
		quiver::pg::CopyScanKeys(scan, keys, nkeys, orderbys, norderbys);
		MemoryContextReset(so->search_ctx);
		so->started = false;
		so->query = nullptr;
		so->ranked = nullptr;
		so->items = nullptr;
		so->n_items = so->cap_items = 0;
		so->ranked_window = nullptr;
		so->n_window = so->next_window = 0;
	});
}

extern "C" bool
ivfflatgettuple(IndexScanDesc scan, ScanDirection)
{
	return quiver::pg::Guarded([&]() -> bool {
		auto *so = static_cast<ScanState *>(scan->opaque);
		MemoryContext old = MemoryContextSwitchTo(so->search_ctx);
		if (!so->started) {
			if (scan->orderByData == nullptr)
				elog(ERROR, "cannot scan ivfflat index without order");
			// Lists are read without a heavyweight lock; only an MVCC snapshot makes that
			// consistent with what the executor then fetches.
			if (!IsMVCCSnapshot(scan->xs_snapshot))
				elog(ERROR, "non-MVCC snapshots are not supported with ivfflat");
			// A NULL query orders nothing; the rows still come back, ordered from a zero vector.
			if (!(scan->orderByData[0].sk_flags & SK_ISNULL)) {
				so->query = IndexQueryValues(&so->ctx, scan->orderByData[0].sk_argument);
				IndexPrepareVector(&so->ctx, so->query);
			} else {
				so->query = palloc0(so->ctx.vector_bytes);
			}
			RankLists(so);
			if (so->ctx.quantizer == kIvfQuantizerSq8) {
				auto *q = static_cast<float *>(palloc(sizeof(float) * static_cast<std::size_t>(so->ctx.dims)));
				IndexWidenVector(&so->ctx, so->query, q);
				auto *cb = static_cast<MemoryContextCallback *>(palloc(sizeof(MemoryContextCallback)));
				cb->func = FreeSq8Query;
				cb->arg = so;
				MemoryContextRegisterResetCallback(so->search_ctx, cb);
				so->sq8 = new quiver::core::Sq8Query(quiver::core::Sq8PrepareQuery(so->ctx.sq8_lower, so->ctx.sq8_step, q,
				                                                    static_cast<std::size_t>(so->ctx.dims),
				                                                    so->ctx.metric == quiver::core::Metric::L2));
			}
			so->started = true;
			NextBatch(so);
			pgstat_count_index_scan(scan->indexRelation);
		}
		bool found = false;
		bool sq8 = so->ctx.quantizer == kIvfQuantizerSq8;
		for (;;) {
			if (sq8) {
				if (so->next_window < so->n_window) {
					scan->xs_heaptid = so->ranked_window[so->next_window++].tid;
					scan->xs_recheck = false;
					scan->xs_recheckorderby = false;
					found = true;
					break;
				}
				if (so->n_items > 0) {
					RerankWindow(so, scan);
					continue;
				}
			} else if (so->n_items > 0) {
				std::pop_heap(so->items, so->items + so->n_items, Farther);
				so->n_items--;
				scan->xs_heaptid = so->items[so->n_items].tid;
				scan->xs_recheck = false;
				scan->xs_recheckorderby = false;
				found = true;
				break;
			}
			if (!NextBatch(so))
				break;
		}
		MemoryContextSwitchTo(old);
		return found;
	});
}

extern "C" void
ivfflatendscan(IndexScanDesc scan)
{
	quiver::pg::Guarded([&] {
		auto *so = static_cast<ScanState *>(scan->opaque);
		MemoryContextDelete(so->search_ctx);
		if (so->fetch != nullptr) {
			table_index_fetch_end(so->fetch);
			ExecDropSingleTupleTableSlot(so->slot);
			MemoryContextDelete(so->rerank_ctx);
		}
		pfree(so);
		scan->opaque = nullptr;
	});
}
