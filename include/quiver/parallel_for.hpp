// Runs a function over the items 0..n-1 from several worker threads, under the control of a
// thread that must stay responsive (in the extension: the backend's main thread, the only one
// allowed to touch PostgreSQL). The owner starts the workers and then waits in short slices, so
// it can report progress and notice a cancel between slices:
//
//     ParallelFor job(n, threads, [&](std::size_t i) { ... });
//     job.Start();                      // with signals blocked, so workers never receive them
//     while (!job.WaitFor(100)) {
//         if (cancel requested) { job.RequestStop(); job.Join(); ...raise... }
//         report job.Done() of n
//     }
//     job.Join();                       // rethrows the first worker error, if any
//
// Workers run core code only. An exception in a worker is captured, the first one wins, and
// every worker stops at its next item; Join rethrows it after all threads are gone, so nothing
// can unwind past a live thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace quiver::core {

class ParallelFor {
  public:
	using ItemFn = std::function<void(std::size_t)>;

	// Nothing runs until Start. Throws Error(DataException) for threads < 1.
	ParallelFor(std::size_t n, int threads, ItemFn fn);
	// Requests a stop and joins; never throws (a captured error is dropped).
	~ParallelFor();
	ParallelFor(const ParallelFor &) = delete;
	ParallelFor &operator=(const ParallelFor &) = delete;

	// Starts min(threads, n) workers (none for n = 0). The new threads inherit the caller's
	// signal mask: block signals around this call inside a server process. Throws Error(Internal)
	// when called twice, and std::system_error when a thread cannot be created (the threads
	// already started are stopped and joined first).
	void Start();

	// Waits up to `milliseconds` (0: just looks) for every worker to finish, because the work
	// is done, RequestStop was called, or a worker failed. True when none is running, which is
	// also the case before Start. Sleeps on a condition variable, no busy waiting.
	bool WaitFor(int milliseconds);

	// Items finished so far (for progress; relaxed, may lag by a few items).
	std::size_t
	Done() const noexcept
	{
		return done_.load(std::memory_order_relaxed);
	}
	std::size_t
	Total() const noexcept
	{
		return n_;
	}
	std::size_t
	WorkerCount() const noexcept
	{
		return workers_.size();
	}

	// Asks every worker to stop after its current item; returns at once. Safe from any thread.
	void
	RequestStop() noexcept
	{
		stop_.store(true, std::memory_order_relaxed);
	}

	// Joins every worker, then rethrows the first exception a worker caught, if any (each call
	// rethrows it again). Without an error and without RequestStop, Done() == Total() afterwards.
	// Call from the owning thread only.
	void Join();

  private:
	void Work() noexcept;
	void JoinThreads() noexcept;

	std::size_t n_;
	int threads_;
	ItemFn fn_;
	std::size_t chunk_ = 1;
	bool started_ = false;
	std::atomic<std::size_t> next_{0};
	std::atomic<std::size_t> done_{0};
	std::atomic<bool> stop_{false};
	std::mutex mutex_;
	std::condition_variable finished_;
	std::size_t running_ = 0;
	std::exception_ptr error_;
	std::vector<std::thread> workers_;
};

// One long core computation run on a worker thread, with ParallelFor's owner interface (Start,
// WaitFor, RequestStop, Join, Done, Total) so that a thread that must stay responsive can wait
// on it in short slices and cancel it. The computation gets a stop flag to poll and a progress
// counter to advance (Done), out of Total steps.
template <class R>
class BackgroundTask {
  public:
	using Fn = std::function<R(const std::atomic<bool> *stop, std::atomic<std::size_t> *progress)>;

	BackgroundTask(std::size_t total, Fn fn)
	    : total_(total), fn_(std::move(fn)), job_(1, 1, [this](std::size_t) { result_ = fn_(&stop_, &done_); })
	{
	}
	BackgroundTask(const BackgroundTask &) = delete;
	BackgroundTask &operator=(const BackgroundTask &) = delete;

	void
	Start()
	{
		job_.Start();
	}
	bool
	WaitFor(int milliseconds)
	{
		return job_.WaitFor(milliseconds);
	}
	void
	RequestStop() noexcept
	{
		stop_.store(true, std::memory_order_relaxed);
		job_.RequestStop();
	}
	void
	Join()
	{
		job_.Join();
	}
	std::size_t
	Done() const noexcept
	{
		return done_.load(std::memory_order_relaxed);
	}
	std::size_t
	Total() const noexcept
	{
		return total_;
	}
	// Valid after Join returned without a stop.
	const R &
	Result() const noexcept
	{
		return result_;
	}

  private:
	std::size_t total_;
	Fn fn_;
	std::atomic<bool> stop_{false};
	std::atomic<std::size_t> done_{0};
	R result_{};
	ParallelFor job_;
};

} // namespace quiver::core

#include "quiver/core_only.hpp"
