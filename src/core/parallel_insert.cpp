#include "quiver/parallel_insert.hpp"

#include <cstdint>
#include <string>

#include "quiver/error.hpp"

namespace quiver::core {

namespace {

void
CheckInserterArgs(const HnswBuilder &builder, const float *data, std::size_t dim, std::size_t n)
{
	if (dim != static_cast<std::size_t>(builder.Params().dim))
		throw Error(ErrorCode::DataException, "hnsw: vectors of " + std::to_string(dim) +
		                                          " dimensions for a graph of " + std::to_string(builder.Params().dim));
	if (n > std::size_t{UINT32_MAX} + 1)
		throw Error(ErrorCode::LimitExceeded, "hnsw: " + std::to_string(n) + " vectors exceed 2^32 labels");
	if (n > 0 && data == nullptr)
		throw Error(ErrorCode::Internal, "hnsw: no input vectors");
}

} // namespace

ParallelInserter::ParallelInserter(HnswBuilder &builder, const float *data, std::size_t dim, std::size_t n, int threads)
    : n_((CheckInserterArgs(builder, data, dim, n), n)),
      job_(n, threads, [&builder, data, dim](std::size_t i) { builder.Add(data + i * dim, static_cast<std::uint32_t>(i)); })
{
}

ParallelInserter::~ParallelInserter() = default;

void
ParallelInserter::Start()
{
	job_.Start();
}

bool
ParallelInserter::WaitFor(int milliseconds)
{
	return job_.WaitFor(milliseconds);
}

void
ParallelInserter::Join()
{
	job_.Join();
}

} // namespace quiver::core

#include "quiver/core_only.hpp"
