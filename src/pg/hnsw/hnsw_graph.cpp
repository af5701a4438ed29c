// Page-level graph primitives of the hnsw AM: metapage, pages, element reads, distances,
// layer search, and the Generic WAL wrapper. Everything here runs in the backend's main
// thread with palloc'd memory only.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "quiver/kernels.hpp"
#include "quiver/bits.hpp"
#include "quiver/half.hpp"
#include "hnsw_search.hpp"

extern "C" {
#include "storage/buf_internals.h"
#include "access/generic_xlog.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/varbit.h"
#include "utils/rel.h"
}

namespace quiver::pg::hnsw {

void
HnswInitContext(HnswContext *ctx, Relation index, bool building)
{
	ctx->index = index;
	DescribeIndexValues(index, "hnsw", kHnswMaxSparseNnz, ctx);
	if (building) {
		ctx->quantizer = HnswGetQuantizer(index);
		const char *name = QuantizerName(ctx->quantizer);
		if (ctx->quantizer == kHnswQuantizerTruncate && ctx->value_size != kHnswSparseValueSize)
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			                errmsg("quantizer \"truncate\" is only for sparsevec columns")));
		if (QuantizesFloats(ctx->quantizer) && ctx->value_size != 4)
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			                errmsg("quantizer \"%s\" is only for vector columns", name),
			                errdetail(ctx->quantizer != kHnswQuantizerHalf ? "Only float32 values can be quantized."
			                          : ctx->value_size == 2 ? "A halfvec column is stored at half precision already."
			                                                 : "Only float32 values can be stored at half precision.")));
		if (ctx->quantizer != kHnswQuantizerNone && index->rd_index->indkey.values[0] == 0)
			ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			                errmsg("quantizer \"%s\" needs an index on a column, not an expression", name),
			                errdetail("Scans re-rank candidates by the column's exact value, read from the table.")));
	} else {
		HnswMetaData meta;
		HnswReadMeta(index, &meta);
		if (!QuantizerFitsColumn(meta.quantizer, ctx->value_size))
			ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
			                errmsg("index \"%s\" has an unknown quantizer %u", RelationGetRelationName(index), meta.quantizer)));
		ctx->quantizer = static_cast<HnswQuantizer>(meta.quantizer);
	}
	if (ctx->quantizer != kHnswQuantizerNone)
		IndexUseQuantizedStorage(ctx, QuantizerStorage(ctx->quantizer));
	if (ctx->value_size == kHnswSparseValueSize)
		ctx->build_dim = static_cast<int>(sizeof(void *) / sizeof(float)); // a pointer (IndexWidenVector)
	else
		ctx->build_dim = ctx->value_size == 0 ? static_cast<int>(ctx->vector_bytes / sizeof(float)) : ctx->dims;
	ctx->m = HnswGetM(index);
	ctx->ef_construction = HnswGetEfConstruction(index);
	ctx->building = building;
}

namespace {

// Backend-local hints, one per index block: the shared buffer that held the block when this
// backend last read it. A search reads a few thousand blocks, and looking each one up in the
// shared buffer mapping table costs cache misses (it was a quarter of a search's profile);
// ReadRecentBuffer pins a hinted buffer directly after checking that it still holds the block,
// and the hinted buffer descriptors can be prefetched for a whole batch of neighbours.
// Kept in rd_amcache: one palloc'd chunk in the index's relcache memory, freed by PostgreSQL
// when the relcache entry is rebuilt, so it is fetched again on every use, never cached.
struct BufferHints {
	BlockNumber size;
	Buffer buffers[FLEXIBLE_ARRAY_MEMBER];
};

// Above this many blocks (a 32 GB index) the rest is read without hints, to bound the memory
// each backend spends on them (4 bytes per block).
constexpr BlockNumber kMaxHintedBlocks = 4u << 20;

BufferHints *
HintsFor(Relation index, BlockNumber blkno)
{
	// Local buffers (temporary indexes) are cheap to look up and not worth the special case.
	if (RelationUsesLocalBuffers(index) || blkno >= kMaxHintedBlocks)
		return nullptr;
	auto *hints = static_cast<BufferHints *>(index->rd_amcache);
	if (hints != nullptr && blkno < hints->size)
		return hints;
	BlockNumber size = hints != nullptr ? hints->size * 2 : 1024;
	while (size <= blkno)
		size *= 2;
	if (size > kMaxHintedBlocks)
		size = kMaxHintedBlocks;
	auto *grown = static_cast<BufferHints *>(MemoryContextAllocZero(
	    index->rd_indexcxt, offsetof(BufferHints, buffers) + sizeof(Buffer) * static_cast<std::size_t>(size)));
	grown->size = size;
	if (hints != nullptr) {
		memcpy(grown->buffers, hints->buffers, sizeof(Buffer) * hints->size);
		pfree(hints);
	}
	index->rd_amcache = grown;
	return grown;
}

} // namespace

