// The `ivfflat` index access method: on-disk layout, locking rules and the functions shared by
// its phases (handler/options/cost in ivf_handler.cpp, pages in ivf_pages.cpp, build, insert,
// scan and vacuum in their own files).
//
// Layout
// ------
// Block 0 is the metapage (IvfMetaData after the page header). With a quantizer, blocks
// 1 .. quantizer_pages hold its parameters as float32, split over one item per page: for sq8
// lower[dims] then step[dims], for pq the codebook (256 centroids per sub-vector, sub-vector
// after sub-vector: 256 * dims floats). The next center_pages blocks, from center_blkno, hold the lists: one
// IvfListTuple per list, in list order, each with the list's centre (in the column's format,
// full precision, so a query is compared with the centres by the same kernels as with the
// rows) and the first and insert blocks of its chain of entry pages. Every later block is an
// entry page of one list, with the next block of the chain in its special space. Without a
// quantizer, its entries are IvfEntryTuple items (a heap TID and the vector). With one, they
// are packed slots without line pointers: slot i starts at SizeOfPageHeaderData + i *
// slot_bytes and holds the heap TID (6 bytes), the error bound (2 bytes) and the codes (sq8
// one byte per dimension, pq one byte per sub-vector of the residual: the row minus its list's
// centre, which varies far less than the rows, so 256 centroids per sub-space fit it more
// closely); pd_lower ends the last slot, so the
// slots are the page's logged contents (Generic WAL and log_newpage_range skip only the hole
// between pd_lower and pd_upper). Codes are small, so the 4-byte line pointer and the 8-byte
// alignment of an item would add a third to each pq entry. A list's pages
// are written back to back by the build, so a probe reads them sequentially; a list with no
// rows has no page (InvalidBlockNumber). Codes are approximations: a scan re-ranks the best
// candidates by their exact distance, read from the table (the index keeps no exact copy).
//
// Locks (who protects what)
// -------------------------
//   - Centres never change after the build; a list tuple's block numbers change under the
//     exclusive content lock of its centre page (through Generic WAL).
//   - Entry pages: their buffer content locks. A scan holds a share lock while it computes
//     the distances of one page's entries and copies them out; an insert adds its entry under
//     the exclusive lock of the list's last page; vacuum removes entries under a cleanup lock.
//   - Lock order: a centre page before an entry page, never the reverse (an insert that
//     starts a list's first page holds the centre page while it adds the page; one that
//     appends a page releases the entry pages before it moves the list's insert block).
//   - A chain only grows at its end, and the insert block is a hint: an insert walks forward
//     from it to the first page with room, so a stale hint (after a crash between the two
//     WAL records of an append, or after vacuum moved it back to a page with free space)
//     costs a few page reads, never a lost entry.
#pragma once

#include <cstddef>
#include <cstdint>

#include "../index/values.hpp"
#include "../index/am.hpp"

extern "C" {
#include "access/amapi.h"
#include "access/generic_xlog.h"
#include "storage/bufmgr.h"
#include "storage/bufpage.h"
#include "storage/itemptr.h"
#include "utils/rel.h"
}

