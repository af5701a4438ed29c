// ivfflat ordered scans: ORDER BY column <op> query LIMIT k.
//
// The first call to gettuple ranks the lists by their centre's distance to the query, reads
// every entry of the nearest `ivfflat.probes` lists, and hands the rows out nearest first
// (a heap, so a LIMIT 10 costs no full sort). With ivfflat.iterative_scan = relaxed_order, a
// scan that runs out of rows (a filter rejected them) probes the next `probes` lists, up to
// ivfflat.max_probes lists in all. Distances are exact, so the executor needs no recheck.
#include <algorithm>
#include <cstring>

#include "ivf.hpp"

extern "C" {
#include "access/relscan.h"
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
	bool started;
	int probes;     // lists per batch
	int max_probes; // lists in all
	RankedList *ranked;
	int next_list; // the next list of `ranked` to probe
	ScanItem *items;
	std::size_t n_items;
	std::size_t cap_items;
};

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
	IvfMetaData meta;
	IvfReadMeta(so->ctx.index, &meta);
	so->ctx.lists = static_cast<int>(meta.lists);
	int lists = so->ctx.lists;
	so->probes = std::min(ivfflat_probes, lists);
	so->max_probes = ivfflat_iterative_scan != kIvfIterativeOff ? std::max(ivfflat_max_probes, ivfflat_probes)
	                                                              : ivfflat_probes;
	so->max_probes = std::min(so->max_probes, lists);

	auto *all = static_cast<RankedList *>(palloc(sizeof(RankedList) * static_cast<std::size_t>(lists)));
	for (int list = 0; list < lists;) {
		BlockNumber blkno = ListBlock(list, so->ctx.per_page);
		Buffer buf = ReadBuffer(so->ctx.index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		Page page = BufferGetPage(buf);
		for (; list < lists && ListBlock(list, so->ctx.per_page) == blkno; list++) {
			IvfListTuple *t =
			    IvfListAt(so->ctx.index, page, blkno, ListOffset(list, so->ctx.per_page), so->ctx.vector_bytes);
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
	BlockNumber center_blkno = ListBlock(list, so->ctx.per_page);
	Buffer buf = ReadBuffer(so->ctx.index, center_blkno);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	BlockNumber blkno = IvfListAt(so->ctx.index, BufferGetPage(buf), center_blkno, ListOffset(list, so->ctx.per_page),
	                              so->ctx.vector_bytes)
	                        ->start_blkno;
	UnlockReleaseBuffer(buf);

	std::size_t entry_size = EntryTupleSize(so->ctx.vector_bytes);
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
			AddItem(so, IndexDistance(&so->ctx, so->query, EntryValues(entry)), &entry->heap_tid);
		}
		BlockNumber next = opaque->next_blkno;
		UnlockReleaseBuffer(buf);
		blkno = next;
	}
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
			so->started = true;
			NextBatch(so);
			pgstat_count_index_scan(scan->indexRelation);
		}
		bool found = false;
		for (;;) {
			if (so->n_items > 0) {
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
		pfree(so);
		scan->opaque = nullptr;
	});
}
