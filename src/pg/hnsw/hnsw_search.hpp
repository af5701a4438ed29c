// Search scratch structures of the hnsw AM, in palloc'd memory: a set of visited element
// TIDs and binary heaps of candidates. Kept in a header because the layer search (graph) and
// the resumable scan (iterative scans) both use them.
#pragma once

#include "hnsw.hpp"

namespace quiver::pg::hnsw {

// Open-addressing set of visited element TIDs.
struct VisitedSet {
	std::uint64_t *slots; // 0 = empty; keys are never 0 (offsets start at 1)
	std::uint32_t mask;
	std::uint32_t used;
};

inline std::uint64_t
TidKey(ItemPointer tid)
{
	return (static_cast<std::uint64_t>(ItemPointerGetBlockNumber(tid)) << 16) | ItemPointerGetOffsetNumber(tid);
}

inline void
VisitedInit(VisitedSet *set, std::uint32_t expected)
{
	std::uint32_t size = 64;
	while (size < expected * 2)
		size <<= 1;
	set->slots = static_cast<std::uint64_t *>(palloc0(sizeof(std::uint64_t) * size));
	set->mask = size - 1;
	set->used = 0;
}

// Adds key; false when it was already there.
inline bool VisitedAdd(VisitedSet *set, std::uint64_t key);

inline void
VisitedGrow(VisitedSet *set)
{
	std::uint64_t *old = set->slots;
	std::uint32_t old_size = set->mask + 1;
	set->slots = static_cast<std::uint64_t *>(palloc0(sizeof(std::uint64_t) * old_size * 2));
	set->mask = old_size * 2 - 1;
	set->used = 0;
	for (std::uint32_t i = 0; i < old_size; i++) {
		if (old[i] != 0)
			VisitedAdd(set, old[i]);
	}
	pfree(old);
}

inline bool
VisitedAdd(VisitedSet *set, std::uint64_t key)
{
	if ((set->used + 1) * 2 > set->mask + 1)
		VisitedGrow(set);
	std::uint64_t h = key * 0x9E3779B97F4A7C15ull;
	std::uint32_t i = static_cast<std::uint32_t>(h >> 32) & set->mask;
	while (set->slots[i] != 0) {
		if (set->slots[i] == key)
			return false;
		i = (i + 1) & set->mask;
	}
	set->slots[i] = key;
	set->used++;
	return true;
}

// Binary heaps of candidates in palloc'd arrays: nearest-first (to expand) and
// farthest-first (the current best ef).
template <bool kMaxHeap>
struct CandidateHeap {
	HnswCandidate *items;
	int size;
	int capacity;

	static bool
	Before(const HnswCandidate &a, const HnswCandidate &b)
	{
		return kMaxHeap ? a.distance > b.distance : a.distance < b.distance;
	}

	void
	Init(int initial)
	{
		capacity = initial > 16 ? initial : 16;
		items = static_cast<HnswCandidate *>(palloc(sizeof(HnswCandidate) * static_cast<std::size_t>(capacity)));
		size = 0;
	}

	void
	Push(const HnswCandidate &c)
	{
		if (size == capacity) {
			capacity *= 2;
			items = static_cast<HnswCandidate *>(
			    repalloc(items, sizeof(HnswCandidate) * static_cast<std::size_t>(capacity)));
		}
		int i = size++;
		while (i > 0) {
			int parent = (i - 1) / 2;
			if (!Before(c, items[parent]))
				break;
			items[i] = items[parent];
			i = parent;
		}
		items[i] = c;
	}

	HnswCandidate
	Pop()
	{
		HnswCandidate top = items[0];
		HnswCandidate last = items[--size];
		int i = 0;
		for (;;) {
			int child = 2 * i + 1;
			if (child >= size)
				break;
			if (child + 1 < size && Before(items[child + 1], items[child]))
				child++;
			if (!Before(items[child], last))
				break;
			items[i] = items[child];
			i = child;
		}
		if (size > 0)
			items[i] = last;
		return top;
	}

	const HnswCandidate &
	Top() const
	{
		return items[0];
	}
};

// qsort comparator: ascending distance.
inline int
CompareCandidatesByDistance(const void *a, const void *b)
{
	float da = static_cast<const HnswCandidate *>(a)->distance;
	float db = static_cast<const HnswCandidate *>(b)->distance;
	return da < db ? -1 : (da > db ? 1 : 0);
}

} // namespace quiver::pg::hnsw
