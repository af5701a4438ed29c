// Feeds n vectors to an HnswBuilder from several worker threads, under the control of a
// thread that must stay responsive.
//
// The owning thread (in the extension: the backend's main thread, the only one allowed to touch
// PostgreSQL) starts the workers and then waits in short slices, so it can report progress and
// notice a cancel between slices:
//
//     ParallelInserter ins(builder, data, dim, n, threads);
//     ins.Start();                      // with signals blocked, so workers never receive them
//     while (!ins.WaitFor(100)) {
//         if (cancel requested) { ins.RequestStop(); ins.Join(); ...raise... }
//         report ins.Done() of n
//     }
//     ins.Join();                       // rethrows the first worker error, if any
//
// Workers run core code only. An exception in a worker (an Error from the builder, bad_alloc)
// is captured, the first one wins, and every worker stops at its next item; Join rethrows it
// after all threads are gone, so nothing can unwind past a live thread.
#pragma once

#include <cstddef>

#include "quiver/hnsw_builder.hpp"
#include "quiver/parallel_for.hpp"

namespace quiver::core {

class ParallelInserter {
  public:
	// Vector i is data + i * dim and is added under label i. Nothing runs until Start. The
	// builder and data must outlive the inserter. Throws Error: DataException for threads < 1
	// or a dim other than the builder's, LimitExceeded for n above 2^32 (labels are 32-bit).
	// An n above the builder's capacity is not refused here: the builder's error then comes
	// out of Join, after the elements that fit.
	ParallelInserter(HnswBuilder &builder, const float *data, std::size_t dim, std::size_t n, int threads);
	// Requests a stop and joins; never throws (a captured error is dropped).
	~ParallelInserter();
	ParallelInserter(const ParallelInserter &) = delete;
	ParallelInserter &operator=(const ParallelInserter &) = delete;

	// Starts min(threads, n) workers (none for n = 0). The new threads inherit the caller's
	// signal mask: block signals around this call inside a server process. Throws Error(Internal)
	// when called twice, and std::system_error when a thread cannot be created (the threads
	// already started are stopped and joined first).
	void Start();

	// Waits up to `milliseconds` (0: just looks) for every worker to finish, because the work
	// is done, RequestStop was called, or a worker failed. True when none is running, which is
	// also the case before Start. Sleeps on a condition variable, no busy waiting.
	bool WaitFor(int milliseconds);

	// Vectors inserted so far (for progress; relaxed, may lag by a few items).
	std::size_t
	Done() const noexcept
	{
		return job_.Done();
	}
	std::size_t
	Total() const noexcept
	{
		return n_;
	}
	std::size_t
	WorkerCount() const noexcept
	{
		return job_.WorkerCount();
	}

	// Asks every worker to stop after its current item; returns at once. Safe from any thread.
	void
	RequestStop() noexcept
	{
		job_.RequestStop();
	}

	// Joins every worker, then rethrows the first exception a worker caught, if any (each call
	// rethrows it again). Without an error and without RequestStop, Done() == Total() afterwards.
	// Call from the owning thread only.
	void Join();

  private:
	std::size_t n_;
	ParallelFor job_;
};

} // namespace quiver::core

#include "quiver/core_only.hpp"
