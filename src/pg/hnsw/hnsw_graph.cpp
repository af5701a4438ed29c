// Page-level graph primitives of the hnsw AM: metapage, pages, element reads, distances,
// layer search, and the Generic WAL wrapper. Everything here runs in the backend's main
// thread with palloc'd memory only.
#include <cmath>
#include <cstring>

#include "quiver/kernels.hpp"
#include "hnsw_search.hpp"

extern "C" {
#include "access/generic_xlog.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
}

namespace quiver::pg::hnsw {

namespace {

// The metric follows from the opclass's distance support function (pgvector's opclasses,
// unchanged), so that the kernels can be called directly instead of through fmgr.
core::Metric
MetricOfIndex(Relation index)
{
	Oid proc = index_getprocid(index, 1, kHnswDistanceProc);
	char *name = get_func_name(proc);
	if (name == nullptr)
		elog(ERROR, "hnsw: distance support function %u not found", proc);
	bool has_norm = OidIsValid(index_getprocid(index, 1, kHnswNormProc));
	if (strcmp(name, "vector_l2_squared_distance") == 0)
		return core::Metric::L2;
	if (strcmp(name, "vector_negative_inner_product") == 0)
		return has_norm ? core::Metric::Cosine : core::Metric::InnerProduct;
	if (strcmp(name, "l1_distance") == 0)
		return core::Metric::L1;
	ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
	                errmsg("hnsw does not support distance function %s", name)));
	pg_unreachable();
}

} // namespace

void
HnswInitContext(HnswContext *ctx, Relation index, bool building)
{
	ctx->index = index;
	ctx->metric = MetricOfIndex(index);
	ctx->dims = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;
	ctx->m = HnswGetM(index);
	ctx->ef_construction = HnswGetEfConstruction(index);
	ctx->building = building;
}

bool
HnswPrepareVector(const HnswContext *ctx, float *values)
{
	if (ctx->metric != core::Metric::Cosine)
		return true;
	double norm = 0;
	for (int i = 0; i < ctx->dims; i++)
		norm += static_cast<double>(values[i]) * values[i];
	if (norm == 0)
		return false;
	norm = std::sqrt(norm);
	for (int i = 0; i < ctx->dims; i++)
		values[i] = static_cast<float>(values[i] / norm);
	return true;
}

// Smaller is closer, and the order matches the SQL operator's: squared L2 for <->,
// negative dot for <#>, 1 - dot of normalized vectors for <=>, L1 for <+>.
float
HnswDistance(const HnswContext *ctx, const float *a, const float *b)
{
	const core::F32Kernels &k = core::ActiveKernels();
	std::size_t n = static_cast<std::size_t>(ctx->dims);
	switch (ctx->metric) {
	case core::Metric::L2:
		return k.l2_squared(a, b, n);
	case core::Metric::InnerProduct:
		return -k.dot(a, b, n);
	case core::Metric::Cosine:
		return 1.0f - k.dot(a, b, n);
	case core::Metric::L1:
		return k.l1(a, b, n);
	}
	return 0;
}

void
HnswInitPage(Page page)
{
	PageInit(page, BLCKSZ, sizeof(HnswPageOpaque));
	auto *opaque = reinterpret_cast<HnswPageOpaque *>(PageGetSpecialPointer(page));
	opaque->next_blkno = InvalidBlockNumber;
	opaque->flags = 0;
	opaque->page_id = kHnswPageId;
}

// A new page at the end of the relation, returned pinned and exclusively locked.
Buffer
HnswNewBuffer(Relation index, ForkNumber fork)
{
	bool need_lock = !RELATION_IS_LOCAL(index);
	if (need_lock)
		LockRelationForExtension(index, ExclusiveLock);
	Buffer buf = ReadBufferExtended(index, fork, P_NEW, RBM_NORMAL, nullptr);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	if (need_lock)
		UnlockRelationForExtension(index, ExclusiveLock);
	return buf;
}

