// CREATE INDEX for hnsw.
//
// The table's vectors are inserted one by one through the page-level insert path, with the
// pages dirtied directly instead of WAL-logged one change at a time; once the graph is
// complete the whole relation is WAL-logged in one pass (log_newpage_range), as a bulk build
// should be. ambuildempty writes the metapage of an unlogged index's init fork.
#include <cstring>

#include "hnsw.hpp"

extern "C" {
#include "access/tableam.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/memutils.h"
#include "utils/rel.h"
}

namespace quiver::pg::hnsw {

namespace {

struct BuildState {
	HnswContext ctx;
	MemoryContext tmp_ctx;
	double heap_tuples;
	double index_tuples;
};

void
CheckBuildOptions(Relation index, int dims)
{
	int m = HnswGetM(index);
	int ef_construction = HnswGetEfConstruction(index);
	if (ef_construction < 2 * m)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
		                errmsg("ef_construction must be greater than or equal to 2 * m")));
	if (dims < 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("column does not have dimensions")));
	if (dims > kHnswMaxDim)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
		                errmsg("column cannot have more than %d dimensions for hnsw index", kHnswMaxDim)));
}

void
BuildCallback(Relation, ItemPointer tid, Datum *values, bool *isnull, bool, void *state_ptr)
{
	auto *state = static_cast<BuildState *>(state_ptr);
	state->heap_tuples += 1;
	if (isnull[0])
		return;

	MemoryContext old = MemoryContextSwitchTo(state->tmp_ctx);
	Vector *v = DatumGetVector(values[0]);
	CheckExpectedDim(state->ctx.dims, v->dim);
	float *copy = static_cast<float *>(palloc(sizeof(float) * static_cast<std::size_t>(state->ctx.dims)));
	memcpy(copy, VectorValues(v), sizeof(float) * static_cast<std::size_t>(state->ctx.dims));
	if (HnswPrepareVector(&state->ctx, copy)) {
		HnswInsertVector(&state->ctx, copy, tid);
		state->index_tuples += 1;
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(state->tmp_ctx);
}

IndexBuildResult *
BuildIndex(Relation heap, Relation index, IndexInfo *index_info)
{
	int dims = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;
	CheckBuildOptions(index, dims);
	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));

	BuildState state;
	HnswInitContext(&state.ctx, index, true);
	state.tmp_ctx = AllocSetContextCreate(CurrentMemoryContext, "hnsw build tuple", ALLOCSET_DEFAULT_SIZES);
	state.heap_tuples = 0;
	state.index_tuples = 0;

	HnswWriteMetaPage(index, MAIN_FORKNUM, dims, state.ctx.m, state.ctx.ef_construction, state.ctx.metric);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, 3);
	table_index_build_scan(heap, index, index_info, true, true, BuildCallback, &state, nullptr);
	MemoryContextDelete(state.tmp_ctx);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, 4);
	if (RelationNeedsWAL(index))
		log_newpage_range(index, MAIN_FORKNUM, 0, RelationGetNumberOfBlocks(index), true);

	auto *result = static_cast<IndexBuildResult *>(palloc(sizeof(IndexBuildResult)));
	result->heap_tuples = state.heap_tuples;
	result->index_tuples = state.index_tuples;
	return result;
}

} // namespace

} // namespace quiver::pg::hnsw

using namespace quiver::pg::hnsw;

extern "C" IndexBuildResult *
hnswbuild(Relation heap, Relation index, IndexInfo *index_info)
{
	return quiver::pg::Guarded([&] { return BuildIndex(heap, index, index_info); });
}

extern "C" void
hnswbuildempty(Relation index)
{
	quiver::pg::Guarded([&] {
		int dims = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;
		HnswContext ctx;
		HnswInitContext(&ctx, index, false);
		HnswWriteMetaPage(index, INIT_FORKNUM, dims, ctx.m, ctx.ef_construction, ctx.metric);
	});
}
