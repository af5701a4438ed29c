#include "quiver/parallel_insert.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>

#include "quiver/error.hpp"

namespace quiver::core {

namespace {

// Items a worker claims at once: large enough that the shared counter is not contended, small
// enough that a handful of items cannot leave one thread working alone at the end.
constexpr std::size_t kMaxChunk = 64;
constexpr std::size_t kChunksPerWorker = 32;

} // namespace

ParallelInserter::ParallelInserter(HnswBuilder &builder, const float *data, std::size_t dim, std::size_t n, int threads)
    : builder_(builder), data_(data), dim_(dim), n_(n), threads_(threads)
{
	if (threads < 1)
		throw Error(ErrorCode::DataException, "hnsw: need at least one thread, got " + std::to_string(threads));
	if (dim != static_cast<std::size_t>(builder.Params().dim))
		throw Error(ErrorCode::DataException, "hnsw: vectors of " + std::to_string(dim) +
		                                          " dimensions for a graph of " + std::to_string(builder.Params().dim));
	if (n > std::size_t{UINT32_MAX} + 1)
		throw Error(ErrorCode::LimitExceeded, "hnsw: " + std::to_string(n) + " vectors exceed 2^32 labels");
	if (n > 0 && data == nullptr)
		throw Error(ErrorCode::Internal, "hnsw: no input vectors");
}

ParallelInserter::~ParallelInserter()
{
	RequestStop();
	JoinThreads();
}

void
ParallelInserter::Start()
{
	if (started_)
		throw Error(ErrorCode::Internal, "hnsw: parallel insert started twice");
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
				workers_.emplace_back(&ParallelInserter::Work, this);
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
ParallelInserter::Work() noexcept
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
				builder_.Add(data_ + i * dim_, static_cast<std::uint32_t>(i));
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
ParallelInserter::WaitFor(int milliseconds)
{
	std::unique_lock<std::mutex> lock(mutex_);
	if (milliseconds <= 0)
		return running_ == 0;
	return finished_.wait_for(lock, std::chrono::milliseconds(milliseconds), [this] { return running_ == 0; });
}

void
ParallelInserter::JoinThreads() noexcept
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
ParallelInserter::Join()
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
