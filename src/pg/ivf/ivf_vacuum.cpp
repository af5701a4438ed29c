// ivfflat vacuum: entries of dead rows are removed page by page, and each list's insert block
// moves back to the first page that got room, so later inserts fill the freed space.
#include "ivf.hpp"

extern "C" {
#include "access/genam.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
}

namespace quiver::pg::ivf {

namespace {

BlockNumber
ListStart(const IvfContext *ctx, int list, BufferAccessStrategy strategy, BlockNumber *insert)
{
	BlockNumber blkno = ListBlock(ctx, list);
	Buffer buf = ReadBufferExtended(ctx->index, MAIN_FORKNUM, blkno, RBM_NORMAL, strategy);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	IvfListTuple *t =
	    IvfListAt(ctx->index, BufferGetPage(buf), blkno, ListOffset(ctx, list), ctx->vector_bytes);
	BlockNumber start = t->start_blkno;
	*insert = t->insert_blkno;
	UnlockReleaseBuffer(buf);
	return start;
}

void
SetInsertBlock(const IvfContext *ctx, int list, BufferAccessStrategy strategy, BlockNumber to)
{
	BlockNumber blkno = ListBlock(ctx, list);
	Buffer buf = ReadBufferExtended(ctx->index, MAIN_FORKNUM, blkno, RBM_NORMAL, strategy);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	GenericXLogState *state = GenericXLogStart(ctx->index);
	Page page = GenericXLogRegisterBuffer(state, buf, 0);
	IvfListAt(ctx->index, page, blkno, ListOffset(ctx, list), ctx->vector_bytes)->insert_blkno = to;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

IndexBulkDeleteResult *
BulkDelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats, IndexBulkDeleteCallback callback, void *callback_state)
{
	if (stats == nullptr)
		stats = static_cast<IndexBulkDeleteResult *>(palloc0(sizeof(IndexBulkDeleteResult)));
	// Counted afresh on every pass (a vacuum short of memory makes several).
	stats->num_index_tuples = 0;
	IvfContext ctx;
	IvfInitContext(&ctx, info->index);
	IvfLoadMeta(&ctx);
	// An entry takes at least 9 bytes of a page: a packed slot a TID, an error bound and one
	// code byte; an item more (header, line pointer, alignment).
	int deletable[BLCKSZ / (sizeof(ItemPointerData) + sizeof(std::uint16_t) + 1)];

	for (int list = 0; list < ctx.lists; list++) {
		BlockNumber insert;
		BlockNumber blkno = ListStart(&ctx, list, info->strategy, &insert);
		BlockNumber first_freed = InvalidBlockNumber;
		bool insert_seen = false;
		while (blkno != InvalidBlockNumber) {
			vacuum_delay_point();
			Buffer buf = ReadBufferExtended(info->index, MAIN_FORKNUM, blkno, RBM_NORMAL, info->strategy);
			// A cleanup lock waits out scans that still have the page pinned.
			LockBufferForCleanup(buf);
			Page page = BufferGetPage(buf);
			IvfCheckPage(info->index, page, blkno);
			int ndeletable = 0;
			int count = IvfEntryCount(&ctx, page, blkno);
			for (int i = 0; i < count; i++) {
				IvfEntryRef entry = IvfEntryAt(&ctx, page, i);
				if (callback(&entry.heap_tid, callback_state)) {
					deletable[ndeletable++] = i;
					stats->tuples_removed++;
				} else {
					stats->num_index_tuples++;
				}
			}
			if (ndeletable > 0) {
				GenericXLogState *state = GenericXLogStart(info->index);
				page = GenericXLogRegisterBuffer(state, buf, 0);
				IvfDeleteEntries(&ctx, page, deletable, ndeletable);
				GenericXLogFinish(state);
				// Only pages before the insert block need pointing back to.
				if (first_freed == InvalidBlockNumber && !insert_seen)
					first_freed = blkno;
			}
			if (blkno == insert)
				insert_seen = true;
			BlockNumber next = PageOpaque(page)->next_blkno;
			UnlockReleaseBuffer(buf);
			blkno = next;
		}
		if (first_freed != InvalidBlockNumber && first_freed != insert)
			SetInsertBlock(&ctx, list, info->strategy, first_freed);
	}
	return stats;
}

} // namespace

} // namespace quiver::pg::ivf

using namespace quiver::pg::ivf;

extern "C" IndexBulkDeleteResult *
ivfflatbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats, IndexBulkDeleteCallback callback,
                  void *callback_state)
{
	return quiver::pg::Guarded([&] { return BulkDelete(info, stats, callback, callback_state); });
}

extern "C" IndexBulkDeleteResult *
ivfflatvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	return quiver::pg::Guarded([&]() -> IndexBulkDeleteResult * {
		if (info->analyze_only)
			return stats;
		if (stats == nullptr) {
			// No bulk delete ran: the heap's count is the best estimate there is.
			stats = static_cast<IndexBulkDeleteResult *>(palloc0(sizeof(IndexBulkDeleteResult)));
			stats->num_index_tuples = info->num_heap_tuples;
			stats->estimated_count = info->estimated_count;
		}
		stats->num_pages = RelationGetNumberOfBlocks(info->index);
		return stats;
	});
}