namespace quiver::pg::ivf {

inline constexpr std::uint32_t kIvfMagic = 0x51495646; // "QIVF"
// 2: quantizer pages, center_blkno; 3: packed slots on the entry pages of quantized lists;
// 4: pq codes of the residual from the list's centre. Older layouts that mean the same are
// read too (no quantizer since 2, sq8 since 3).
inline constexpr std::uint32_t kIvfLayoutVersion = 4;
// Page id in the special space (pgvector's ivfflat uses 0xFF84, hnsw 0xFF71 here).
inline constexpr std::uint16_t kIvfPageId = 0xFF72;
inline constexpr BlockNumber kIvfMetaBlock = 0;

// How list entries store their vectors (IvfMetaData::quantizer); never renumber.
enum IvfQuantizer : std::uint8_t { kIvfQuantizerNone = 0, kIvfQuantizerSq8 = 1, kIvfQuantizerPq = 2 };

inline constexpr int kIvfMinLists = 1;
inline constexpr int kIvfMaxLists = 32768;
inline constexpr int kIvfDefaultLists = 100;
inline constexpr int kIvfMaxProbes = 32768;

// Pages carry IndexPageOpaque; on entry pages next_blkno is the next page of the list
// (InvalidBlockNumber at the end).

struct IvfMetaData {
	std::uint32_t magic;
	std::uint32_t version;
	std::uint32_t dims;
	std::uint32_t lists; // lists the index has (at most the `lists` option: fewer rows than that
	                     // at build time give one list per sampled row, and none give one list)
	std::uint32_t center_pages;
	std::uint8_t metric;     // core::Metric
	std::uint8_t value_size; // IndexValues::value_size
	std::uint8_t quantizer;  // IvfQuantizer
	std::uint8_t pad;
	BlockNumber center_blkno; // the first centre page
	std::uint32_t quantizer_pages;
	std::uint32_t pq_m;     // pq: sub-vectors (bytes per entry)
	std::uint32_t pad2;
	std::uint64_t reserved; // zero
};

struct IvfListTuple {
	BlockNumber start_blkno;  // first entry page (InvalidBlockNumber: no page yet)
	BlockNumber insert_blkno; // where inserts start looking for room
	// followed by the centre: vector_bytes in the column's format
};
static_assert(sizeof(IvfListTuple) == 8, "centres must start 8-byte aligned");

struct IvfEntryTuple {
	ItemPointerData heap_tid;
	// Quantized entries: an upper bound of the distance between the stored vector and what
	// its codes stand for (binary16, rounded up), which turns approximate distances into
	// lower bounds of exact ones, so a scan can return rows in exact order (ivf_scan.cpp).
	std::uint16_t error;
	// followed by the vector: vector_bytes in the column's format, or dims SQ8 codes
};
static_assert(sizeof(IvfEntryTuple) == 8, "vectors must start 8-byte aligned");

inline char *
ListCenter(IvfListTuple *t)
{
	return reinterpret_cast<char *>(t + 1);
}

inline char *
EntryValues(IvfEntryTuple *t)
{
	return reinterpret_cast<char *>(t + 1);
}

inline std::size_t
ListTupleSize(std::size_t vector_bytes)
{
	return sizeof(IvfListTuple) + vector_bytes;
}

inline std::size_t
EntryTupleSize(std::size_t vector_bytes)
{
	return sizeof(IvfEntryTuple) + vector_bytes;
}

// List tuples per centre page (each list tuple fits a page: vectors are at most 8,000 bytes).
inline int
ListsPerPage(std::size_t vector_bytes)
{
	std::size_t usable = BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(IndexPageOpaque));
	return static_cast<int>(usable / (MAXALIGN(ListTupleSize(vector_bytes)) + sizeof(ItemIdData)));
}

// Relation options (WITH (lists = ..., quantizer = ...)).
struct IvfOptions {
	int32 vl_len_;
	int lists;
	int quantizer_offset; // string option: 'none', 'sq8' or 'pq'
	int pq_subvectors;    // pq: sub-vectors; 0 = dims / 4 (rounded up)
};

// GUCs
enum IvfIterativeScan { kIvfIterativeOff, kIvfIterativeRelaxed };
extern int ivfflat_probes;
extern int ivfflat_iterative_scan;
extern int ivfflat_max_probes;
extern int ivfflat_rerank; // quiver.ivfflat_rerank: candidates re-ranked exactly at a time (0: by quantizer)

// What an operation needs to know about the index.
struct IvfContext : IndexValues {
	Relation index;
	int per_page; // ListsPerPage(vector_bytes)
	// From the metapage (IvfLoadMeta):
	int lists;
	BlockNumber center_blkno;
	int quantizer;           // IvfQuantizer
	int pq_m;                // pq: sub-vectors
	std::size_t entry_bytes; // what an entry holds after its header: vector_bytes, or its codes
	bool packed;             // entries in packed slots (quantized lists)
	std::size_t slot_bytes;  // packed: bytes of a slot (TID, error bound, codes)
	float *quantizer_data;   // the quantizer's parameters (palloc'd), quantizer_floats of them
	std::size_t quantizer_floats;
	float *sq8_lower;        // sq8: views into quantizer_data, dims each
	float *sq8_step;
};

// Where list `list` lives: its centre page and item offset.
inline BlockNumber
ListBlock(const IvfContext *ctx, int list)
{
	return ctx->center_blkno + static_cast<BlockNumber>(list / ctx->per_page);
}

