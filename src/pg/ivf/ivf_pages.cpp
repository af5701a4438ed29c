// Pages of the ivfflat AM: the metapage, centre pages and the nearest list of a vector.
#include <algorithm>
#include <cstring>

#include "quiver/half.hpp"
#include "quiver/pq.hpp"
#include "quiver/sq8.hpp"
#include "ivf.hpp"

extern "C" {
#include "storage/lmgr.h"
}

namespace quiver::pg::ivf {

// Floats of the quantizer per quantizer page (one item each).
std::size_t
IvfQuantizerFloatsPerPage()
{
	// PageAddItem stores the item MAXALIGNed: round the room down to whole MAXALIGN units.
	std::size_t usable = BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(IndexPageOpaque)) - sizeof(ItemIdData);
	return (usable / MAXIMUM_ALIGNOF * MAXIMUM_ALIGNOF) / sizeof(float);
}

void
IvfInitContext(IvfContext *ctx, Relation index)
{
	ctx->index = index;
	DescribeIndexValues(index, "ivfflat", 0, ctx);
	if (ctx->value_size == kSparseValueSize || ctx->metric == core::Metric::L1 || ctx->metric == core::Metric::Jaccard)
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("type not supported for ivfflat index")));
	ctx->per_page = ListsPerPage(ctx->vector_bytes);
	ctx->lists = 0;
	ctx->center_blkno = InvalidBlockNumber;
	ctx->quantizer = kIvfQuantizerNone;
	ctx->pq_m = 0;
	ctx->entry_bytes = ctx->vector_bytes;
	ctx->packed = false;
	ctx->slot_bytes = 0;
	ctx->quantizer_data = nullptr;
	ctx->quantizer_floats = 0;
	ctx->sq8_lower = nullptr;
	ctx->sq8_step = nullptr;
}

namespace {



// Quantized lists pack their entries (see the layout in ivf.hpp).
void
SetPacked(IvfContext *ctx)
{
	ctx->packed = ctx->quantizer != kIvfQuantizerNone;
	ctx->slot_bytes = ctx->packed ? sizeof(ItemPointerData) + sizeof(std::uint16_t) + ctx->entry_bytes : 0;
}

char *
Slot(const IvfContext *ctx, Page page, int i)
{
	return reinterpret_cast<char *>(page) + SizeOfPageHeaderData + static_cast<std::size_t>(i) * ctx->slot_bytes;
}

} // namespace

void
IvfCheckPage(Relation index, Page page, BlockNumber blkno)
{
	if (PageIsNew(page) || PageGetSpecialSize(page) != MAXALIGN(sizeof(IndexPageOpaque)) ||
	    PageOpaque(page)->page_id != kIvfPageId)
		ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
		                errmsg("index \"%s\" block %u is not a valid ivfflat page", RelationGetRelationName(index),
		                       blkno)));
}


bool
IvfLayoutReadable(const IvfMetaData &meta)
{
	return meta.version == kIvfLayoutVersion ||
	       (meta.version >= 2 && meta.version < kIvfLayoutVersion && meta.quantizer == kIvfQuantizerNone) ||
	       (meta.version == 3 && meta.quantizer == kIvfQuantizerSq8);
}

void
IvfReadMeta(Relation index, IvfMetaData *out)
{
	Buffer buf = ReadBuffer(index, kIvfMetaBlock);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	Page page = BufferGetPage(buf);
	IvfCheckPage(index, page, kIvfMetaBlock);
	auto *meta = reinterpret_cast<IvfMetaData *>(PageGetContents(page));
	if (meta->magic != kIvfMagic)
		ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
		                errmsg("index \"%s\" is not a valid Quiver ivfflat index", RelationGetRelationName(index))));
	if (!IvfLayoutReadable(*meta))
		ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
		                errmsg("index \"%s\" has page layout version %u, this library reads version %u",
		                       RelationGetRelationName(index), meta->version, kIvfLayoutVersion),
		                errhint("REINDEX the index.")));
	*out = *meta;
	UnlockReleaseBuffer(buf);
}