void
HnswWriteMetaPage(Relation index, ForkNumber fork, int dims, int m, int ef_construction, core::Metric metric)
{
	Buffer buf = HnswNewBuffer(index, fork);
	if (BufferGetBlockNumber(buf) != kHnswMetaBlock)
		elog(ERROR, "hnsw: metapage must be block 0");

	GenericXLogState *state = GenericXLogStart(index);
	Page page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);
	HnswInitPage(page);
	auto *meta = reinterpret_cast<HnswMetaData *>(PageGetContents(page));
	memset(meta, 0, sizeof *meta);
	meta->magic = kHnswMagic;
	meta->version = kHnswLayoutVersion;
	meta->dims = static_cast<std::uint32_t>(dims);
	meta->m = static_cast<std::uint16_t>(m);
	meta->ef_construction = static_cast<std::uint16_t>(ef_construction);
	meta->metric = static_cast<std::uint8_t>(metric);
	meta->entry_blkno = InvalidBlockNumber;
	meta->entry_offno = InvalidOffsetNumber;
	meta->entry_level = -1;
	meta->insert_blkno = InvalidBlockNumber;
	meta->inserted = 0;
	// pd_lower must cover the metadata, or a full-page image would drop it as a hole.
	reinterpret_cast<PageHeader>(page)->pd_lower =
	    static_cast<LocationIndex>(reinterpret_cast<char *>(meta + 1) - reinterpret_cast<char *>(page));
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

void
HnswReadMeta(Relation index, HnswMetaData *out)
{
	Buffer buf = ReadBuffer(index, kHnswMetaBlock);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	Page page = BufferGetPage(buf);
	auto *meta = reinterpret_cast<HnswMetaData *>(PageGetContents(page));
	if (meta->magic != kHnswMagic)
		ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
		                errmsg("index \"%s\" is not a valid Quiver hnsw index", RelationGetRelationName(index))));
	if (meta->version != kHnswLayoutVersion)
		ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
		                errmsg("index \"%s\" has page layout version %u, this library reads version %u",
		                       RelationGetRelationName(index), meta->version, kHnswLayoutVersion),
		                errhint("REINDEX the index.")));
	*out = *meta;
	UnlockReleaseBuffer(buf);
}

HnswEntryPoint
HnswReadEntryPoint(Relation index)
{
	HnswMetaData meta;
	HnswReadMeta(index, &meta);
	HnswEntryPoint ep;
	if (meta.entry_blkno == InvalidBlockNumber) {
		ItemPointerSetInvalid(&ep.tid);
		ep.level = -1;
	} else {
		ItemPointerSet(&ep.tid, meta.entry_blkno, meta.entry_offno);
		ep.level = meta.entry_level;
	}
	return ep;
}

namespace {

// Returns the item at tid on a locked page, or null when it is not (or no longer) an item of
// the expected kind: vacuum frees the tuples of deleted nodes, and a scan that copied a
// neighbour list just before may still follow a TID to one. A page that is not an hnsw page
// at all is corruption.
template <typename T>
T *
ItemAt(Relation index, Page page, ItemPointer tid, std::uint8_t type)
{
	// Only the page header is checked here: the page id sits at the end of the page, and
	// reading it on every node visited costs a cache miss per node (measured: the largest
	// item of a search's profile). A damaged header or a foreign page still gives an ERROR.
	if (PageIsNew(page) || PageGetSpecialSize(page) != MAXALIGN(sizeof(HnswPageOpaque)))
		ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
		                errmsg("index \"%s\" block %u is not a valid hnsw page", RelationGetRelationName(index),
		                       ItemPointerGetBlockNumber(tid))));
	OffsetNumber off = ItemPointerGetOffsetNumber(tid);
	if (off < FirstOffsetNumber || off > PageGetMaxOffsetNumber(page))
		return nullptr;
	ItemId item = PageGetItemId(page, off);
	if (!ItemIdIsNormal(item))
		return nullptr;
	auto *t = reinterpret_cast<T *>(PageGetItem(page, item));
	return t->type == type ? t : nullptr;
}

} // namespace

bool
HnswLoadCandidate(const HnswContext *ctx, ItemPointer tid, const float *query, HnswCandidate *out)
{
	return HnswLoadCandidates(ctx, tid, 1, query, out) == 1;
}

