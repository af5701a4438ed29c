// ivfflat ordered scans: ORDER BY column <op> query LIMIT k.
//
// The first call to gettuple ranks the lists by their centre's distance to the query, reads
// every entry of the nearest `ivfflat.probes` lists, and hands the rows out nearest first
// (a heap, so a LIMIT 10 costs no full sort). With ivfflat.iterative_scan = relaxed_order, a
// scan that runs out of rows (a filter rejected them) probes the next `probes` lists, up to
// ivfflat.max_probes lists in all. Distances are exact, so the executor needs no recheck.
//
// With compressed lists (quantizer = 'sq8' or 'pq') an entry's distance is known only
// approximately, but each entry stores an upper bound e of the distance between its vector
// and what its codes stand for, which makes a lower bound of its exact distance: for L2
// (max(0, sqrt(approx) - e))^2, for inner product and cosine approx - |q| e. Candidates are
// taken in order of that bound, quiver.ivfflat_rerank at a time, and re-ranked by their exact
// distance (the column's value fetched from the table with the scan's snapshot; a candidate
// the snapshot cannot see is dropped, as the executor would drop it) into a heap; a row is
// handed out once its exact distance is no larger than the next candidate's bound. So rows
// come in exact order within the probed lists, with as few heap fetches as the bounds allow.
// With ivfflat.iterative_scan = relaxed_order, which allows rows out of order anyway, each
// re-ranked window goes out whole before the next is read: far fewer heap fetches where the
// bounds are loose (pq). Windows are then taken in order of the approximate distance itself,
// the best guess of the exact one: bounds rank a row by how poor its codes are as much as by
// its distance (on glove, pq recall@10 at 40 probes 0.920 by bound, 0.949 by approximation).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "quiver/half.hpp"
#include "quiver/pq.hpp"
#include "quiver/sq8.hpp"
#include "ivf.hpp"
#include "../index/rerank.hpp"

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

// Re-ranking windows when quiver.ivfflat_rerank is 0. sq8 bounds are tight: a window a little
// larger than a LIMIT 10 serves most queries with one window. pq codes are coarse: its exact
// top 10 is spread over the first 100 to 200 candidates (glove 200k: recall@10 with relaxed
// order 0.949 with 100, 0.955 with 200).
constexpr int kSq8Rerank = 20;
constexpr int kPqRerank = 200;

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
	int list;                // ties go to the first list, as in the build's assignment
	BlockNumber start_blkno; // read with the centre: a probe needs no second look at it
};

struct ScanState {
	IvfContext ctx;
	MemoryContext search_ctx; // reset on every rescan
	void *query;              // in the index's value format
	void *query_raw;          // the same not normalized, for the table's values (HeapRowDistance)
	core::Sq8Query *sq8;      // sq8: the query's tables (owned through search_ctx's callback)
	float *pq_table;          // pq: the table of the list being probed (pq_m * 256 floats)
	float *query_f;           // pq: the query as floats
	float *center_f;          // pq: the centre of the list being probed
	float pq_offset;          // pq: what the residual's table leaves out (q . centre for dot products)
	bool started;
	int probes;     // lists per batch
	int max_probes; // lists in all
	RankedList *ranked;
	int next_list; // the next list of `ranked` to probe
	ScanItem *items;
	std::size_t n_items;
	std::size_t cap_items;
	// Quantized lists: items hold lower bounds (approximate distances with relaxed order); the
	// re-ranked rows wait in `exact` (a heap).
	float query_norm;
	int rerank;   // quiver.ivfflat_rerank when the scan started
	bool relaxed; // ivfflat.iterative_scan = relaxed_order: re-ranked windows go out as they are
	ScanItem *exact;
	std::size_t n_exact;
	std::size_t cap_exact;
	HeapValueReader reader; // kept across rescans, ended with the scan
};

void
FreeSq8Query(void *arg)
{
	auto *so = static_cast<ScanState *>(arg);
	delete so->sq8;
	so->sq8 = nullptr;
}