IvfMetaData
IvfLoadMeta(IvfContext *ctx)
{
	IvfMetaData meta;
	IvfReadMeta(ctx->index, &meta);
	IvfSetMetaFields(ctx, meta);
	if (ctx->quantizer == kIvfQuantizerNone)
		return meta;
	// The quantizer's parameters over quantizer_pages pages.
	std::size_t total = ctx->quantizer_floats, done = 0;
	auto *floats = static_cast<float *>(palloc(sizeof(float) * total));
	for (BlockNumber blkno = 1; blkno <= meta.quantizer_pages; blkno++) {
		Buffer buf = ReadBuffer(ctx->index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		Page page = BufferGetPage(buf);
		IvfCheckPage(ctx->index, page, blkno);
		std::size_t chunk = std::min(IvfQuantizerFloatsPerPage(), total - done);
		ItemId item = PageGetItemId(page, FirstOffsetNumber);
		if (PageGetMaxOffsetNumber(page) < FirstOffsetNumber || !ItemIdIsNormal(item) ||
		    ItemIdGetLength(item) != chunk * sizeof(float))
			ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
			                errmsg("index \"%s\" block %u is not a valid quantizer page",
			                       RelationGetRelationName(ctx->index), blkno)));
		memcpy(floats + done, PageGetItem(page, item), chunk * sizeof(float));
		done += chunk;
		UnlockReleaseBuffer(buf);
	}
	if (done != total)
		ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
		                errmsg("index \"%s\" has an incomplete quantizer", RelationGetRelationName(ctx->index))));
	ctx->quantizer_data = floats;
	if (ctx->quantizer == kIvfQuantizerSq8) {
		ctx->sq8_lower = floats;
		ctx->sq8_step = floats + ctx->dims;
	}
	return meta;
}

void
IvfCheckQuantizer(IvfContext *ctx, int quantizer, int pq_subvectors)
{
	ctx->quantizer = quantizer;
	ctx->entry_bytes = ctx->vector_bytes;
	ctx->quantizer_floats = 0;
	SetPacked(ctx);
	if (quantizer == kIvfQuantizerNone)
		return;
	const char *name = quantizer == kIvfQuantizerSq8 ? "sq8" : "pq";
	if (ctx->value_size != 4 && ctx->value_size != 2)
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
		                errmsg("quantizer \"%s\" needs a vector or halfvec column", name)));
	if (ctx->index->rd_index->indkey.values[0] == 0)
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
		                errmsg("quantizer \"%s\" needs an index on a column, not an expression", name),
		                errdetail("Scans re-rank candidates by the column's exact value, read from the table.")));
	if (quantizer == kIvfQuantizerSq8) {
		ctx->entry_bytes = static_cast<std::size_t>(ctx->dims);
		ctx->quantizer_floats = 2 * static_cast<std::size_t>(ctx->dims);
		SetPacked(ctx);
		return;
	}
	if (pq_subvectors > ctx->dims)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
		                errmsg("pq_subvectors cannot be more than the %d dimensions of the column", ctx->dims)));
	ctx->pq_m = pq_subvectors > 0 ? pq_subvectors : (ctx->dims + 3) / 4;
	ctx->entry_bytes = static_cast<std::size_t>(ctx->pq_m);
	ctx->quantizer_floats = core::kPqCentroids * static_cast<std::size_t>(ctx->dims);
	SetPacked(ctx);
}

std::uint16_t
IvfEncode(const IvfContext *ctx, const void *values, const float *center, std::uint8_t *codes)
{
	auto dims = static_cast<std::size_t>(ctx->dims);
	auto *x = static_cast<float *>(palloc(sizeof(float) * dims));
	IndexWidenVector(ctx, values, x);
	float error;
	if (ctx->quantizer == kIvfQuantizerSq8) {
		core::Sq8Encode(ctx->sq8_lower, ctx->sq8_step, x, dims, codes);
		error = core::Sq8Error(ctx->sq8_lower, ctx->sq8_step, x, codes, dims);
	} else {
		core::PqView book{dims, static_cast<std::size_t>(ctx->pq_m), ctx->quantizer_data};
		for (std::size_t d = 0; d < dims; d++)
			x[d] -= center[d];
		core::PqEncode(book, x, codes);
		error = core::PqError(book, x, codes);
	}
	pfree(x);
	return core::FloatToHalfUp(error);
}