int
HnswLoadHeapTids(const HnswContext *ctx, const HnswCandidate &c, const float *query, ItemPointerData *out)
{
	Buffer buf = ReadBuffer(ctx->index, ItemPointerGetBlockNumber(&c.element));
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	auto *e = ItemAt<HnswElementTuple>(ctx->index, BufferGetPage(buf), const_cast<ItemPointer>(&c.element),
	                                   kHnswElementType);
	int n = 0;
	if (e != nullptr && !e->deleted && HnswDistance(ctx, query, ElementValues(e)) == c.distance) {
		ItemPointerData *tids = ElementHeapTids(e);
		for (int i = 0; i < kHnswHeapTids; i++) {
			if (ItemPointerIsValid(&tids[i]))
				out[n++] = tids[i];
		}
	}
	UnlockReleaseBuffer(buf);
	return n;
}

int
HnswLoadCandidates(const HnswContext *ctx, const ItemPointerData *tids, int n, const float *query, HnswCandidate *out)
{
	// A search is bound by memory latency: each node read touches a page header and a tuple
	// that are rarely in the CPU cache. Pin all the pages first and prefetch their headers,
	// then prefetch the tuples (their addresses read without the content lock: only a hint,
	// clamped to the page), then lock, compute and release one by one, so the misses of all
	// the nodes overlap instead of following each other. Locks are still taken one at a time.
	Buffer bufs[2 * kHnswMaxM];
	if (n > 2 * kHnswMaxM)
		n = 2 * kHnswMaxM;
	for (int i = 0; i < n; i++) {
		bufs[i] = ReadBuffer(ctx->index, ItemPointerGetBlockNumber(&tids[i]));
		__builtin_prefetch(BufferGetPage(bufs[i]));
	}
	for (int i = 0; i < n; i++) {
		Page page = BufferGetPage(bufs[i]);
		OffsetNumber off = ItemPointerGetOffsetNumber(&tids[i]);
		if (off < FirstOffsetNumber || off > PageGetMaxOffsetNumber(page))
			continue;
		ItemId item = PageGetItemId(page, off);
		std::size_t at = ItemIdGetOffset(item);
		if (at >= BLCKSZ - 64)
			continue;
		const char *tuple = static_cast<const char *>(page) + at;
		__builtin_prefetch(tuple);
		__builtin_prefetch(tuple + 64);
	}
	int found = 0;
	for (int i = 0; i < n; i++) {
		LockBuffer(bufs[i], BUFFER_LOCK_SHARE);
		auto *e = ItemAt<HnswElementTuple>(ctx->index, BufferGetPage(bufs[i]), const_cast<ItemPointer>(&tids[i]),
		                                   kHnswElementType);
		if (e != nullptr) {
			HnswCandidate &c = out[found++];
			c.distance = query != nullptr ? HnswDistance(ctx, query, ElementValues(e)) : 0.0f;
			c.element = tids[i];
			c.neighbors = *ElementNeighborTid(e);
			c.level = e->level;
			c.deleted = e->deleted != 0;
		}
		UnlockReleaseBuffer(bufs[i]);
	}
	return found;
}

bool
HnswLoadVector(const HnswContext *ctx, ItemPointer tid, float *values)
{
	Buffer buf = ReadBuffer(ctx->index, ItemPointerGetBlockNumber(tid));
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	auto *e = ItemAt<HnswElementTuple>(ctx->index, BufferGetPage(buf), tid, kHnswElementType);
	if (e == nullptr) {
		UnlockReleaseBuffer(buf);
		return false;
	}
	memcpy(values, ElementValues(e), sizeof(float) * static_cast<std::size_t>(ctx->dims));
	UnlockReleaseBuffer(buf);
	return true;
}

// Copies the neighbour TIDs of one level of a node; returns how many valid ones.
int
HnswLoadNeighbors(const HnswContext *ctx, ItemPointer neighbor_tid, int level, ItemPointerData *out)
{
	Buffer buf = ReadBuffer(ctx->index, ItemPointerGetBlockNumber(neighbor_tid));
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	auto *n = ItemAt<HnswNeighborTuple>(ctx->index, BufferGetPage(buf), neighbor_tid, kHnswNeighborType);
	int start = LevelSlotStart(level, ctx->m);
	int count = LevelSlotCount(level, ctx->m);
	int found = 0;
	if (n != nullptr && start + count <= n->count) {
		ItemPointerData *slots = NeighborSlots(n) + start;
		for (int i = 0; i < count; i++) {
			if (ItemPointerIsValid(&slots[i]))
				out[found++] = slots[i];
		}
	}
	UnlockReleaseBuffer(buf);
	return found;
}

