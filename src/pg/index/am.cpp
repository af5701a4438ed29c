#include <cstring>

#include "am.hpp"

extern "C" {
#include "commands/vacuum.h"
#include "storage/lmgr.h"
#include "utils/float.h"
#include "utils/rel.h"
}

namespace quiver::pg {

void
InitIndexPage(Page page, std::uint16_t page_id)
{
	PageInit(page, BLCKSZ, sizeof(IndexPageOpaque));
	IndexPageOpaque *opaque = PageOpaque(page);
	opaque->next_blkno = InvalidBlockNumber;
	opaque->flags = 0;
	opaque->page_id = page_id;
}

Buffer
NewIndexBuffer(Relation index, ForkNumber fork)
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

IndexAmRoutine *
MakeOrderByOnlyAmRoutine()
{
	// makeNode zeroes every field (the callbacks included): only the true ones are set.
	IndexAmRoutine *am = makeNode(IndexAmRoutine);
	am->amcanorderbyop = true;
	am->amoptionalkey = true;
	am->amparallelvacuumoptions = VACUUM_OPTION_PARALLEL_BULKDEL;
	am->amkeytype = InvalidOid;
	return am;
}

bool
CostWithoutOrderBy(IndexPath *path, Cost *startup_cost, Cost *total_cost, Selectivity *selectivity,
                   double *correlation, double *pages)
{
	if (path->indexorderbys != NIL)
		return false;
	*startup_cost = get_float8_infinity();
	*total_cost = get_float8_infinity();
	*selectivity = 0;
	*correlation = 0;
	*pages = 0;
	return true;
}

void
CopyScanKeys(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys)
{
	if (keys != nullptr && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, sizeof(ScanKeyData) * static_cast<std::size_t>(nkeys));
	if (orderbys != nullptr && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys, sizeof(ScanKeyData) * static_cast<std::size_t>(norderbys));
}

} // namespace quiver::pg