Buffer
HnswReadBuffer(Relation index, BlockNumber blkno)
{
	BufferHints *hints = HintsFor(index, blkno);
	if (hints != nullptr) {
		Buffer recent = hints->buffers[blkno];
		if (recent != InvalidBuffer && ReadRecentBuffer(index->rd_node, MAIN_FORKNUM, blkno, recent))
			return recent;
	}
	Buffer buf = ReadBuffer(index, blkno);
	if (hints != nullptr)
		hints->buffers[blkno] = buf;
	return buf;
}

const char *
HnswHintedPage(Relation index, BlockNumber blkno)
{
	auto *hints = static_cast<BufferHints *>(index->rd_amcache);
	if (hints == nullptr || blkno >= hints->size || RelationUsesLocalBuffers(index))
		return nullptr;
	Buffer recent = hints->buffers[blkno];
	if (recent <= 0 || recent > NBuffers)
		return nullptr;
	__builtin_prefetch(GetBufferDescriptor(recent - 1));
	return BufferBlocks + static_cast<std::size_t>(recent - 1) * BLCKSZ;
}

void
HnswWriteMetaPage(Relation index, ForkNumber fork, const HnswContext *ctx, int max_seeds)
{
	Buffer buf = NewIndexBuffer(index, fork);
	if (BufferGetBlockNumber(buf) != kHnswMetaBlock)
		elog(ERROR, "hnsw: metapage must be block 0");

	GenericXLogState *state = GenericXLogStart(index);
	Page page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);
	InitIndexPage(page, kHnswPageId);
	auto *meta = reinterpret_cast<HnswMetaData *>(PageGetContents(page));
	memset(meta, 0, sizeof *meta);
	meta->magic = kHnswMagic;
	meta->version = kHnswLayoutVersion;
	meta->dims = static_cast<std::uint32_t>(ctx->dims);
	meta->m = static_cast<std::uint16_t>(ctx->m);
	meta->ef_construction = static_cast<std::uint16_t>(ctx->ef_construction);
	meta->metric = static_cast<std::uint8_t>(ctx->metric);
	meta->quantizer = static_cast<std::uint8_t>(ctx->quantizer);
	meta->entry_blkno = InvalidBlockNumber;
	meta->entry_offno = InvalidOffsetNumber;
	meta->entry_level = -1;
	meta->insert_blkno = InvalidBlockNumber;
	meta->inserted = 0;
	meta->max_seeds = static_cast<std::uint16_t>(max_seeds);
	// pd_lower must cover the metadata, or a full-page image would drop it as a hole.
	reinterpret_cast<PageHeader>(page)->pd_lower =
	    static_cast<LocationIndex>(reinterpret_cast<char *>(meta + 1) - reinterpret_cast<char *>(page));
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

void
HnswReadMeta(Relation index, HnswMetaData *out)
{
	Buffer buf = HnswReadBuffer(index, kHnswMetaBlock);
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
	// The seed counts bound array reads and writes of every later user of the metapage.
	if (meta->max_seeds > kHnswMaxSeeds || meta->n_seeds > meta->max_seeds)
		ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
		                errmsg("index \"%s\" metapage holds %u seeds of at most %u", RelationGetRelationName(index),
		                       meta->n_seeds, meta->max_seeds)));
	*out = *meta;
	UnlockReleaseBuffer(buf);
}

void
HnswOfferSeed(HnswMetaData *meta, ItemPointer tid, float norm2)
{
	int max = Min(meta->max_seeds, kHnswMaxSeeds);
	if (meta->n_seeds > max) // checked by HnswReadMeta; a write must not trust it either
		meta->n_seeds = static_cast<std::uint16_t>(max);
	int weakest = -1;
	for (int i = 0; i < meta->n_seeds; i++) {
		if (ItemPointerEquals(&meta->seeds[i], tid))
			return;
		if (weakest < 0 || meta->seed_norms[i] < meta->seed_norms[weakest])
			weakest = i;
	}
	int slot = meta->n_seeds < max ? meta->n_seeds++ : (weakest >= 0 && meta->seed_norms[weakest] < norm2 ? weakest : -1);
	if (slot < 0)
		return;
	meta->seeds[slot] = *tid;
	meta->seed_norms[slot] = norm2;
}

