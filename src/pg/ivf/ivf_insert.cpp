// ivfflat insert: the row goes to the end of its nearest list, through Generic WAL.
#include <cstring>

#include "ivf.hpp"

extern "C" {
#include "utils/memutils.h"
}

namespace quiver::pg::ivf {

namespace {

struct ListPages {
	BlockNumber start;
	BlockNumber insert;
};

ListPages
ReadListPages(const IvfContext *ctx, int list)
{
	BlockNumber blkno = ListBlock(ctx, list);
	Buffer buf = ReadBuffer(ctx->index, blkno);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	IvfListTuple *t =
	    IvfListAt(ctx->index, BufferGetPage(buf), blkno, ListOffset(ctx, list), ctx->vector_bytes);
	ListPages pages = {t->start_blkno, t->insert_blkno};
	UnlockReleaseBuffer(buf);
	return pages;
}

// Gives an empty list its first page, holding the entry. False when another insert gave it
// one meanwhile (the caller then appends normally).
bool
StartList(const IvfContext *ctx, int list, const IvfEntryTuple *entry)
{
	BlockNumber center_blkno = ListBlock(ctx, list);
	Buffer center_buf = ReadBuffer(ctx->index, center_blkno);
	LockBuffer(center_buf, BUFFER_LOCK_EXCLUSIVE);
	IvfListTuple *t = IvfListAt(ctx->index, BufferGetPage(center_buf), center_blkno, ListOffset(ctx, list),
	                            ctx->vector_bytes);
	if (t->start_blkno != InvalidBlockNumber) {
		UnlockReleaseBuffer(center_buf);
		return false;
	}
	Buffer buf = NewIndexBuffer(ctx->index, MAIN_FORKNUM);
	BlockNumber blkno = BufferGetBlockNumber(buf);
	GenericXLogState *state = GenericXLogStart(ctx->index);
	Page center_page = GenericXLogRegisterBuffer(state, center_buf, 0);
	Page page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);
	InitIndexPage(page, kIvfPageId);
	IvfAddEntry(ctx, page, blkno, entry);
	t = IvfListAt(ctx->index, center_page, center_blkno, ListOffset(ctx, list), ctx->vector_bytes);
	t->start_blkno = blkno;
	t->insert_blkno = blkno;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
	UnlockReleaseBuffer(center_buf);
	return true;
}

// Moves the list's insert block from `from` to `to`, unless someone else moved it meanwhile.
void
AdvanceInsertBlock(const IvfContext *ctx, int list, BlockNumber from, BlockNumber to)
{
	BlockNumber center_blkno = ListBlock(ctx, list);
	Buffer buf = ReadBuffer(ctx->index, center_blkno);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	IvfListTuple *t =
	    IvfListAt(ctx->index, BufferGetPage(buf), center_blkno, ListOffset(ctx, list), ctx->vector_bytes);
	if (t->insert_blkno != from) {
		UnlockReleaseBuffer(buf);
		return;
	}
	GenericXLogState *state = GenericXLogStart(ctx->index);
	Page page = GenericXLogRegisterBuffer(state, buf, 0);
	t = IvfListAt(ctx->index, page, center_blkno, ListOffset(ctx, list), ctx->vector_bytes);
	t->insert_blkno = to;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

void
InsertEntry(const IvfContext *ctx, int list, const IvfEntryTuple *entry)
{
	ListPages pages = ReadListPages(ctx, list);
	if (pages.start == InvalidBlockNumber) {
		if (StartList(ctx, list, entry))
			return;
		pages = ReadListPages(ctx, list);
	}

	// Walk from the insert block to the first page with room, appending a page at the end of
	// the chain when none has any.
	BlockNumber blkno = pages.insert;
	for (;;) {
		Buffer buf = ReadBuffer(ctx->index, blkno);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		Page page = BufferGetPage(buf);
		IvfCheckPage(ctx->index, page, blkno);
		if (IvfEntryFits(ctx, page)) {
			GenericXLogState *state = GenericXLogStart(ctx->index);
			page = GenericXLogRegisterBuffer(state, buf, 0);
			IvfAddEntry(ctx, page, blkno, entry);
			GenericXLogFinish(state);
			UnlockReleaseBuffer(buf);
			if (blkno != pages.insert)
				AdvanceInsertBlock(ctx, list, pages.insert, blkno);
			return;
		}
		BlockNumber next = PageOpaque(page)->next_blkno;
		if (next != InvalidBlockNumber) {
			UnlockReleaseBuffer(buf);
			blkno = next;
			continue;
		}
		// The last page is full: link a new one holding the entry.
		Buffer new_buf = NewIndexBuffer(ctx->index, MAIN_FORKNUM);
		BlockNumber new_blkno = BufferGetBlockNumber(new_buf);
		GenericXLogState *state = GenericXLogStart(ctx->index);
		page = GenericXLogRegisterBuffer(state, buf, 0);
		Page new_page = GenericXLogRegisterBuffer(state, new_buf, GENERIC_XLOG_FULL_IMAGE);
		InitIndexPage(new_page, kIvfPageId);
		IvfAddEntry(ctx, new_page, new_blkno, entry);
		PageOpaque(page)->next_blkno = new_blkno;
		GenericXLogFinish(state);
		UnlockReleaseBuffer(new_buf);
		UnlockReleaseBuffer(buf);
		AdvanceInsertBlock(ctx, list, pages.insert, new_blkno);
		return;
	}
}

} // namespace

} // namespace quiver::pg::ivf

using namespace quiver::pg::ivf;

extern "C" bool
ivfflatinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid, Relation, IndexUniqueCheck, bool,
              IndexInfo *)
{
	return quiver::pg::Guarded([&]() -> bool {
		if (isnull[0])
			return false;
		MemoryContext mem = AllocSetContextCreate(CurrentMemoryContext, "ivfflat insert", ALLOCSET_DEFAULT_SIZES);
		MemoryContext old = MemoryContextSwitchTo(mem);

		IvfContext ctx;
		IvfInitContext(&ctx, index);
		IvfLoadMeta(&ctx);
		std::size_t entry_size = EntryTupleSize(ctx.entry_bytes);
		auto *entry = static_cast<IvfEntryTuple *>(palloc0(entry_size));
		entry->heap_tid = *heap_tid;
		bool quantized = ctx.quantizer != kIvfQuantizerNone;
		void *stored = quantized ? palloc(ctx.vector_bytes) : EntryValues(entry);
		IndexDatumValues(&ctx, values[0], stored);
		if (IndexPrepareVector(&ctx, stored)) {
			// The list is chosen by the exact vector, as in the build; a quantizer stores codes.
			float *center = quantized ? static_cast<float *>(palloc(sizeof(float) * static_cast<std::size_t>(ctx.dims)))
			                          : nullptr;
			int list = IvfNearestList(&ctx, stored, center);
			if (quantized)
				entry->error = IvfEncode(&ctx, stored, center, reinterpret_cast<std::uint8_t *>(EntryValues(entry)));
			InsertEntry(&ctx, list, entry);
		}

		MemoryContextSwitchTo(old);
		MemoryContextDelete(mem);
		return false;
	});
}