IvfListTuple *
IvfListAt(Relation index, Page page, BlockNumber blkno, OffsetNumber offset, std::size_t vector_bytes)
{
	IvfCheckPage(index, page, blkno);
	if (offset > PageGetMaxOffsetNumber(page))
		ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
		                errmsg("index \"%s\" block %u lacks list item %u", RelationGetRelationName(index), blkno,
		                       offset)));
	ItemId item = PageGetItemId(page, offset);
	if (!ItemIdIsNormal(item) || ItemIdGetLength(item) != ListTupleSize(vector_bytes))
		ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
		                errmsg("index \"%s\" block %u item %u is not a list", RelationGetRelationName(index), blkno,
		                       offset)));
	return reinterpret_cast<IvfListTuple *>(PageGetItem(page, item));
}

int
IvfNearestList(const IvfContext *ctx, const void *values, float *center)
{
	int best = 0;
	float best_distance = 0;
	for (int list = 0; list < ctx->lists;) {
		BlockNumber blkno = ListBlock(ctx, list);
		Buffer buf = ReadBuffer(ctx->index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		Page page = BufferGetPage(buf);
		for (; list < ctx->lists && ListBlock(ctx, list) == blkno; list++) {
			IvfListTuple *t = IvfListAt(ctx->index, page, blkno, ListOffset(ctx, list), ctx->vector_bytes);
			float d = IndexDistance(ctx, values, ListCenter(t));
			if (list == 0 || d < best_distance) {
				best = list;
				best_distance = d;
				if (center != nullptr)
					IndexWidenVector(ctx, ListCenter(t), center);
			}
		}
		UnlockReleaseBuffer(buf);
	}
	return best;
}

void
IvfListCenter(const IvfContext *ctx, int list, float *center)
{
	BlockNumber blkno = ListBlock(ctx, list);
	Buffer buf = ReadBuffer(ctx->index, blkno);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	IvfListTuple *t = IvfListAt(ctx->index, BufferGetPage(buf), blkno, ListOffset(ctx, list), ctx->vector_bytes);
	IndexWidenVector(ctx, ListCenter(t), center);
	UnlockReleaseBuffer(buf);
}

void
IvfSetMetaFields(IvfContext *ctx, const IvfMetaData &meta)
{
	ctx->lists = static_cast<int>(meta.lists);
	ctx->center_blkno = meta.center_blkno;
	ctx->quantizer = meta.quantizer;
	ctx->pq_m = static_cast<int>(meta.pq_m);
	auto dims = static_cast<std::size_t>(ctx->dims);
	switch (ctx->quantizer) {
	case kIvfQuantizerNone:
		ctx->entry_bytes = ctx->vector_bytes;
		ctx->quantizer_floats = 0;
		break;
	case kIvfQuantizerSq8:
		ctx->entry_bytes = dims;
		ctx->quantizer_floats = 2 * dims;
		break;
	case kIvfQuantizerPq:
		if (ctx->pq_m < 1 || ctx->pq_m > ctx->dims)
			ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
			                errmsg("index \"%s\" has %d pq sub-vectors", RelationGetRelationName(ctx->index), ctx->pq_m)));
		ctx->entry_bytes = static_cast<std::size_t>(ctx->pq_m);
		ctx->quantizer_floats = core::kPqCentroids * dims;
		break;
	default:
		ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
		                errmsg("index \"%s\" has unknown quantizer %d", RelationGetRelationName(ctx->index),
		                       ctx->quantizer)));
	}
	SetPacked(ctx);
}

int
IvfEntryCount(const IvfContext *ctx, Page page, BlockNumber blkno)
{
	if (ctx->packed) {
		auto *header = reinterpret_cast<PageHeader>(page);
		std::size_t used = header->pd_lower - SizeOfPageHeaderData;
		if (header->pd_lower < SizeOfPageHeaderData || header->pd_lower > header->pd_upper || used % ctx->slot_bytes != 0)
			ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
			                errmsg("index \"%s\" block %u does not hold whole entries",
			                       RelationGetRelationName(ctx->index), blkno)));
		return static_cast<int>(used / ctx->slot_bytes);
	}
	OffsetNumber maxoff = PageGetMaxOffsetNumber(page);
	std::size_t entry_size = EntryTupleSize(ctx->entry_bytes);
	for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off = OffsetNumberNext(off)) {
		ItemId item = PageGetItemId(page, off);
		if (!ItemIdIsNormal(item) || ItemIdGetLength(item) != entry_size)
			ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
			                errmsg("index \"%s\" block %u item %u is not an entry",
			                       RelationGetRelationName(ctx->index), blkno, off)));
	}
	return maxoff;
}

