// Pages of the ivfflat AM: the metapage, centre pages and the nearest list of a vector.
#include <cstring>

#include "ivf.hpp"

extern "C" {
#include "storage/lmgr.h"
}

namespace quiver::pg::ivf {

void
IvfInitContext(IvfContext *ctx, Relation index)
{
	ctx->index = index;
	DescribeIndexValues(index, "ivfflat", 0, ctx);
	if (ctx->value_size == kSparseValueSize || ctx->metric == core::Metric::L1 || ctx->metric == core::Metric::Jaccard)
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("type not supported for ivfflat index")));
	ctx->lists = 0;
	ctx->per_page = ListsPerPage(ctx->vector_bytes);
}

namespace {

void
CheckPage(Relation index, Page page, BlockNumber blkno)
{
	if (PageIsNew(page) || PageGetSpecialSize(page) != MAXALIGN(sizeof(IndexPageOpaque)) ||
	    PageOpaque(page)->page_id != kIvfPageId)
		ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
		                errmsg("index \"%s\" block %u is not a valid ivfflat page", RelationGetRelationName(index),
		                       blkno)));
}

} // namespace

void
IvfReadMeta(Relation index, IvfMetaData *out)
{
	Buffer buf = ReadBuffer(index, kIvfMetaBlock);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	Page page = BufferGetPage(buf);
	CheckPage(index, page, kIvfMetaBlock);
	auto *meta = reinterpret_cast<IvfMetaData *>(PageGetContents(page));
	if (meta->magic != kIvfMagic)
		ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
		                errmsg("index \"%s\" is not a valid Quiver ivfflat index", RelationGetRelationName(index))));
	if (meta->version != kIvfLayoutVersion)
		ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
		                errmsg("index \"%s\" has page layout version %u, this library reads version %u",
		                       RelationGetRelationName(index), meta->version, kIvfLayoutVersion),
		                errhint("REINDEX the index.")));
	*out = *meta;
	UnlockReleaseBuffer(buf);
}

IvfListTuple *
IvfListAt(Relation index, Page page, BlockNumber blkno, OffsetNumber offset, std::size_t vector_bytes)
{
	CheckPage(index, page, blkno);
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
IvfNearestList(const IvfContext *ctx, const void *values)
{
	int best = 0;
	float best_distance = 0;
	for (int list = 0; list < ctx->lists;) {
		BlockNumber blkno = ListBlock(list, ctx->per_page);
		Buffer buf = ReadBuffer(ctx->index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		Page page = BufferGetPage(buf);
		for (; list < ctx->lists && ListBlock(list, ctx->per_page) == blkno; list++) {
			IvfListTuple *t = IvfListAt(ctx->index, page, blkno, ListOffset(list, ctx->per_page), ctx->vector_bytes);
			float d = IndexDistance(ctx, values, ListCenter(t));
			if (list == 0 || d < best_distance) {
				best = list;
				best_distance = d;
			}
		}
		UnlockReleaseBuffer(buf);
	}
	return best;
}

void
IvfWriteEmptyIndex(Relation index, ForkNumber fork, const IvfContext *ctx, int lists, const void *centers)
{
	int per_page = ListsPerPage(ctx->vector_bytes);
	int center_pages = (lists + per_page - 1) / per_page;

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
	// pd_lower must cover the metadata, or a full-page image would drop it as a hole.
	reinterpret_cast<PageHeader>(page)->pd_lower =
	    static_cast<LocationIndex>(reinterpret_cast<char *>(meta + 1) - reinterpret_cast<char *>(page));
	MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);

	std::size_t tuple_size = ListTupleSize(ctx->vector_bytes);
	auto *tuple = static_cast<IvfListTuple *>(palloc0(tuple_size));
	tuple->start_blkno = InvalidBlockNumber;
	tuple->insert_blkno = InvalidBlockNumber;
	for (int list = 0; list < lists;) {
		buf = NewIndexBuffer(index, fork);
		page = BufferGetPage(buf);
		InitIndexPage(page, kIvfPageId);
		for (int i = 0; i < per_page && list < lists; i++, list++) {
			memcpy(ListCenter(tuple), static_cast<const char *>(centers) + static_cast<std::size_t>(list) * ctx->vector_bytes,
			       ctx->vector_bytes);
			if (PageAddItem(page, reinterpret_cast<Item>(tuple), tuple_size, InvalidOffsetNumber, false, false) !=
			    ListOffset(list, per_page))
				elog(ERROR, "ivfflat: failed to add list %d", list);
		}
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
	}
	pfree(tuple);
}

} // namespace quiver::pg::ivf
