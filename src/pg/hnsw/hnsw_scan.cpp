// Ordered index scans: ORDER BY column <op> query LIMIT k.
//
// The first call to gettuple runs the whole search (greedy descent, then ef_search candidates
// at level 0) and later calls hand out the heap TIDs of the results, nearest first. Results
// are exact distances from the stored vectors, so the executor needs no recheck.
//
// With quantizer = 'half' (or 'sq8', 'sq4': 8- and 4-bit codes; or 'truncate': sparse rows cut
// to their largest entries, where queries are not cut and e_q is 0; everything below holds for
// them as for halves) the stored vectors are rounded, and each element keeps an upper bound e of the
// distance between its rows and what it stores (the search reads it with the node). The search
// runs on the halves, the query rounded too (its own error e_q); each result
// then gets an interval holding its exact distance: for L2 (|h(q) - h| -+ (e_q + e))^2, for
// cosine 1 - h(q).h -+ (e_q + |h(q)| e), for L1 |h(q) - h|_1 -+ (e_q + e) in L1 norms, all from
// the distance the search computed; for inner product, whose bound needs the row's norm, -q.h
// -+ |q| e with the float32 query, computed on the halves read again. The candidate of lowest
// lower bound goes out as it is when its upper bound is below every other candidate's lower
// bound. Otherwise its interval is first narrowed as inner product's is, from the float32
// query (no e_q: about half as wide), and if it still overlaps, its exact distance is computed
// from the column's value, fetched from the table with the scan's snapshot (a row the snapshot
// cannot see is dropped, as the executor would drop it). So the rows of a batch come in exact
// order, and only rows whose intervals overlap (near ties, rows sharing a node) cost a table
// read: on 3,072-dimension glove projections, 1.4 per LIMIT 10 query before the narrowing. A
// result's heap TIDs are read only when it reaches the top.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "quiver/half.hpp"
#include "hnsw_search.hpp"
#include "../index/rerank.hpp"

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
struct RankedRow {
	float distance; // a lower bound (candidates) or the exact distance (re-ranked)
	float upper;    // an upper bound (candidates) or the exact distance (re-ranked)
	ItemPointerData tid;  // a heap row, or with `element` the search result itself, not read yet
	ItemPointerData node; // the element (the search result) the row came from
	float approx;         // the distance the search found there, to tell a reused slot
	bool element;
	bool narrowed; // the bounds come from the float32 query (see the file comment)
};

// Nearest first out of std::push_heap / pop_heap (a max-heap on `greater`).
bool
Farther(const RankedRow &a, const RankedRow &b)
{
	return a.distance > b.distance;
}

void
PushRow(RankedRow **rows, int *n, int *cap, MemoryContext mcxt, float distance, float upper, const ItemPointerData *tid,
        const ItemPointerData *node = nullptr, float approx = 0, bool element = false, bool narrowed = true)
{
	if (*n == *cap) {
		*cap = *cap == 0 ? 64 : *cap * 2;
		*rows = static_cast<RankedRow *>(*rows == nullptr ? MemoryContextAlloc(mcxt, sizeof(RankedRow) * *cap)
		                                                  : repalloc(*rows, sizeof(RankedRow) * *cap));
	}
	(*rows)[*n].distance = distance;
	(*rows)[*n].upper = upper;
	(*rows)[*n].tid = *tid;
	(*rows)[*n].element = element;
	(*rows)[*n].narrowed = narrowed;
	(*rows)[*n].approx = approx;
	if (node != nullptr)
		(*rows)[*n].node = *node;
	else // a re-ranked row: its element is not needed any more
		ItemPointerSetInvalid(&(*rows)[*n].node);
	(*n)++;
	std::push_heap(*rows, *rows + *n, Farther);
}

RankedRow
PopRow(RankedRow *rows, int *n)
{
	std::pop_heap(rows, rows + *n, Farther);
	(*n)--;
	return rows[*n];
}

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

	// A quantizer (see the file comment).
	IndexValues exact;   // the column's float32 values
	float *query_exact;  // the query as the column's values (normalized for cosine)
	float *query_raw;    // the same not normalized, for the table's values (HeapRowDistance)
	float query_norm;    // |query_exact|, rounded up
	float *widened;      // scratch: one element's halves as floats
	float query_error;   // e_q: |query_exact - query|, in the metric's norm
	RankedRow *bounds;   // candidate rows by lower bound (a min-heap)
	int n_bounds;
	int cap_bounds;
	RankedRow *ranked;   // re-ranked rows by exact distance (a min-heap)
	int n_ranked;
	int cap_ranked;
	// strict_order: the interval of the farthest row handed out (one point once exact), and the
	// row, whose exact distance is read when a later row's interval overlaps it.
	float last_lower;
	float last_upper;
	ItemPointerData last_tid;
	HeapValueReader reader; // kept across rescans, ended with the scan
};

