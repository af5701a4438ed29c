#include "quiver/parallel_for.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include "quiver/error.hpp"

namespace quiver::core {

namespace {

// Items a worker claims at once: large enough that the shared counter is not contended, small
// enough that a handful of items cannot leave one thread working alone at the end.
constexpr std::size_t kMaxChunk = 64;
constexpr std::size_t kChunksPerWorker = 32;

} // namespace

ParallelFor::ParallelFor(std::size_t n, int threads, ItemFn fn) : n_(n), threads_(threads), fn_(std::move(fn))
{
	if (threads < 1)
		throw Error(ErrorCode::DataException, "need at least one thread, got " + std::to_string(threads));
}

ParallelFor::~ParallelFor()
{
	RequestStop();
	JoinThreads();
}

void
ParallelFor::Start()
{
	if (started_)
		throw Error(ErrorCode::Internal, "parallel job started twice");
	started_ = true;

	const std::size_t workers = std::min(static_cast<std::size_t>(threads_), n_);
	if (workers == 0)
		return;
	chunk_ = std::clamp(n_ / (workers * kChunksPerWorker), std::size_t{1}, kMaxChunk);
	workers_.reserve(workers);
	try {
		for (std::size_t i = 0; i < workers; i++) {
			// Counted before the thread exists, so WaitFor never sees zero while one is starting.
			{
				std::lock_guard<std::mutex> lock(mutex_);
				running_++;
			}
			try {
				workers_.emplace_back(&ParallelFor::Work, this);
			} catch (...) {
				std::lock_guard<std::mutex> lock(mutex_);
				running_--;
				throw;
			}
		}
	} catch (...) {
		RequestStop();
		JoinThreads();
		throw;
	}
}

void
ParallelFor::Work() noexcept
{
	try {
		while (!stop_.load(std::memory_order_relaxed)) {
			const std::size_t begin = next_.fetch_add(chunk_, std::memory_order_relaxed);
			if (begin >= n_)
				break;
			const std::size_t end = std::min(begin + chunk_, n_);
			for (std::size_t i = begin; i < end; i++) {
				if (stop_.load(std::memory_order_relaxed))
					break;
				fn_(i);
				done_.fetch_add(1, std::memory_order_relaxed);
			}
		}
	} catch (...) {
		std::lock_guard<std::mutex> lock(mutex_);
		if (!error_)
			error_ = std::current_exception();
		stop_.store(true, std::memory_order_relaxed);
	}
	std::lock_guard<std::mutex> lock(mutex_);
	if (--running_ == 0)
		finished_.notify_all();
}

bool
ParallelFor::WaitFor(int milliseconds)
{
	std::unique_lock<std::mutex> lock(mutex_);
	if (milliseconds <= 0)
		return running_ == 0;
	return finished_.wait_for(lock, std::chrono::milliseconds(milliseconds), [this] { return running_ == 0; });
}

void
ParallelFor::JoinThreads() noexcept
{
	for (std::thread &t : workers_) {
		if (!t.joinable())
			continue;
		try {
			t.join();
		} catch (...) {
			// Only possible when joining from a worker itself, a misuse; nothing sensible to do.
		}
	}
}

void
ParallelFor::Join()
{
	JoinThreads();
	std::exception_ptr error;
	{
		std::lock_guard<std::mutex> lock(mutex_);
		error = error_;
	}
	if (error)
		std::rethrow_exception(error);
}

} // namespace quiver::core

#include "quiver/core_only.hpp"
