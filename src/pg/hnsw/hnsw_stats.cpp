// quiver_hnsw_stats(regclass): what an hnsw index holds, read from its pages.
#include <cstring>

#include "hnsw.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
}

using namespace quiver::pg::hnsw;

namespace {

bool
IsHnswIndex(Relation rel)
{
	if (rel->rd_rel->relkind != RELKIND_INDEX)
		return false;
	HeapTuple tup = SearchSysCache1(AMOID, ObjectIdGetDatum(rel->rd_rel->relam));
	if (!HeapTupleIsValid(tup))
		return false;
	auto *am = reinterpret_cast<Form_pg_am>(GETSTRUCT(tup));
	char *handler = get_func_name(am->amhandler);
	bool is = strcmp(NameStr(am->amname), "hnsw") == 0 && handler != nullptr && strcmp(handler, "hnswhandler") == 0;
	ReleaseSysCache(tup);
	return is;
}

} // namespace

QUIVER_FUNCTION(quiver_hnsw_stats)
{
	Oid relid = PG_GETARG_OID(0);
	TupleDesc tupdesc;
	if (get_call_result_type(fcinfo, nullptr, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	Relation index = relation_open(relid, AccessShareLock);
	if (!IsHnswIndex(index))
		ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
		                errmsg("\"%s\" is not an hnsw index", RelationGetRelationName(index))));
	// Reading the index reveals its vectors' statistics: require the right to read the table.
	Oid heap = index->rd_index->indrelid;
	if (pg_class_aclcheck(heap, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
		                errmsg("permission denied for table %s", get_rel_name(heap))));

	HnswMetaData meta;
	HnswReadMeta(index, &meta);

	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	int64 elements = 0, deleted = 0, heap_tids = 0, edges = 0, free_bytes = 0;
	int64 per_level[32] = {0};
	int max_level = -1;
	for (BlockNumber blkno = kHnswMetaBlock + 1; blkno < nblocks; blkno++) {
		CHECK_FOR_INTERRUPTS();
		Buffer buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		Page page = BufferGetPage(buf);
		free_bytes += static_cast<int64>(PageGetFreeSpace(page));
		ForEachItem(page, [&](OffsetNumber, std::uint8_t type, std::uint8_t *item) {
			if (type == kHnswElementType) {
				auto *e = reinterpret_cast<HnswElementTuple *>(item);
				elements++;
				if (e->deleted)
					deleted++;
				for (int i = 0; i < kHnswHeapTids; i++)
					heap_tids += ItemPointerIsValid(&ElementHeapTids(e)[i]) ? 1 : 0;
				per_level[e->level < 31 ? e->level : 31]++;
				if (e->level > max_level)
					max_level = e->level;
			} else if (type == kHnswNeighborType) {
				auto *n = reinterpret_cast<HnswNeighborTuple *>(item);
				for (int i = 0; i < n->count; i++)
					edges += ItemPointerIsValid(&NeighborSlots(n)[i]) ? 1 : 0;
			}
		});
		UnlockReleaseBuffer(buf);
	}
	relation_close(index, AccessShareLock);

	Datum levels[32];
	int nlevels = max_level + 1 > 32 ? 32 : max_level + 1;
	for (int i = 0; i < nlevels; i++)
		levels[i] = Int64GetDatum(per_level[i]);

	Datum values[14];
	bool nulls[14] = {false};
	values[0] = Int64GetDatum(elements - deleted);
	values[1] = Int64GetDatum(deleted);
	values[2] = Int64GetDatum(heap_tids);
	values[3] = Int32GetDatum(meta.entry_level);
	values[4] = PointerGetDatum(construct_array(levels, nlevels, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	if (meta.entry_blkno == InvalidBlockNumber) {
		nulls[5] = true;
	} else {
		ItemPointerData *ep = static_cast<ItemPointerData *>(palloc(sizeof(ItemPointerData)));
		ItemPointerSet(ep, meta.entry_blkno, meta.entry_offno);
		values[5] = PointerGetDatum(ep);
	}
	values[6] = Float8GetDatum(elements > 0 ? static_cast<double>(edges) / static_cast<double>(elements) : 0.0);
	values[7] = Int64GetDatum(nblocks);
	values[8] = Int64GetDatum(static_cast<int64>(nblocks) * BLCKSZ);
	values[9] = Int64GetDatum(free_bytes);
	values[10] = Int32GetDatum(meta.dims);
	values[11] = Int32GetDatum(meta.m);
	values[12] = Int32GetDatum(meta.ef_construction);
	quiver::core::Metric metric;
	values[13] = CStringGetTextDatum(quiver::core::MetricFromByte(meta.metric, &metric) ? quiver::core::MetricName(metric) : "unknown");
	HeapTuple tuple = heap_form_tuple(tupdesc, values, nulls);
	PG_RETURN_DATUM(HeapTupleGetDatum(tuple));
}
