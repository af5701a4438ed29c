// ivfflat build: sample rows (reservoir) in a first heap scan, k-means on the core's threads,
// then a second heap scan that assigns rows to lists in batches (core threads again), sorts
// them by list (tuplesort, bounded by maintenance_work_mem) and writes each list's pages back
// to back; the whole relation is WAL-logged once at the end.
#include <cmath>
#include <cstring>

#include "quiver/half.hpp"
#include "quiver/half.hpp"
#include "quiver/kmeans.hpp"
#include "quiver/parallel_for.hpp"
#include "quiver/pq.hpp"
#include "quiver/sq8.hpp"
#include "ivf.hpp"
#include "../index/build_job.hpp"

extern "C" {
#include "access/tableam.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "executor/tuptable.h"
#include "portability/instr_time.h"
#include "utils/tuplesort.h"
#include "storage/itemptr.h"
#include "utils/float.h"
#include "utils/memutils.h"
#include "utils/tuplesort.h"
}

namespace quiver::pg::ivf {

namespace {

// Rows assigned per batch: enough to keep the threads busy, few enough to bound the memory.
constexpr std::size_t kAssignBatch = 4096;

// Owns the core objects; freed by a reset callback on the build's context, so an ERROR or a
// cancel still joins the threads and frees their memory.
struct CoreObjects {
	core::KmeansJob *kmeans;
	core::PqTrainJob *pq;
	core::ParallelFor *assign;
};

void
FreeCoreObjects(void *arg)
{
	auto *objs = static_cast<CoreObjects *>(arg);
	delete objs->kmeans;
	objs->kmeans = nullptr;
	delete objs->pq;
	objs->pq = nullptr;
	delete objs->assign;
	objs->assign = nullptr;
}

struct BuildState {
	IvfContext ctx;
	int lists_option;
	int threads;
	std::size_t width; // floats per widened row (dims: bit strings widen to one float per bit)
	bool normalize;    // inner product trains on directions (cosine rows arrive normalized)
	MemoryContext build_ctx;
	MemoryContext tmp_ctx;
	CoreObjects *objs;

	// Sampling (first scan); for sq8 also the range of every dimension over all rows
	float *sq8_lo;
	float *sq8_hi;
	float *samples;
	float *raw_samples; // pq with inner product: the samples before normalization
	std::size_t sample_cap;
	std::size_t sampled;
	std::uint64_t seen;
	pg_prng_state prng;

	// Centres (stored form for the pages, widened for the assignment)
	int lists;
	char *centers;
	float *centers_f;

