#include <cstring>

#include "am.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
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

Relation
OpenIndexToInspect(Oid relid, const char *am_name, LOCKMODE lockmode)
{
	Relation index = relation_open(relid, lockmode);
	bool ours = false;
	if (index->rd_rel->relkind == RELKIND_INDEX) {
		HeapTuple tup = SearchSysCache1(AMOID, ObjectIdGetDatum(index->rd_rel->relam));
		if (HeapTupleIsValid(tup)) {
			auto *am = reinterpret_cast<Form_pg_am>(GETSTRUCT(tup));
			char *handler = get_func_name(am->amhandler);
			// The handler's name tells Quiver's AM from another extension's of the same name.
			ours = strcmp(NameStr(am->amname), am_name) == 0 && handler != nullptr &&
			       strncmp(handler, am_name, strlen(am_name)) == 0 && strcmp(handler + strlen(am_name), "handler") == 0;
			ReleaseSysCache(tup);
		}
	}
	if (!ours)
		ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
		                errmsg("\"%s\" is not an %s index", RelationGetRelationName(index), am_name)));
	Oid heap = index->rd_index->indrelid;
	if (pg_class_aclcheck(heap, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
		                errmsg("permission denied for table %s", get_rel_name(heap))));
	return index;
}

void
OpenIndexAndTableToCheck(Oid relid, const char *am_name, Relation *index, Relation *heap)
{
	Oid heapid = IndexGetRelation(relid, true);
	if (!OidIsValid(heapid)) {
		// Not an index: let the usual checks say so.
		relation_close(OpenIndexToInspect(relid, am_name, AccessShareLock), AccessShareLock);
		elog(ERROR, "\"%u\" is not an index", relid); // not reached
	}
	if (pg_class_aclcheck(heapid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
		                errmsg("permission denied for table %s", get_rel_name(heapid))));
	*heap = table_open(heapid, ShareLock);
	*index = OpenIndexToInspect(relid, am_name, ShareLock);
	if (IndexGetRelation(relid, false) != heapid)
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
		                errmsg("index \"%s\" was moved to another table while being opened", RelationGetRelationName(*index))));
}

void
CloseIndexAndTableToCheck(Relation index, Relation heap)
{
	relation_close(index, ShareLock);
	table_close(heap, ShareLock);
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