float
HnswSeedNorm(const HnswContext *ctx, const void *values)
{
	return -IndexDistance(ctx, values, values); // inner product's distance is -x.y
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


bool
HnswLoadCandidate(const HnswContext *ctx, ItemPointer tid, const void *query, HnswCandidate *out)
{
	return HnswLoadCandidates(ctx, tid, 1, query, out) == 1;
}

int
HnswLoadHeapTids(const HnswContext *ctx, const HnswCandidate &c, const void *query, ItemPointerData *out)
{
	Buffer buf = HnswReadBuffer(ctx->index, ItemPointerGetBlockNumber(&c.element));
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	auto *e = ElementAt(ctx, BufferGetPage(buf), const_cast<ItemPointer>(&c.element));
	int n = 0;
	if (e != nullptr && !e->deleted && IndexDistance(ctx, query, ElementValues(e)) == c.distance) {
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
HnswLoadCandidates(const HnswContext *ctx, const ItemPointerData *tids, int n, const void *query, HnswCandidate *out)
{
	// A search is bound by memory latency: each node read touches a buffer descriptor, a line
	// pointer and a tuple that are rarely in the CPU cache. So the misses of a whole batch are
	// started before any of them is waited for: first the descriptors and line pointers of
	// the buffers the hints name, then the tuples those line pointers give. Both steps read
	// shared buffers without a pin or lock, which is only safe because nothing read there is
	// trusted: the values are prefetch addresses, clamped to the buffer. Then each node is
	// pinned (checking the hint), locked, computed and released, one buffer at a time (more
	// than 8 pins at once would also spill PostgreSQL's private pin array into a hash table).
	if (n > 2 * kHnswMaxM)
		n = 2 * kHnswMaxM;
	const char *pages[2 * kHnswMaxM];
	for (int i = 0; i < n; i++) {
		pages[i] = HnswHintedPage(ctx->index, ItemPointerGetBlockNumber(&tids[i]));
		if (pages[i] != nullptr) {
			OffsetNumber off = ItemPointerGetOffsetNumber(&tids[i]);
			if (off >= FirstOffsetNumber && off <= MaxOffsetNumber)
				__builtin_prefetch(pages[i] + SizeOfPageHeaderData + sizeof(ItemIdData) * (off - 1));
		}
	}
	// A sparse vector's size is only known once read; its first KB holds most short ones.
	const std::size_t vector_bytes =
	    sizeof(HnswElementTuple) + (ctx->value_size == kHnswSparseValueSize ? std::min<std::size_t>(ctx->vector_bytes, 1024) : ctx->vector_bytes);
	for (int i = 0; i < n; i++) {
		if (pages[i] == nullptr)
			continue;
		OffsetNumber off = ItemPointerGetOffsetNumber(&tids[i]);
		if (off < FirstOffsetNumber || off > MaxOffsetNumber)
			continue;
		std::uint32_t raw = __atomic_load_n(
		    reinterpret_cast<const std::uint32_t *>(pages[i] + SizeOfPageHeaderData + sizeof(ItemIdData) * (off - 1)),
		    __ATOMIC_RELAXED);
		ItemIdData item;
		memcpy(&item, &raw, sizeof item);
		std::size_t at = ItemIdGetOffset(&item);
		if (at >= BLCKSZ - 64)
			continue;
		const char *tuple = pages[i] + at;
		const char *end = tuple + vector_bytes;
		if (end > pages[i] + BLCKSZ)
			end = pages[i] + BLCKSZ;
		for (const char *line = tuple; line < end; line += 64)
			__builtin_prefetch(line);
	}
	int found = 0;
	for (int i = 0; i < n; i++) {
		Buffer buf = HnswReadBuffer(ctx->index, ItemPointerGetBlockNumber(&tids[i]));
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		auto *e = ElementAt(ctx, BufferGetPage(buf), const_cast<ItemPointer>(&tids[i]));
		if (e != nullptr) {
			HnswCandidate &c = out[found++];
			c.distance = query != nullptr ? IndexDistance(ctx, query, ElementValues(e)) : 0.0f;
			c.element = tids[i];
			c.neighbors = *ElementNeighborTid(e);
			c.level = e->level;
			c.deleted = e->deleted != 0;
			c.rounding_error = e->rounding_error;
		}
		UnlockReleaseBuffer(buf);
	}
	return found;
}

bool
HnswLoadVector(const HnswContext *ctx, ItemPointer tid, void *values)
{
	Buffer buf = HnswReadBuffer(ctx->index, ItemPointerGetBlockNumber(tid));
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	auto *e = ElementAt(ctx, BufferGetPage(buf), tid);
	if (e == nullptr) {
		UnlockReleaseBuffer(buf);
		return false;
	}
	memcpy(values, ElementValues(e), ElementValueBytes(e));
	UnlockReleaseBuffer(buf);
	return true;
}

// Copies the neighbour TIDs of one level of a node; returns how many valid ones.
int
HnswLoadNeighbors(const HnswContext *ctx, ItemPointer neighbor_tid, int level, ItemPointerData *out)
{
	Buffer buf = HnswReadBuffer(ctx->index, ItemPointerGetBlockNumber(neighbor_tid));
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
HnswSearchLayer(const HnswContext *ctx, const void *query, const HnswCandidate *entries, int n_entries, int ef,
                int level, HnswCandidate **out, bool live_only)
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
				// A deleted node still leads on, but takes no place among the results.
				if (live_only && e.deleted)
					continue;
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
HnswGreedyDescend(const HnswContext *ctx, const void *query, HnswEntryPoint entry, int level, HnswCandidate *out)
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