// The order of an entry among the candidates, in the operator's order: a lower bound of its
// exact distance, from its codes and its error bound, or with relaxed order its approximate
// distance.
float
QuantizedRank(const ScanState *so, const IvfEntryRef &entry)
{
	const auto *codes = reinterpret_cast<const std::uint8_t *>(entry.values);
	float d = so->sq8 != nullptr
	              ? core::Sq8Distance(*so->sq8, codes)
	              : so->pq_offset + core::PqTableDistance(so->pq_table, codes, static_cast<std::size_t>(so->ctx.pq_m));
	// Without the error term the bound below is the approximate distance itself.
	float error = so->relaxed ? 0.0f : core::HalfToFloat(entry.error);
	float bound;
	switch (so->ctx.metric) {
	case core::Metric::InnerProduct:
		bound = -d - so->query_norm * error;
		break;
	case core::Metric::Cosine:
		bound = 1.0f - d - so->query_norm * error;
		break;
	default: {
		float root = std::sqrt(std::max(d, 0.0f)) - error;
		bound = root > 0 ? root * root : 0.0f;
	}
	}
	// The table sums and the exact kernels round differently: keep a margin of float error.
	return bound - 1e-5f * (std::fabs(bound) + 1.0f);
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
			all[list].start_blkno = t->start_blkno;
		}
		UnlockReleaseBuffer(buf);
	}
	std::partial_sort(all, all + so->max_probes, all + lists, [](const RankedList &a, const RankedList &b) {
		return a.distance < b.distance || (a.distance == b.distance && a.list < b.list);
	});
	so->ranked = all;
	so->next_list = 0;
}

// pq codes stand for residuals from the list's centre c: for L2 the table is that of q - c
// (|q - c - r|^2), for dot products that of q, plus q . c.
void
PreparePqList(ScanState *so, int list)
{
	auto dims = static_cast<std::size_t>(so->ctx.dims), m = static_cast<std::size_t>(so->ctx.pq_m);
	IvfListCenter(&so->ctx, list, so->center_f);
	core::PqView book{dims, m, so->ctx.quantizer_data};
	if (so->ctx.metric == core::Metric::L2) {
		for (std::size_t d = 0; d < dims; d++)
			so->center_f[d] = so->query_f[d] - so->center_f[d];
		core::PqTable(book, so->center_f, true, so->pq_table);
		so->pq_offset = 0;
		return;
	}
	double dot = 0;
	for (std::size_t d = 0; d < dims; d++)
		dot += static_cast<double>(so->query_f[d]) * so->center_f[d];
	so->pq_offset = static_cast<float>(dot);
}