inline OffsetNumber
ListOffset(const IvfContext *ctx, int list)
{
	return static_cast<OffsetNumber>(FirstOffsetNumber + list % ctx->per_page);
}

// One entry as read from an entry page; `values` points into the page (the vector, aligned,
// or the codes, byte-aligned), valid while the page stays locked.
struct IvfEntryRef {
	ItemPointerData heap_tid;
	std::uint16_t error;
	const char *values;
};

// ---- entry pages (ivf_pages.cpp), in either format ----
// Entries on a locked entry page (ERROR, index corrupted, when the page's contents do not fit
// the format).
int IvfEntryCount(const IvfContext *ctx, Page page, BlockNumber blkno);
// Entry i (0-based) of a page that IvfEntryCount checked.
IvfEntryRef IvfEntryAt(const IvfContext *ctx, Page page, int i);
bool IvfEntryFits(const IvfContext *ctx, Page page);
// Adds the entry (an IvfEntryTuple of EntryTupleSize(entry_bytes)) to a page it fits on.
void IvfAddEntry(const IvfContext *ctx, Page page, BlockNumber blkno, const IvfEntryTuple *entry);
// Removes the entries at `indexes` (ascending); the others keep their order.
void IvfDeleteEntries(const IvfContext *ctx, Page page, const int *indexes, int n);
// Bytes still free for entries on the page.
std::size_t IvfFreeBytes(const IvfContext *ctx, Page page);

// ---- ivf_handler.cpp ----
void IvfInit();
int IvfGetLists(Relation index);
int IvfGetQuantizer(Relation index); // IvfQuantizer of the `quantizer` option
int IvfGetPqSubvectors(Relation index);

// ---- ivf_pages.cpp ----
// Describes the index column (ERROR for types ivfflat does not index).
void IvfInitContext(IvfContext *ctx, Relation index);
// ERROR (index corrupted) unless the page is an initialized ivfflat page.
void IvfCheckPage(Relation index, Page page, BlockNumber blkno);
// Whether this library reads an index of the metapage's layout version and quantizer.
bool IvfLayoutReadable(const IvfMetaData &meta);
// Reads and checks the metapage (ERROR when it is not a Quiver ivfflat metapage of this layout).
void IvfReadMeta(Relation index, IvfMetaData *out);
// Fills the context's fields that follow from the metapage (ERROR for an unknown quantizer or
// a pq sub-vector count out of range).
void IvfSetMetaFields(IvfContext *ctx, const IvfMetaData &meta);
// Floats of the quantizer per quantizer page (one item each).
std::size_t IvfQuantizerFloatsPerPage();
// Fills the context's metapage fields (and the sq8 quantizer, palloc'd); returns the metapage.
IvfMetaData IvfLoadMeta(IvfContext *ctx);
// The list tuple at (blkno, offset) of a locked centre page, checked.
IvfListTuple *IvfListAt(Relation index, Page page, BlockNumber blkno, OffsetNumber offset, std::size_t vector_bytes);
// The nearest list's number to a stored (prepared) vector, reading every centre (the first of
// equally near lists wins, as in the build); its centre as floats into `center` (dims floats)
// unless that is null.
int IvfNearestList(const IvfContext *ctx, const void *values, float *center);
// The centre of a list as floats (dims of them).
void IvfListCenter(const IvfContext *ctx, int list, float *center);
// Writes a fresh index's metapage, quantizer pages (sq8_lower/sq8_step when the context's
// quantizer is sq8) and centre pages with empty lists into `fork` (the build, and the init
// fork of unlogged tables); sets the context's metapage fields.
void IvfWriteEmptyIndex(Relation index, ForkNumber fork, IvfContext *ctx, int lists, const void *centers);

// Sets the quantizer a new index will use, after checking that it suits the column (vector
// or halfvec, a plain column, since re-ranking reads the column from the table); sizes its
// parameters (quantizer_floats), not yet allocated.
void IvfCheckQuantizer(IvfContext *ctx, int quantizer, int pq_subvectors);

// Encodes a stored (prepared) vector into its codes (entry_bytes); returns the error bound to
// store with them (IvfEntryTuple::error). pq encodes the residual from `center`, the centre of
// the row's list as floats (unused by sq8).
std::uint16_t IvfEncode(const IvfContext *ctx, const void *values, const float *center, std::uint8_t *codes);

} // namespace quiver::pg::ivf