	// Assignment (second scan)
	float *batch_f;
	float *batch_raw; // pq with inner product: the batch's rows before normalization
	char *batch_values;
	ItemPointerData *batch_tids;
	std::int32_t *batch_lists;
	std::size_t batch_n;
	TupleDesc sort_desc;
	TupleTableSlot *slot;        // rows going into the sort
	TupleTableSlot *sorted_slot; // and coming out
	Tuplesortstate *sort;
	double indtuples;
	double reltuples;
};

// A stored vector as floats for k-means and assignment.
void
Widen(const BuildState *bs, const void *stored, float *out)
{
	if (bs->ctx.value_size == 0) {
		const auto *bytes = static_cast<const std::uint8_t *>(stored);
		for (int i = 0; i < bs->ctx.dims; i++)
			out[i] = static_cast<float>((bytes[i / 8] >> (7 - i % 8)) & 1);
		return;
	}
	IndexWidenVector(&bs->ctx, stored, out);
	if (bs->normalize) {
		double norm = 0;
		for (std::size_t t = 0; t < bs->width; t++)
			norm += static_cast<double>(out[t]) * out[t];
		if (norm > 0) {
			norm = std::sqrt(norm);
			for (std::size_t t = 0; t < bs->width; t++)
				out[t] = static_cast<float>(out[t] / norm);
		}
	}
}

// A centre in the column's format: bit centres are the rounded means.
void
Narrow(const BuildState *bs, const float *center, void *out)
{
	if (bs->ctx.value_size == 0) {
		auto *bytes = static_cast<std::uint8_t *>(out);
		memset(bytes, 0, bs->ctx.vector_bytes);
		for (int i = 0; i < bs->ctx.dims; i++)
			if (center[i] > 0.5f)
				bytes[i / 8] |= static_cast<std::uint8_t>(1u << (7 - i % 8));
		return;
	}
	IndexNarrowVector(&bs->ctx, center, out);
}

// The row's stored form into out, or false when it is not indexed (null, or zero for cosine).
bool
RowValues(BuildState *bs, Datum *values, bool *isnull, void *out)
{
	if (isnull[0])
		return false;
	IndexDatumValues(&bs->ctx, values[0], out);
	return IndexPrepareVector(&bs->ctx, out);
}

bool
ZeroVector(const float *x, std::size_t n)
{
	for (std::size_t t = 0; t < n; t++)
		if (x[t] != 0)
			return false;
	return true;
}

void
SampleCallback(Relation, ItemPointer, Datum *values, bool *isnull, bool, void *state)
{
	auto *bs = static_cast<BuildState *>(state);
	MemoryContext old = MemoryContextSwitchTo(bs->tmp_ctx);
	void *stored = palloc(bs->ctx.vector_bytes);
	if (RowValues(bs, values, isnull, stored)) {
		float *row = static_cast<float *>(palloc(sizeof(float) * bs->width));
		if (bs->ctx.quantizer == kIvfQuantizerSq8) {
			// The codes cover the stored values themselves (inner product rows are not normalized).
			IndexWidenVector(&bs->ctx, stored, row);
			core::Sq8Extend(row, bs->width, bs->sq8_lo, bs->sq8_hi);
		}
		Widen(bs, stored, row);
		// Inner product trains on directions: a zero vector has none.
		if (!(bs->normalize && ZeroVector(row, bs->width))) {
			// Reservoir sampling (algorithm R): every row ends up sampled with equal chance.
			std::size_t slot = bs->sampled < bs->sample_cap
			                       ? bs->sampled++
			                       : static_cast<std::size_t>(pg_prng_uint64_range(&bs->prng, 0, bs->seen));
			if (slot < bs->sample_cap) {
				memcpy(bs->samples + slot * bs->width, row, sizeof(float) * bs->width);
				if (bs->raw_samples != nullptr)
					IndexWidenVector(&bs->ctx, stored, bs->raw_samples + slot * bs->width);
			}
			bs->seen++;
		}
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tmp_ctx);
}

void
SampleRows(BuildState *bs, Relation heap, Relation index, IndexInfo *index_info)
{
	// At least max(10,000, 50 per list) rows, as far as maintenance_work_mem allows once the
	// centres and k-means' per-row state (assignment, two bounds, grouping) are counted; never
	// more than the table can hold.
	std::size_t target = std::max<std::size_t>(10000, 50 * static_cast<std::size_t>(bs->lists_option));
	std::size_t max_rows = static_cast<std::size_t>(RelationGetNumberOfBlocks(heap)) * MaxHeapTuplesPerPage;
	target = std::min(target, std::max<std::size_t>(max_rows, 1));
	std::size_t row_bytes = sizeof(float) * bs->width + 32;
	std::size_t center_bytes =
	    static_cast<std::size_t>(bs->lists_option) * (sizeof(float) * bs->width * 3 + bs->ctx.vector_bytes);
	std::size_t budget = static_cast<std::size_t>(maintenance_work_mem) * 1024;
	std::size_t fit = budget > center_bytes ? (budget - center_bytes) / row_bytes : 0;
	bs->sample_cap = std::max<std::size_t>(std::min(target, fit), std::min<std::size_t>(target, bs->lists_option));
	bs->samples = static_cast<float *>(MemoryContextAllocHuge(bs->build_ctx, sizeof(float) * bs->width * bs->sample_cap));
	// Codebooks quantize the stored vectors, which inner product does not normalize.
	if (bs->ctx.quantizer == kIvfQuantizerPq && bs->normalize)
		bs->raw_samples =
		    static_cast<float *>(MemoryContextAllocHuge(bs->build_ctx, sizeof(float) * bs->width * bs->sample_cap));
	pg_prng_seed(&bs->prng, 42);
	if (bs->ctx.quantizer == kIvfQuantizerSq8) {
		bs->sq8_lo = static_cast<float *>(palloc(sizeof(float) * bs->width));
		bs->sq8_hi = static_cast<float *>(palloc(sizeof(float) * bs->width));
		for (std::size_t d = 0; d < bs->width; d++) {
			bs->sq8_lo[d] = get_float4_infinity();
			bs->sq8_hi[d] = -get_float4_infinity();
		}
	}
	table_index_build_scan(heap, index, index_info, true, true, SampleCallback, bs, nullptr);
	if (bs->ctx.quantizer == kIvfQuantizerSq8) {
		bs->ctx.quantizer_data = static_cast<float *>(palloc(sizeof(float) * bs->ctx.quantizer_floats));
		bs->ctx.sq8_lower = bs->ctx.quantizer_data;
		bs->ctx.sq8_step = bs->ctx.quantizer_data + bs->width;
		core::Sq8FromRange(bs->sq8_lo, bs->sq8_hi, bs->width, bs->ctx.sq8_lower, bs->ctx.sq8_step);
	}
}

// pq: the codebooks, trained on the samples' residuals from their centres, after the k-means
// (zero without rows: every code 0 until a REINDEX).
void
TrainPq(BuildState *bs)
{
	bs->ctx.quantizer_data =
	    static_cast<float *>(MemoryContextAllocHuge(bs->build_ctx, sizeof(float) * bs->ctx.quantizer_floats));
	memset(bs->ctx.quantizer_data, 0, sizeof(float) * bs->ctx.quantizer_floats);
	if (bs->sampled == 0)
		return;
	// The samples are not needed as they are any more: each becomes its residual, the stored
	// row (before normalization, for inner product) minus its list's centre.
	float *residuals = bs->raw_samples != nullptr ? bs->raw_samples : bs->samples;
	const float *assign_rows = bs->samples;
	const float *centers = bs->centers_f;
	std::size_t k = static_cast<std::size_t>(bs->lists), width = bs->width;
	bs->objs->assign = new core::ParallelFor(bs->sampled, bs->threads, [=](std::size_t i) {
		std::size_t list = static_cast<std::size_t>(core::NearestCenter(centers, k, assign_rows + i * width, width));
		for (std::size_t d = 0; d < width; d++)
			residuals[i * width + d] -= centers[list * width + d];
	});
	RunBuildJob(*bs->objs->assign, "ivfflat", false);
	delete bs->objs->assign;
	bs->objs->assign = nullptr;
	core::PqParams params;
	params.dim = bs->width;
	params.m = static_cast<std::size_t>(bs->ctx.pq_m);
	params.threads = bs->threads;
	params.seed = 42;
	bs->objs->pq = new core::PqTrainJob(residuals, bs->sampled, params);
	RunBuildJob(*bs->objs->pq, "ivfflat", false);
	const std::vector<float> &data = bs->objs->pq->Result().Data();
	memcpy(bs->ctx.quantizer_data, data.data(), sizeof(float) * bs->ctx.quantizer_floats);
	delete bs->objs->pq;
	bs->objs->pq = nullptr;
}

// Trains the centres on the samples (or makes one zero centre when there are none).
void
ComputeCenters(BuildState *bs)
{
	std::size_t k = std::min<std::size_t>(static_cast<std::size_t>(bs->lists_option), bs->sampled);
	bs->lists = k == 0 ? 1 : static_cast<int>(k);
	bs->centers_f = static_cast<float *>(MemoryContextAllocHuge(bs->build_ctx, sizeof(float) * bs->width * bs->lists));
	bs->centers = static_cast<char *>(MemoryContextAllocHuge(bs->build_ctx, bs->ctx.vector_bytes * bs->lists));
	if (k == 0) {
		memset(bs->centers_f, 0, sizeof(float) * bs->width);
		memset(bs->centers, 0, bs->ctx.vector_bytes);
		return;
	}

	core::KmeansParams params;
	params.k = k;
	params.dim = bs->width;
	params.spherical = bs->normalize || bs->ctx.metric == core::Metric::Cosine;
	params.threads = bs->threads;
	params.seed = 42;
	// Elkan's bounds get what maintenance_work_mem leaves after the samples and centres.
	std::size_t budget = static_cast<std::size_t>(maintenance_work_mem) * 1024;
	std::size_t used = sizeof(float) * bs->width * (bs->sampled + 3 * k) + bs->ctx.vector_bytes * k;
	params.bound_memory = budget > used ? budget - used : 0;
	bs->objs->kmeans = new core::KmeansJob(bs->samples, bs->sampled, params);
	RunBuildJob(*bs->objs->kmeans, "ivfflat", false);
	const std::vector<float> &centers = bs->objs->kmeans->Result().centers;
	// The assignment compares rows with the centres as stored (rounded to halves or bits), so
	// the build and later inserts choose lists the same way.
	for (std::size_t j = 0; j < k; j++) {
		char *stored = bs->centers + j * bs->ctx.vector_bytes;
		Narrow(bs, centers.data() + j * bs->width, stored);
		if (bs->ctx.value_size == 0) {
			Widen(bs, stored, bs->centers_f + j * bs->width);
		} else {
			IndexWidenVector(&bs->ctx, stored, bs->centers_f + j * bs->width);
		}
	}
	delete bs->objs->kmeans;
	bs->objs->kmeans = nullptr;
}

// What a row carries through the sort: its codes after their error bound (2 bytes) when the
// lists are quantized, else its stored vector.
std::size_t
PayloadBytes(const BuildState *bs)
{
	return bs->ctx.entry_bytes + (bs->ctx.quantizer != kIvfQuantizerNone ? sizeof(std::uint16_t) : 0);
}

bool
PqEncodesInBatch(const BuildState *bs)
{
	return bs->ctx.quantizer == kIvfQuantizerPq;
}

void
FlushBatch(BuildState *bs)
{
	if (bs->batch_n == 0)
		return;
	const float *centers = bs->centers_f;
	float *rows = bs->batch_f;
	// The stored rows, which pq encodes: the widened ones unless inner product normalized those.
	float *stored_rows = bs->batch_raw != nullptr ? bs->batch_raw : bs->batch_f;
	std::int32_t *out = bs->batch_lists;
	std::size_t k = static_cast<std::size_t>(bs->lists), width = bs->width;
	// pq codes of the rows' residuals from their centres, once the centres are known (encoding
	// costs as much as the assignment).
	core::PqView book{width, static_cast<std::size_t>(bs->ctx.pq_m), bs->ctx.quantizer_data};
	bool encode = PqEncodesInBatch(bs);
	auto *payloads = reinterpret_cast<std::uint8_t *>(bs->batch_values);
	std::size_t payload_bytes = PayloadBytes(bs);
	bs->objs->assign = new core::ParallelFor(bs->batch_n, bs->threads, [=](std::size_t i) {
		out[i] = core::NearestCenter(centers, k, rows + i * width, width);
		if (encode) {
			// The row is not needed after its assignment: it becomes its residual.
			float *residual = stored_rows + i * width;
			const float *center = centers + static_cast<std::size_t>(out[i]) * width;
			for (std::size_t d = 0; d < width; d++)
				residual[d] -= center[d];
			std::uint8_t *payload = payloads + i * payload_bytes;
			core::PqEncode(book, residual, payload + sizeof(std::uint16_t));
			std::uint16_t error = core::FloatToHalfUp(core::PqError(book, residual, payload + sizeof(std::uint16_t)));
			memcpy(payload, &error, sizeof error);
		}
	});
	RunBuildJob(*bs->objs->assign, "ivfflat", false);
	delete bs->objs->assign;
	bs->objs->assign = nullptr;

	// One sort tuple per row: (list, heap TID, stored vector as bytea).
	bytea *value = static_cast<bytea *>(palloc(VARHDRSZ + payload_bytes));
	SET_VARSIZE(value, VARHDRSZ + payload_bytes);
	for (std::size_t i = 0; i < bs->batch_n; i++) {
		ExecClearTuple(bs->slot);
		bs->slot->tts_values[0] = Int32GetDatum(bs->batch_lists[i]);
		bs->slot->tts_isnull[0] = false;
		bs->slot->tts_values[1] = PointerGetDatum(&bs->batch_tids[i]);
		bs->slot->tts_isnull[1] = false;
		memcpy(VARDATA(value), bs->batch_values + i * payload_bytes, payload_bytes);
		bs->slot->tts_values[2] = PointerGetDatum(value);
		bs->slot->tts_isnull[2] = false;
		ExecStoreVirtualTuple(bs->slot);
		tuplesort_puttupleslot(bs->sort, bs->slot);
	}
	pfree(value);
	bs->indtuples += static_cast<double>(bs->batch_n);
	bs->batch_n = 0;
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, static_cast<int64>(bs->indtuples));
}

void
AssignCallback(Relation, ItemPointer tid, Datum *values, bool *isnull, bool, void *state)
{
	// Called from PostgreSQL's C code: no C++ exception (a thread error rethrown by a batch)
	// may unwind through it.
	quiver::pg::Guarded([&] {
		auto *bs = static_cast<BuildState *>(state);
		bs->reltuples++;
		// The entry's payload: the stored vector itself, or its sq8 codes.
		char *entry = bs->batch_values + bs->batch_n * PayloadBytes(bs);
		MemoryContext old = MemoryContextSwitchTo(bs->tmp_ctx);
		bool quantized = bs->ctx.quantizer != kIvfQuantizerNone;
		char *stored = quantized ? static_cast<char *>(palloc(bs->ctx.vector_bytes)) : entry;
		bool indexed = RowValues(bs, values, isnull, stored);
		if (indexed) {
			Widen(bs, stored, bs->batch_f + bs->batch_n * bs->width);
			if (bs->batch_raw != nullptr)
				IndexWidenVector(&bs->ctx, stored, bs->batch_raw + bs->batch_n * bs->width);
			if (quantized && !PqEncodesInBatch(bs)) {
				std::uint16_t error = IvfEncode(&bs->ctx, stored, nullptr,
				                                reinterpret_cast<std::uint8_t *>(entry + sizeof(std::uint16_t)));
				memcpy(entry, &error, sizeof error);
			}
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(bs->tmp_ctx);
		if (!indexed)
			return;
		bs->batch_tids[bs->batch_n] = *tid;
		if (++bs->batch_n == kAssignBatch)
			FlushBatch(bs);
	});
}

void
AssignRows(BuildState *bs, Relation heap, Relation index, IndexInfo *index_info)
{
	bs->batch_f = static_cast<float *>(MemoryContextAllocHuge(bs->build_ctx, sizeof(float) * bs->width * kAssignBatch));
	if (bs->ctx.quantizer == kIvfQuantizerPq && bs->normalize)
		bs->batch_raw =
		    static_cast<float *>(MemoryContextAllocHuge(bs->build_ctx, sizeof(float) * bs->width * kAssignBatch));
	bs->batch_values = static_cast<char *>(MemoryContextAllocHuge(bs->build_ctx, PayloadBytes(bs) * kAssignBatch));
	bs->batch_tids = static_cast<ItemPointerData *>(palloc(sizeof(ItemPointerData) * kAssignBatch));
	bs->batch_lists = static_cast<std::int32_t *>(palloc(sizeof(std::int32_t) * kAssignBatch));

	bs->sort_desc = CreateTemplateTupleDesc(3);
	TupleDescInitEntry(bs->sort_desc, 1, "list", INT4OID, -1, 0);
	TupleDescInitEntry(bs->sort_desc, 2, "tid", TIDOID, -1, 0);
	TupleDescInitEntry(bs->sort_desc, 3, "vector", BYTEAOID, -1, 0);
	bs->slot = MakeSingleTupleTableSlot(bs->sort_desc, &TTSOpsVirtual);
	bs->sorted_slot = MakeSingleTupleTableSlot(bs->sort_desc, &TTSOpsMinimalTuple);
	AttrNumber key = 1;
	Oid op = Int4LessOperator;
	Oid collation = InvalidOid;
	bool nulls_first = false;
	bs->sort = tuplesort_begin_heap(bs->sort_desc, 1, &key, &op, &collation, &nulls_first, maintenance_work_mem,
	                                nullptr, TUPLESORT_NONE);

	bs->reltuples = table_index_build_scan(heap, index, index_info, true, true, AssignCallback, bs, nullptr);
	FlushBatch(bs);
	tuplesort_performsort(bs->sort);
}

// Writes the sorted rows as each list's chain of pages, then points the list tuples at them.
void
WriteLists(BuildState *bs, Relation index)
{
	auto *start = static_cast<BlockNumber *>(palloc(sizeof(BlockNumber) * bs->lists));
	auto *last = static_cast<BlockNumber *>(palloc(sizeof(BlockNumber) * bs->lists));
	for (int i = 0; i < bs->lists; i++)
		start[i] = last[i] = InvalidBlockNumber;

	// Pages are filled in local memory and written out whole, so no buffer lock is held while
	// rows come out of the sort (and a cancel can act between rows). Nobody else extends the
	// index during its build, so a list's next page is the block after the one just written.
	std::size_t entry_size = EntryTupleSize(bs->ctx.entry_bytes);
	auto *entry = static_cast<IvfEntryTuple *>(palloc0(entry_size));
	Page image = static_cast<Page>(palloc(BLCKSZ));
	int image_list = -1; // the list of the page in `image`; -1 while it is empty
	auto write_image = [&](bool list_continues) {
		Buffer buf = NewIndexBuffer(index, MAIN_FORKNUM);
		BlockNumber blkno = BufferGetBlockNumber(buf);
		if (last[image_list] != InvalidBlockNumber && last[image_list] + 1 != blkno)
			elog(ERROR, "ivfflat: index \"%s\" grew during its build", RelationGetRelationName(index));
		if (list_continues)
			PageOpaque(image)->next_blkno = blkno + 1;
		memcpy(BufferGetPage(buf), image, BLCKSZ);
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
		if (start[image_list] == InvalidBlockNumber)
			start[image_list] = blkno;
		last[image_list] = blkno;
	};
	double written = 0;
	while (tuplesort_gettupleslot(bs->sort, true, false, bs->sorted_slot, nullptr)) {
		CHECK_FOR_INTERRUPTS();
		bool isnull;
		int list = DatumGetInt32(slot_getattr(bs->sorted_slot, 1, &isnull));
		entry->heap_tid = *reinterpret_cast<ItemPointer>(DatumGetPointer(slot_getattr(bs->sorted_slot, 2, &isnull)));
		bytea *value = DatumGetByteaPP(slot_getattr(bs->sorted_slot, 3, &isnull));
		if (bs->ctx.quantizer != kIvfQuantizerNone) {
			memcpy(&entry->error, VARDATA_ANY(value), sizeof entry->error);
			memcpy(EntryValues(entry), VARDATA_ANY(value) + sizeof entry->error, bs->ctx.entry_bytes);
		} else {
			memcpy(EntryValues(entry), VARDATA_ANY(value), bs->ctx.entry_bytes);
		}

		if (image_list >= 0 && (list != image_list || !IvfEntryFits(&bs->ctx, image))) {
			write_image(list == image_list);
			image_list = -1;
		}
		if (image_list < 0) {
			InitIndexPage(image, kIvfPageId);
			image_list = list;
		}
		IvfAddEntry(&bs->ctx, image, InvalidBlockNumber, entry);
		if (++written == 1 || static_cast<long>(written) % 1000 == 0)
			pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, static_cast<int64>(written));
	}
	if (image_list >= 0)
		write_image(false);
	tuplesort_end(bs->sort);
	bs->sort = nullptr;

	for (int list = 0; list < bs->lists;) {
		BlockNumber blkno = ListBlock(&bs->ctx, list);
		Buffer buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		Page page = BufferGetPage(buf);
		for (; list < bs->lists && ListBlock(&bs->ctx, list) == blkno; list++) {
			IvfListTuple *t = IvfListAt(index, page, blkno, ListOffset(&bs->ctx, list), bs->ctx.vector_bytes);
			t->start_blkno = start[list];
			t->insert_blkno = last[list];
		}
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
	}
}

IndexBuildResult *
BuildIndex(Relation heap, Relation index, IndexInfo *index_info)
{
	BuildState bs;
	memset(&bs, 0, sizeof bs);
	IvfInitContext(&bs.ctx, index);
	CheckIndexDimensions(&bs.ctx);
	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));
	bs.lists_option = IvfGetLists(index);
	IvfCheckQuantizer(&bs.ctx, IvfGetQuantizer(index), IvfGetPqSubvectors(index));
	bs.threads = BuildThreads(0);
	bs.width = static_cast<std::size_t>(bs.ctx.dims);
	bs.normalize = bs.ctx.metric == core::Metric::InnerProduct;
	bs.build_ctx = AllocSetContextCreate(CurrentMemoryContext, "ivfflat build", ALLOCSET_DEFAULT_SIZES);
	bs.tmp_ctx = AllocSetContextCreate(bs.build_ctx, "ivfflat build tuple", ALLOCSET_DEFAULT_SIZES);
	bs.objs = static_cast<CoreObjects *>(MemoryContextAllocZero(bs.build_ctx, sizeof(CoreObjects)));
	auto *cb = static_cast<MemoryContextCallback *>(MemoryContextAlloc(bs.build_ctx, sizeof(MemoryContextCallback)));
	cb->func = FreeCoreObjects;
	cb->arg = bs.objs;
	MemoryContextRegisterResetCallback(bs.build_ctx, cb);
	MemoryContext old = MemoryContextSwitchTo(bs.build_ctx);

	// Worded as PostgreSQL's parallel builds are, so that tools and tests watching for it see
	// the parallelism; the detail says what the workers are.
	if (bs.threads > 1)
		ereport(DEBUG1, (errmsg("using %d parallel workers", bs.threads),
		                 errdetail("ivfflat runs k-means and assigns rows with %d threads inside this backend.",
		                           bs.threads)));
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, 2);
	instr_time t0, t1, t2, t3, t4;
	INSTR_TIME_SET_CURRENT(t0);
	SampleRows(&bs, heap, index, index_info);
	INSTR_TIME_SET_CURRENT(t1);
	if (bs.sampled < static_cast<std::size_t>(bs.lists_option))
		ereport(NOTICE, (errmsg("ivfflat index created with little data"), errdetail("This will cause low recall."),
		                 errhint("Drop the index until the table has more data.")));
	ComputeCenters(&bs);
	if (bs.ctx.quantizer == kIvfQuantizerPq)
		TrainPq(&bs);
	pfree(bs.samples);
	bs.samples = nullptr;
	if (bs.raw_samples != nullptr)
		pfree(bs.raw_samples);
	bs.raw_samples = nullptr;
	IvfWriteEmptyIndex(index, MAIN_FORKNUM, &bs.ctx, bs.lists, bs.centers);
	INSTR_TIME_SET_CURRENT(t2);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, 3);
	AssignRows(&bs, heap, index, index_info);
	INSTR_TIME_SET_CURRENT(t3);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, 4);
	WriteLists(&bs, index);
	INSTR_TIME_SET_CURRENT(t4);
	INSTR_TIME_SUBTRACT(t4, t3);
	INSTR_TIME_SUBTRACT(t3, t2);
	INSTR_TIME_SUBTRACT(t2, t1);
	INSTR_TIME_SUBTRACT(t1, t0);
	ereport(DEBUG1, (errmsg("ivfflat build of \"%s\": %zu rows sampled in %.3f s, %d lists by k-means in %.3f s, rows assigned in %.3f s, lists written in %.3f s",
	                        RelationGetRelationName(index), bs.sampled, INSTR_TIME_GET_DOUBLE(t1), bs.lists,
	                        INSTR_TIME_GET_DOUBLE(t2), INSTR_TIME_GET_DOUBLE(t3), INSTR_TIME_GET_DOUBLE(t4))));

	if (RelationNeedsWAL(index))
		log_newpage_range(index, MAIN_FORKNUM, 0, RelationGetNumberOfBlocks(index), true);

	auto *result = static_cast<IndexBuildResult *>(palloc(sizeof(IndexBuildResult)));
	result->heap_tuples = bs.reltuples;
	result->index_tuples = bs.indtuples;
	MemoryContextSwitchTo(old);
	// result was allocated in the build context: copy it out before deleting that.
	auto *out = static_cast<IndexBuildResult *>(palloc(sizeof(IndexBuildResult)));
	*out = *result;
	ExecDropSingleTupleTableSlot(bs.slot);
	ExecDropSingleTupleTableSlot(bs.sorted_slot);
	MemoryContextDelete(bs.build_ctx);
	return out;
}

} // namespace

} // namespace quiver::pg::ivf

