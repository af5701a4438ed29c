// VACUUM: drop the heap TIDs of dead rows from element tuples; an element left with none is
// marked deleted. Deleted elements stay in the graph as waypoints (their edges keep it
// connected) and are never returned by scans.
#include "hnsw.hpp"

extern "C" {
#include "access/genam.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/rel.h"
}

using namespace quiver::pg::hnsw;

extern "C" IndexBulkDeleteResult *
hnswbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats, IndexBulkDeleteCallback callback,
               void *callback_state)
{
	return quiver::pg::Guarded([&] {
		Relation index = info->index;
		if (stats == nullptr)
			stats = static_cast<IndexBulkDeleteResult *>(palloc0(sizeof(IndexBulkDeleteResult)));

		BlockNumber nblocks = RelationGetNumberOfBlocks(index);
		double live = 0;
		for (BlockNumber blkno = kHnswMetaBlock + 1; blkno < nblocks; blkno++) {
			vacuum_delay_point();
			Buffer buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, info->strategy);
			LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
			Page page = BufferGetPage(buf);

			// First find out whether this page changes at all, so that unchanged pages cost
			// no WAL.
			bool changes = false;
			OffsetNumber maxoff = PageGetMaxOffsetNumber(page);
			for (OffsetNumber off = FirstOffsetNumber; off <= maxoff && !changes; off = OffsetNumberNext(off)) {
				auto *e = reinterpret_cast<HnswElementTuple *>(PageGetItem(page, PageGetItemId(page, off)));
				if (e->type != kHnswElementType || e->deleted)
					continue;
				ItemPointerData *tids = ElementHeapTids(e);
				for (int i = 0; i < kHnswHeapTids; i++) {
					if (ItemPointerIsValid(&tids[i]) && callback(&tids[i], callback_state)) {
						changes = true;
						break;
					}
				}
			}

			Page target = page;
			GenericXLogState *state = nullptr;
			if (changes) {
				state = GenericXLogStart(index);
				target = GenericXLogRegisterBuffer(state, buf, 0);
			}
			for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off = OffsetNumberNext(off)) {
				auto *e = reinterpret_cast<HnswElementTuple *>(PageGetItem(target, PageGetItemId(target, off)));
				if (e->type != kHnswElementType || e->deleted)
					continue;
				ItemPointerData *tids = ElementHeapTids(e);
				int kept = 0;
				for (int i = 0; i < kHnswHeapTids; i++) {
					if (!ItemPointerIsValid(&tids[i]))
						continue;
					if (changes && callback(&tids[i], callback_state)) {
						ItemPointerSetInvalid(&tids[i]);
						stats->tuples_removed += 1;
					} else {
						tids[kept++] = tids[i];
					}
				}
				for (int i = kept; i < kHnswHeapTids; i++)
					ItemPointerSetInvalid(&tids[i]);
				if (kept == 0 && changes)
					e->deleted = 1;
				live += kept;
			}
			if (changes)
				GenericXLogFinish(state);
			UnlockReleaseBuffer(buf);
		}
		stats->num_pages = nblocks;
		stats->num_index_tuples = live;
		return stats;
	});
}

extern "C" IndexBulkDeleteResult *
hnswvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	return quiver::pg::Guarded([&]() -> IndexBulkDeleteResult * {
		if (info->analyze_only || stats == nullptr)
			return stats;
		stats->num_pages = RelationGetNumberOfBlocks(info->index);
		return stats;
	});
}