IvfEntryRef
IvfEntryAt(const IvfContext *ctx, Page page, int i)
{
	IvfEntryRef ref;
	if (ctx->packed) {
		const char *slot = Slot(ctx, page, i);
		memcpy(&ref.heap_tid, slot, sizeof(ItemPointerData));
		memcpy(&ref.error, slot + sizeof(ItemPointerData), sizeof ref.error);
		ref.values = slot + sizeof(ItemPointerData) + sizeof ref.error;
		return ref;
	}
	auto *entry = reinterpret_cast<IvfEntryTuple *>(
	    PageGetItem(page, PageGetItemId(page, static_cast<OffsetNumber>(FirstOffsetNumber + i))));
	ref.heap_tid = entry->heap_tid;
	ref.error = entry->error;
	ref.values = EntryValues(entry);
	return ref;
}

bool
IvfEntryFits(const IvfContext *ctx, Page page)
{
	if (ctx->packed) {
		auto *header = reinterpret_cast<PageHeader>(page);
		return header->pd_lower + ctx->slot_bytes <= header->pd_upper;
	}
	return PageGetFreeSpace(page) >= MAXALIGN(EntryTupleSize(ctx->entry_bytes));
}

void
IvfAddEntry(const IvfContext *ctx, Page page, BlockNumber blkno, const IvfEntryTuple *entry)
{
	if (!IvfEntryFits(ctx, page))
		elog(ERROR, "ivfflat: no room for an entry on block %u", blkno);
	if (ctx->packed) {
		auto *header = reinterpret_cast<PageHeader>(page);
		char *slot = reinterpret_cast<char *>(page) + header->pd_lower;
		memcpy(slot, &entry->heap_tid, sizeof(ItemPointerData));
		memcpy(slot + sizeof(ItemPointerData), &entry->error, sizeof entry->error);
		memcpy(slot + sizeof(ItemPointerData) + sizeof entry->error, EntryValues(const_cast<IvfEntryTuple *>(entry)),
		       ctx->entry_bytes);
		header->pd_lower = static_cast<LocationIndex>(header->pd_lower + ctx->slot_bytes);
		return;
	}
	if (PageAddItem(page, reinterpret_cast<Item>(const_cast<IvfEntryTuple *>(entry)), EntryTupleSize(ctx->entry_bytes),
	                InvalidOffsetNumber, false, false) == InvalidOffsetNumber)
		elog(ERROR, "ivfflat: failed to add an entry to block %u", blkno);
}

void
IvfDeleteEntries(const IvfContext *ctx, Page page, const int *indexes, int n)
{
	if (n == 0)
		return;
	if (ctx->packed) {
		auto *header = reinterpret_cast<PageHeader>(page);
		int count = static_cast<int>((header->pd_lower - SizeOfPageHeaderData) / ctx->slot_bytes);
		int kept = indexes[0];
		for (int i = indexes[0] + 1, next = 1; i < count; i++) {
			if (next < n && indexes[next] == i) {
				next++;
				continue;
			}
			memmove(Slot(ctx, page, kept), Slot(ctx, page, i), ctx->slot_bytes);
			kept++;
		}
		header->pd_lower = static_cast<LocationIndex>(SizeOfPageHeaderData + static_cast<std::size_t>(kept) * ctx->slot_bytes);
		return;
	}
	OffsetNumber offsets[MaxOffsetNumber];
	for (int i = 0; i < n; i++)
		offsets[i] = static_cast<OffsetNumber>(FirstOffsetNumber + indexes[i]);
	PageIndexMultiDelete(page, offsets, n);
}