// Reads every entry of list `list`, starting at blkno, with its distance to the query.
void
ProbeList(ScanState *so, int list, BlockNumber blkno)
{
	bool quantized = so->ctx.quantizer != kIvfQuantizerNone;
	if (so->ctx.quantizer == kIvfQuantizerPq && blkno != InvalidBlockNumber)
		PreparePqList(so, list);
	while (blkno != InvalidBlockNumber) {
		CHECK_FOR_INTERRUPTS();
		Buffer buf = ReadBuffer(so->ctx.index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		Page page = BufferGetPage(buf);
		IvfCheckPage(so->ctx.index, page, blkno);
		auto *opaque = PageOpaque(page);
		int count = IvfEntryCount(&so->ctx, page, blkno);
		for (int i = 0; i < count; i++) {
			IvfEntryRef entry = IvfEntryAt(&so->ctx, page, i);
			float distance = quantized ? QuantizedRank(so, entry)
			                           : IndexDistance(&so->ctx, so->query, entry.values);
			AddItem(so, distance, &entry.heap_tid);
		}
		BlockNumber next = opaque->next_blkno;
		UnlockReleaseBuffer(buf);
		blkno = next;
	}
}

// Quantized lists: re-ranks the next `rerank` candidates (lowest bounds first) by their exact
// distance into the `exact` heap.
void
RerankNext(ScanState *so, IndexScanDesc scan)
{
	for (int taken = 0; taken < so->rerank && so->n_items > 0; taken++) {
		std::pop_heap(so->items, so->items + so->n_items, Farther);
		so->n_items--;
		ItemPointerData tid = so->items[so->n_items].tid;
		float distance;
		if (!HeapRowDistance(&so->reader, scan, GetMemoryChunkContext(so), &so->ctx, so->query_raw, &tid, &distance))
			continue;
		if (so->n_exact == so->cap_exact) {
			so->cap_exact = so->cap_exact == 0 ? 256 : so->cap_exact * 2;
			so->exact = static_cast<ScanItem *>(
			    so->exact == nullptr ? MemoryContextAllocHuge(so->search_ctx, so->cap_exact * sizeof(ScanItem))
			                         : repalloc_huge(so->exact, so->cap_exact * sizeof(ScanItem)));
		}
		so->exact[so->n_exact].distance = distance;
		so->exact[so->n_exact].tid = tid;
		so->n_exact++;
		std::push_heap(so->exact, so->exact + so->n_exact, Farther);
	}
}

// Probes the next batch of lists; false when no list is left to probe.
bool
NextBatch(ScanState *so)
{
	if (so->next_list >= so->max_probes)
		return false;
	so->n_items = 0;
	for (int i = 0; i < so->probes && so->next_list < so->max_probes; i++) {
		const RankedList &probe = so->ranked[so->next_list++];
		ProbeList(so, probe.list, probe.start_blkno);
	}
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
		so->query_raw = nullptr;
		so->ranked = nullptr;
		so->items = nullptr;
		so->n_items = so->cap_items = 0;
		so->exact = nullptr;
		so->n_exact = so->cap_exact = 0;
		so->pq_table = nullptr;
		so->query_f = nullptr;
		so->center_f = nullptr;
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
				so->query_raw = palloc(so->ctx.vector_bytes);
				memcpy(so->query_raw, so->query, so->ctx.vector_bytes);
				IndexPrepareVector(&so->ctx, so->query);
			} else {
				so->query = palloc0(so->ctx.vector_bytes);
				so->query_raw = so->query;
			}
			RankLists(so);
			so->rerank = ivfflat_rerank > 0 ? ivfflat_rerank
			                                : so->ctx.quantizer == kIvfQuantizerSq8 ? kSq8Rerank : kPqRerank;
			so->relaxed = ivfflat_iterative_scan != kIvfIterativeOff;
			if (so->ctx.quantizer != kIvfQuantizerNone) {
				auto *q = static_cast<float *>(palloc(sizeof(float) * static_cast<std::size_t>(so->ctx.dims)));
				IndexWidenVector(&so->ctx, so->query, q);
				double norm = 0;
				for (int d = 0; d < so->ctx.dims; d++)
					norm += static_cast<double>(q[d]) * q[d];
				// Rounded up a little: the bound must not shrink through rounding.
				so->query_norm = static_cast<float>(std::sqrt(norm) * (1 + 1e-6));
			}
			if (so->ctx.quantizer == kIvfQuantizerPq) {
				auto dims = static_cast<std::size_t>(so->ctx.dims), m = static_cast<std::size_t>(so->ctx.pq_m);
				auto *q = static_cast<float *>(palloc(sizeof(float) * dims));
				IndexWidenVector(&so->ctx, so->query, q);
				so->pq_table = static_cast<float *>(palloc(sizeof(float) * m * quiver::core::kPqCentroids));
				so->query_f = q;
				so->center_f = static_cast<float *>(palloc(sizeof(float) * dims));
				// Dot products: one table for every list (L2 makes one per list).
				if (so->ctx.metric != quiver::core::Metric::L2)
					quiver::core::PqTable(quiver::core::PqView{dims, m, so->ctx.quantizer_data}, q, false,
					                      so->pq_table);
			} else if (so->ctx.quantizer == kIvfQuantizerSq8) {
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
		bool quantized = so->ctx.quantizer != kIvfQuantizerNone;
		for (;;) {
			if (quantized) {
				// The nearest re-ranked row goes out once no candidate left can be nearer.
				if (so->n_exact > 0 &&
				    (so->relaxed || so->n_items == 0 || so->exact[0].distance <= so->items[0].distance)) {
					std::pop_heap(so->exact, so->exact + so->n_exact, Farther);
					so->n_exact--;
					scan->xs_heaptid = so->exact[so->n_exact].tid;
					scan->xs_recheck = false;
					scan->xs_recheckorderby = false;
					found = true;
					break;
				}
				if (so->n_items > 0) {
					RerankNext(so, scan);
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
		HeapValueReaderEnd(&so->reader);
		pfree(so);
		scan->opaque = nullptr;
	});
}