bool
WithinBudget(const ScanState *so)
{
	if (so->visited_count >= hnsw_max_scan_tuples)
		return false;
	double bytes = static_cast<double>(so->visited.mask + 1) * sizeof(std::uint64_t) +
	               static_cast<double>(so->pending.capacity + so->frontier.capacity) * sizeof(HnswCandidate) +
	               static_cast<double>(so->cap_bounds + so->cap_ranked) * sizeof(RankedRow);
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

// When a search has expanded every node it visited, it has seen all of the base layer that its
// start reaches. The greedy descent can end in a region whose base-layer edges lead only back
// into it (2,000 copies of one vector loaded after 500 other rows fill their lists with each
// other: a filtered iterative scan at the copies found none of the 500 in 5 of 6 fresh builds).
// The search then goes on from the entry point, from which the build, and VACUUM where its
// walk fits maintenance_work_mem, keep every node reachable. False when it has been visited.
bool
ContinueFromEntry(ScanState *so)
{
	HnswMetaData meta;
	HnswReadMeta(so->ctx.index, &meta);
	if (meta.entry_blkno == InvalidBlockNumber)
		return false;
	ItemPointerData entry;
	ItemPointerSet(&entry, meta.entry_blkno, meta.entry_offno);
	if (!VisitedAdd(&so->visited, TidKey(&entry)))
		return false;
	so->visited_count++;
	HnswCandidate c;
	if (HnswLoadCandidates(&so->ctx, &entry, 1, so->query, &c) != 1)
		return false; // moved by a vacuum meanwhile: nothing better to go on from
	so->pending.Push(c);
	return true;
}

// The last batch of an iterative scan whose budget is spent: every node visited and not yet
// handed out, nearest first. Their distances are known, so they cost no more search, and a
// filter that the nearest nodes fail still finds the rows the scan has seen (pgvector returns
// them too, so about max_scan_tuples / rows of the filtered rows come back).
void
DrainPending(ScanState *so)
{
	qsort(so->pending.items, static_cast<std::size_t>(so->pending.size), sizeof(HnswCandidate),
	      CompareCandidatesByDistance);
	so->results = so->pending.items;
	so->n_results = so->pending.size;
	so->next_result = 0;
	so->pending.Init(0);
	so->exhausted = true;
}

// Finds the next ef_search nodes into so->results, sorted by distance.
void
NextBatch(ScanState *so)
{
	bool iterative = hnsw_iterative_scan != kHnswIterativeOff;
	if (iterative && !WithinBudget(so)) {
		DrainPending(so);
		return;
	}
	int ef = hnsw_ef_search;
	CandidateHeap<true> best;
	best.Init(ef + 1);

	// Runs again when the search goes on from the entry point (ContinueFromEntry).
	for (;;) {
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

		// A plain scan that found ef_search nodes, or an iterative one that has nodes left to
		// hand out or no budget left, is done; one that ran dry goes on from the entry point.
		if (so->pending.size > 0 || so->frontier.size > 0 || (!iterative && best.size >= ef) ||
		    (iterative && !WithinBudget(so)) || !ContinueFromEntry(so))
			break;
	}

	qsort(best.items, static_cast<std::size_t>(best.size), sizeof(HnswCandidate), CompareCandidatesByDistance);
	so->results = best.items;
	so->n_results = best.size;
	so->next_result = 0;

	if (!iterative || (so->pending.size == 0 && so->frontier.size == 0))
		so->exhausted = true;
}

// NextBatch in the scan's search memory, in place of the batch handed out.
void
NextBatchInScan(ScanState *so)
{
	MemoryContext old = MemoryContextSwitchTo(so->search_ctx);
	if (so->results != nullptr)
		pfree(so->results);
	NextBatch(so);
	MemoryContextSwitchTo(old);
}

// Widens an interval by a margin of float error: the distances are summed in different orders.
// A sum's rounding scales with the sum of its terms' magnitudes: the distance itself for L2 and
// L1 (no negative terms), at most |q| |x| for dot products, which `scale` gives (1 for cosine).
void
AddMargin(float *lower, float *upper, float scale = 1.0f)
{
	*lower -= 1e-5f * (std::fabs(*lower) + scale);
	*upper += 1e-5f * (std::fabs(*upper) + scale);
}

// a * e for a norm and an error bound; 0 when a is (a zero query has no error term, even against
// a bound that overflowed to infinity).
float
Scaled(float a, float e)
{
	return a == 0 ? 0.0f : a * e;
}

// The interval of distances within `slack` of a vector at distance d: for squared L2 slack is
// a Euclidean distance, (sqrt(d) -+ slack)^2; for the others d -+ slack.
void
Interval(core::Metric metric, float d, float slack, float *lower, float *upper)
{
	if (metric == core::Metric::L2) {
		float root = std::sqrt(std::max(d, 0.0f));
		*lower = root > slack ? (root - slack) * (root - slack) : 0.0f;
		*upper = (root + slack) * (root + slack);
	} else {
		*lower = d - slack;
		*upper = d + slack;
	}
}

// Bounds of the exact distance from the query to any row of a search result, from the distance
// the search computed on the halves (all metrics but inner product): the slack is e_q + e for
// L2 and L1, and for cosine e_q |x| + |h(q)| e with |x| = 1 and |h(q)| <= |q| + e_q.
void
ResultBounds(const ScanState *so, const HnswCandidate &c, float *lower, float *upper)
{
	float error = core::HalfToFloat(c.rounding_error);
	float slack = so->ctx.metric == core::Metric::Cosine ? so->query_error + Scaled(so->query_norm + so->query_error, error)
	                                                      : so->query_error + error;
	Interval(so->ctx.metric, c.distance, slack, lower, upper);
	AddMargin(lower, upper);
}

// Reads a search result's element: its live heap TIDs into tids (none when it was deleted, or
// freed and its slot reused, since the search: as HnswLoadHeapTids), and with `narrow` its
// bounds from the float32 query and the widened halves (L2 (|q - h| -+ e)^2, inner product and
// cosine -q.h -+ |q| e, L1 |q - h|_1 -+ e).
int
ReadResult(ScanState *so, ItemPointer element, float approx, ItemPointerData *tids, bool narrow, float *lower,
           float *upper)
{
	const HnswContext *ctx = &so->ctx;
	Buffer buf = HnswReadBuffer(ctx->index, ItemPointerGetBlockNumber(element));
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	auto *e = ElementAt(ctx, BufferGetPage(buf), element);
	int n = 0;
	float error = 0;
	if (e != nullptr && !e->deleted && IndexDistance(ctx, so->query, ElementValues(e)) == approx) {
		for (int i = 0; i < kHnswHeapTids; i++) {
			if (ItemPointerIsValid(&ElementHeapTids(e)[i]))
				tids[n++] = ElementHeapTids(e)[i];
		}
		error = core::HalfToFloat(e->rounding_error);
		// A sparse vector's float form would point into the page: copy the vector itself.
		if (narrow && ctx->value_size == kSparseValueSize)
			memcpy(so->widened, ElementValues(e), IndexStoredBytes(ctx, ElementValues(e)));
		else if (narrow)
			IndexWidenVector(ctx, ElementValues(e), so->widened);
	}
	UnlockReleaseBuffer(buf);
	if (n > 0 && narrow) {
		float d = IndexDistance(&so->exact, so->query_exact, so->widened);
		bool dot = ctx->metric == core::Metric::Cosine || ctx->metric == core::Metric::InnerProduct;
		Interval(ctx->metric, d, dot ? Scaled(so->query_norm, error) : error, lower, upper);
		float scale = 1.0f;
		if (ctx->metric == core::Metric::InnerProduct) {
			// |q| |x| <= |q| (|h| + e); -h.h is inner product's distance from h to itself
			float norm = std::sqrt(std::max(0.0f, -IndexDistance(&so->exact, so->widened, so->widened)));
			scale = Scaled(so->query_norm, norm + error) + 1.0f;
		}
		AddMargin(lower, upper, scale);
	}
	return n;
}

// With a quantizer: the results of a batch become candidates. Inner product reads each one
// now for its bounds; the other metrics have theirs from the search, and a result is read
// (for its heap TIDs) only when it reaches the top of the candidates.
void
AddResults(ScanState *so)
{
	for (; so->next_result < so->n_results; so->next_result++) {
		const HnswCandidate &c = so->results[so->next_result];
		float lower, upper;
		if (so->ctx.metric != core::Metric::InnerProduct) {
			ResultBounds(so, c, &lower, &upper);
			// Without a query error (truncate) narrowing would only compute these bounds again.
			PushRow(&so->bounds, &so->n_bounds, &so->cap_bounds, so->search_ctx, lower, upper, &c.element,
			        &c.element, c.distance, true, so->query_error == 0);
			continue;
		}
		ItemPointerData tids[kHnswHeapTids];
		ItemPointerData element = c.element;
		int n = ReadResult(so, &element, c.distance, tids, true, &lower, &upper);
		for (int i = 0; i < n; i++)
			PushRow(&so->bounds, &so->n_bounds, &so->cap_bounds, so->search_ctx, lower, upper, &tids[i], &element,
			        c.distance);
	}
}

// The candidate on top is a search result not read yet (expand: its rows take its place, with
// its bounds) or a row whose interval overlaps another's (narrow: the interval from the float32
// query, intersected with the one it had, as both hold the exact distance; a reused slot
// leaves it as it was).
void
ReadTop(ScanState *so, bool expand)
{
	RankedRow top = PopRow(so->bounds, &so->n_bounds);
	ItemPointerData tids[kHnswHeapTids];
	float lower = top.distance, upper = top.upper;
	int n = ReadResult(so, &top.node, top.approx, tids, !expand, &lower, &upper);
	if (expand) {
		for (int i = 0; i < n; i++)
			PushRow(&so->bounds, &so->n_bounds, &so->cap_bounds, so->search_ctx, top.distance, top.upper, &tids[i],
			        &top.node, top.approx, false, top.narrowed);
		return;
	}
	// Both intervals hold the exact distance; float noise could still leave them disjoint, and
	// then the wider union is kept.
	if (n > 0 && std::max(top.distance, lower) <= std::min(top.upper, upper)) {
		top.distance = std::max(top.distance, lower);
		top.upper = std::min(top.upper, upper);
	} else if (n > 0) {
		top.distance = std::min(top.distance, lower);
		top.upper = std::max(top.upper, upper);
	}
	PushRow(&so->bounds, &so->n_bounds, &so->cap_bounds, so->search_ctx, top.distance, top.upper, &top.tid, &top.node,
	        top.approx);
}

// With a quantizer: the candidate row of lowest bound, re-ranked by its exact distance.
void
RerankNext(ScanState *so, IndexScanDesc scan)
{
	RankedRow row = PopRow(so->bounds, &so->n_bounds);
	float distance;
	if (HeapRowDistance(&so->reader, scan, GetMemoryChunkContext(so), &so->exact, so->query_raw, &row.tid, &distance))
		PushRow(&so->ranked, &so->n_ranked, &so->cap_ranked, so->search_ctx, distance, distance, &row.tid);
}

// With a quantizer: the next row in exact order, as gettuple hands rows out; false when
// there is none.
bool
NextRerankedRow(ScanState *so, IndexScanDesc scan, ItemPointer out)
{
	for (;;) {
		// The nearest re-ranked row goes out once no candidate left can be nearer. Between
		// batches the rows re-ranked so far go out first: later batches mostly hold farther
		// nodes (not always, e.g. after ContinueFromEntry), and iterative scans allow rows out
		// of order anyway (strict_order drops the nearer ones, as without a quantizer).
		RankedRow row;
		bool emit = false;
		if (so->n_ranked > 0 && (so->n_bounds == 0 || so->ranked[0].distance <= so->bounds[0].distance)) {
			row = PopRow(so->ranked, &so->n_ranked);
			emit = true;
		} else if (so->n_bounds > 0) {
			if (so->bounds[0].element) {
				ReadTop(so, true);
				continue;
			}
			// The candidate of lowest lower bound: nearer than every other row when its upper
			// bound is below all their lower bounds (the heap's second smallest is a child of
			// the root), so it goes out unread; else its exact distance decides.
			float others = so->n_ranked > 0 ? so->ranked[0].distance : get_float4_infinity();
			for (int child = 1; child <= 2 && child < so->n_bounds; child++)
				others = std::min(others, so->bounds[child].distance);
			if (so->bounds[0].upper > others) {
				if (so->bounds[0].narrowed)
					RerankNext(so, scan);
				else
					ReadTop(so, false);
				continue;
			}
			row = PopRow(so->bounds, &so->n_bounds);
			emit = true;
		}
		if (emit) {
			// strict_order never goes back to a row nearer than one handed out. Rows of one batch
			// come in order; a row of a later batch whose interval overlaps the farthest row's
			// is compared by exact distances, read from the table for either when unknown.
			if (hnsw_iterative_scan == kHnswIterativeStrict) {
				if (row.upper < so->last_lower)
					continue;
				if (row.distance < so->last_upper) {
					if (row.distance < row.upper) {
						float exact;
						if (!HeapRowDistance(&so->reader, scan, GetMemoryChunkContext(so), &so->exact,
						                     so->query_raw, &row.tid, &exact))
							continue;
						row.distance = row.upper = exact;
					}
					if (so->last_lower < so->last_upper) {
						float exact;
						if (HeapRowDistance(&so->reader, scan, GetMemoryChunkContext(so), &so->exact,
						                    so->query_raw, &so->last_tid, &exact))
							so->last_lower = so->last_upper = exact;
						else // gone meanwhile: what is known of it still holds
							so->last_upper = so->last_lower;
					}
					if (row.distance < so->last_lower)
						continue;
				}
				if (row.distance >= so->last_lower) {
					so->last_lower = row.distance;
					so->last_upper = row.upper;
					so->last_tid = row.tid;
				}
			}
			*out = row.tid;
			return true;
		}
		if (so->next_result < so->n_results) {
			AddResults(so);
			continue;
		}
		if (so->exhausted)
			return false;
		NextBatchInScan(so);
	}
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
		so->exact = IndexExactValues(&so->ctx);
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
		so->last_lower = so->last_upper = -get_float4_infinity();
		so->bounds = so->ranked = nullptr; // in search_ctx
		so->n_bounds = so->cap_bounds = so->n_ranked = so->cap_ranked = 0;
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
			if (IndexQuantized(&so->ctx)) {
				bool sparse = so->ctx.value_size == quiver::pg::kSparseValueSize;
				if (!(scan->orderByData[0].sk_flags & SK_ISNULL)) {
					so->query_raw = static_cast<float *>(IndexQueryValues(&so->exact, scan->orderByData[0].sk_argument));
					std::size_t bytes = IndexStoredBytes(&so->exact, so->query_raw);
					so->query_exact = static_cast<float *>(palloc(bytes));
					memcpy(so->query_exact, so->query_raw, bytes);
					IndexPrepareVector(&so->exact, so->query_exact);
				} else {
					so->query_raw = static_cast<float *>(palloc0(so->exact.vector_bytes));
					so->query_exact = static_cast<float *>(palloc0(so->exact.vector_bytes));
				}
				double norm = 0;
				if (sparse) {
					norm = quiver::core::SparseNormSquaredDouble(quiver::pg::StoredSparseView(so->query_exact));
				} else {
					for (int d = 0; d < so->exact.dims; d++)
						norm += static_cast<double>(so->query_exact[d]) * so->query_exact[d];
				}
				// Rounded up a little: the bound must not shrink through rounding.
				so->query_norm = static_cast<float>(std::min(std::sqrt(norm) * (1 + 1e-6), 3.4e38));
				so->widened = static_cast<float *>(palloc(sparse ? so->ctx.vector_bytes : so->exact.vector_bytes));
				so->query_error = IndexQuantizationError(&so->ctx, so->query_exact, so->query);
			}
			StartSearch(so);
			MemoryContextSwitchTo(old);
			pgstat_count_index_scan(scan->indexRelation);
		}

		if (IndexQuantized(&so->ctx)) {
			ItemPointerData tid;
			if (!NextRerankedRow(so, scan, &tid))
				return false;
			scan->xs_heaptid = tid;
			scan->xs_recheck = false;
			scan->xs_recheckorderby = false;
			return true;
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
			NextBatchInScan(so);
		}
	});
}

extern "C" void
hnswendscan(IndexScanDesc scan)
{
	quiver::pg::Guarded([&] {
		auto *so = static_cast<ScanState *>(scan->opaque);
		MemoryContextDelete(so->search_ctx);
		HeapValueReaderEnd(&so->reader);
		pfree(so);
		scan->opaque = nullptr;
	});
}