using namespace quiver::pg::ivf;

extern "C" IndexBuildResult *
ivfflatbuild(Relation heap, Relation index, IndexInfo *index_info)
{
	return quiver::pg::Guarded([&] { return BuildIndex(heap, index, index_info); });
}

extern "C" void
ivfflatbuildempty(Relation index)
{
	quiver::pg::Guarded([&] {
		IvfContext ctx;
		IvfInitContext(&ctx, index);
		IvfCheckQuantizer(&ctx, IvfGetQuantizer(index), IvfGetPqSubvectors(index));
		// No rows to learn from: every code 0 until a REINDEX (re-ranking still orders what
		// the probed lists hold).
		if (ctx.quantizer_floats > 0)
			ctx.quantizer_data = static_cast<float *>(palloc0(sizeof(float) * ctx.quantizer_floats));
		char *center = static_cast<char *>(palloc0(ctx.vector_bytes));
		IvfWriteEmptyIndex(index, INIT_FORKNUM, &ctx, 1, center);
		// An unlogged index's init fork must reach the WAL even though its main fork never
		// does: crash recovery and standbys recreate the empty index from it.
		log_newpage_range(index, INIT_FORKNUM, 0, RelationGetNumberOfBlocksInFork(index, INIT_FORKNUM), true);
	});
}