int
HnswSearchLayer(const HnswContext *ctx, const float *query, const HnswCandidate *entries, int n_entries, int ef,
                int level, HnswCandidate **out)
{
	CandidateHeap<false> to_expand;
	CandidateHeap<true> best;
	VisitedSet visited;
	to_expand.Init(ef * 2);
	best.Init(ef + 1);
	VisitedInit(&visited, static_cast<std::uint32_t>(ef) * 8);

	for (int i = 0; i < n_entries; i++) {
		if (!VisitedAdd(&visited, TidKey(const_cast<ItemPointer>(&entries[i].element))))
			continue;
		to_expand.Push(entries[i]);
		best.Push(entries[i]);
		if (best.size > ef)
			best.Pop();
	}

	int max_neighbors = LevelSlotCount(level, ctx->m);
	auto *neighbors = static_cast<ItemPointerData *>(palloc(sizeof(ItemPointerData) * max_neighbors));
	auto *loaded_cands = static_cast<HnswCandidate *>(palloc(sizeof(HnswCandidate) * max_neighbors));

	while (to_expand.size > 0) {
		CHECK_FOR_INTERRUPTS();
		HnswCandidate c = to_expand.Pop();
		if (best.size >= ef && c.distance > best.Top().distance)
			break;
		if (c.level < level)
			continue;

		int count = HnswLoadNeighbors(ctx, &c.neighbors, level, neighbors);
		int fresh = 0;
		for (int i = 0; i < count; i++) {
			if (VisitedAdd(&visited, TidKey(&neighbors[i])))
				neighbors[fresh++] = neighbors[i];
		}
		int loaded = HnswLoadCandidates(ctx, neighbors, fresh, query, loaded_cands);
		for (int i = 0; i < loaded; i++) {
			const HnswCandidate &e = loaded_cands[i];
			if (best.size < ef || e.distance < best.Top().distance) {
				to_expand.Push(e);
				best.Push(e);
				if (best.size > ef)
					best.Pop();
			}
		}
	}

	pfree(neighbors);
	pfree(loaded_cands);
	pfree(to_expand.items);
	pfree(visited.slots);
	qsort(best.items, static_cast<std::size_t>(best.size), sizeof(HnswCandidate), CompareCandidatesByDistance);
	*out = best.items;
	return best.size;
}

bool
HnswGreedyDescend(const HnswContext *ctx, const float *query, HnswEntryPoint entry, int level, HnswCandidate *out)
{
	HnswCandidate current;
	if (!HnswLoadCandidate(ctx, &entry.tid, query, &current))
		return false;
	for (int lc = entry.level; lc > level; lc--) {
		HnswCandidate *found;
		int n = HnswSearchLayer(ctx, query, &current, 1, 1, lc, &found);
		if (n > 0)
			current = found[0];
		pfree(found);
	}
	*out = current;
	return true;
}

void
HnswEditStart(HnswPageEdit *edit, Relation index, bool building)
{
	edit->building = building;
	edit->count = 0;
	edit->state = building ? nullptr : GenericXLogStart(index);
}

Page
HnswEditRegister(HnswPageEdit *edit, Buffer buffer, bool new_page)
{
	if (edit->count == MAX_GENERIC_XLOG_PAGES)
		elog(ERROR, "hnsw: too many pages in one change");
	edit->buffers[edit->count++] = buffer;
	if (edit->building)
		return BufferGetPage(buffer);
	return GenericXLogRegisterBuffer(edit->state, buffer, new_page ? GENERIC_XLOG_FULL_IMAGE : 0);
}

void
HnswEditFinish(HnswPageEdit *edit)
{
	if (edit->building) {
		for (int i = 0; i < edit->count; i++)
			MarkBufferDirty(edit->buffers[i]);
	} else {
		GenericXLogFinish(edit->state);
	}
}

} // namespace quiver::pg::hnsw