std::size_t
IvfFreeBytes(const IvfContext *ctx, Page page)
{
	if (ctx->packed) {
		auto *header = reinterpret_cast<PageHeader>(page);
		return header->pd_upper - header->pd_lower;
	}
	return PageGetFreeSpace(page);
}

void
IvfWriteEmptyIndex(Relation index, ForkNumber fork, IvfContext *ctx, int lists, const void *centers)
{
	int center_pages = (lists + ctx->per_page - 1) / ctx->per_page;
	std::size_t quantizer_floats = ctx->quantizer_floats;
	std::size_t per_page = IvfQuantizerFloatsPerPage();
	auto quantizer_pages = static_cast<std::uint32_t>((quantizer_floats + per_page - 1) / per_page);

	Buffer buf = NewIndexBuffer(index, fork);
	if (BufferGetBlockNumber(buf) != kIvfMetaBlock)
		elog(ERROR, "ivfflat: metapage must be block 0");
	Page page = BufferGetPage(buf);
	InitIndexPage(page, kIvfPageId);
	auto *meta = reinterpret_cast<IvfMetaData *>(PageGetContents(page));
	memset(meta, 0, sizeof *meta);
	meta->magic = kIvfMagic;
	meta->version = kIvfLayoutVersion;
	meta->dims = static_cast<std::uint32_t>(ctx->dims);
	meta->lists = static_cast<std::uint32_t>(lists);
	meta->center_pages = static_cast<std::uint32_t>(center_pages);
	meta->metric = static_cast<std::uint8_t>(ctx->metric);
	meta->value_size = static_cast<std::uint8_t>(ctx->value_size);
	meta->quantizer = static_cast<std::uint8_t>(ctx->quantizer);
	meta->quantizer_pages = quantizer_pages;
	meta->pq_m = static_cast<std::uint32_t>(ctx->pq_m);
	meta->center_blkno = 1 + quantizer_pages;
	// pd_lower must cover the metadata, or a full-page image would drop it as a hole.
	reinterpret_cast<PageHeader>(page)->pd_lower =
	    static_cast<LocationIndex>(reinterpret_cast<char *>(meta + 1) - reinterpret_cast<char *>(page));
	IvfSetMetaFields(ctx, *meta);
	MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);

	// The quantizer's parameters, chunked one item per page.
	for (std::size_t done = 0; done < quantizer_floats;) {
		std::size_t chunk = std::min(per_page, quantizer_floats - done);
		const float *floats = ctx->quantizer_data + done;
		buf = NewIndexBuffer(index, fork);
		page = BufferGetPage(buf);
		InitIndexPage(page, kIvfPageId);
		if (PageAddItem(page, reinterpret_cast<Item>(const_cast<float *>(floats)), chunk * sizeof(float),
		                InvalidOffsetNumber, false, false) != FirstOffsetNumber)
			elog(ERROR, "ivfflat: failed to add the quantizer to block %u", BufferGetBlockNumber(buf));
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
		done += chunk;
	}

	std::size_t tuple_size = ListTupleSize(ctx->vector_bytes);
	auto *tuple = static_cast<IvfListTuple *>(palloc0(tuple_size));
	tuple->start_blkno = InvalidBlockNumber;
	tuple->insert_blkno = InvalidBlockNumber;
	for (int list = 0; list < lists;) {
		buf = NewIndexBuffer(index, fork);
		if (BufferGetBlockNumber(buf) != ListBlock(ctx, list))
			elog(ERROR, "ivfflat: centre page of list %d written to block %u", list, BufferGetBlockNumber(buf));
		page = BufferGetPage(buf);
		InitIndexPage(page, kIvfPageId);
		for (int i = 0; i < ctx->per_page && list < lists; i++, list++) {
			memcpy(ListCenter(tuple), static_cast<const char *>(centers) + static_cast<std::size_t>(list) * ctx->vector_bytes,
			       ctx->vector_bytes);
			if (PageAddItem(page, reinterpret_cast<Item>(tuple), tuple_size, InvalidOffsetNumber, false, false) !=
			    ListOffset(ctx, list))
				elog(ERROR, "ivfflat: failed to add list %d", list);
		}
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
	}
	pfree(tuple);
}

} // namespace quiver::pg::ivf
