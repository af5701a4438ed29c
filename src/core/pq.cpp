#include "quiver/pq.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "quiver/error.hpp"
#include "quiver/kernels.hpp"
#include "quiver/kmeans.hpp"

namespace quiver::core {

PqCodebook::PqCodebook(std::size_t dim, std::size_t m) : dim_(dim), m_(m), data_(kPqCentroids * dim, 0.0f)
{
	if (m == 0 || m > dim)
		throw Error(ErrorCode::DataException,
		            "product quantization needs 1 to " + std::to_string(dim) + " sub-vectors, got " + std::to_string(m));
}

std::size_t
PqCodebook::Offset(std::size_t j) const noexcept
{
	return View().Offset(j);
}

const float *
PqCodebook::Centroid(std::size_t j, std::size_t c) const noexcept
{
	return View().Centroid(j, c);
}

float *
PqCodebook::Centroid(std::size_t j, std::size_t c) noexcept
{
	return const_cast<float *>(static_cast<const PqCodebook *>(this)->Centroid(j, c));
}

PqCodebook
PqTrain(const float *rows, std::size_t n, const PqParams &p, const std::atomic<bool> *stop,
        std::atomic<std::size_t> *progress)
{
	if (n == 0)
		throw Error(ErrorCode::DataException, "product quantization needs at least one row");
	PqCodebook book(p.dim, p.m);
	// Evenly spaced rows when there are more than max_train_rows (deterministic).
	std::size_t used = std::min(n, std::max<std::size_t>(p.max_train_rows, 1));
	std::vector<float> sub;
	for (std::size_t j = 0; j < p.m; j++) {
		if (stop != nullptr && stop->load(std::memory_order_relaxed))
			break;
		std::size_t begin = book.Offset(j), size = book.Offset(j + 1) - begin;
		sub.resize(used * size);
		for (std::size_t r = 0; r < used; r++) {
			const float *row = rows + (r * n / used) * p.dim + begin;
			std::copy(row, row + size, sub.begin() + static_cast<std::ptrdiff_t>(r * size));
		}
		KmeansParams kp;
		kp.k = std::min(kPqCentroids, used);
		kp.dim = size;
		kp.max_iterations = p.iterations;
		kp.threads = p.threads;
		kp.seed = p.seed + j;
		kp.bound_memory = 0; // Hamerly: in a few dimensions one bound prunes well, and k bounds per row cost more than they save
		KmeansResult result = Kmeans(sub.data(), used, kp, stop);
		for (std::size_t c = 0; c < kPqCentroids; c++) {
			// Fewer rows than centroids: the extra centroids repeat the trained ones.
			const float *from = result.centers.data() + (c % kp.k) * size;
			std::copy(from, from + size, book.Centroid(j, c));
		}
		if (progress != nullptr)
			progress->store(j + 1, std::memory_order_relaxed);
	}
	return book;
}


void
PqEncode(const PqView &book, const float *x, std::uint8_t *codes) noexcept
{
	// Sub-vectors are a few floats: an inline loop, not a kernel call per centroid (which cost
	// ten times more in call overhead than in arithmetic).
	for (std::size_t j = 0; j < book.m; j++) {
		std::size_t begin = book.Offset(j), size = book.Offset(j + 1) - begin;
		const float *sub = x + begin;
		const float *cent = book.Centroid(j, 0);
		float best = std::numeric_limits<float>::infinity();
		std::size_t best_c = 0;
		for (std::size_t c = 0; c < kPqCentroids; c++, cent += size) {
			float d = 0;
			for (std::size_t t = 0; t < size; t++) {
				float diff = sub[t] - cent[t];
				d += diff * diff;
			}
			if (d < best) {
				best = d;
				best_c = c;
			}
		}
		codes[j] = static_cast<std::uint8_t>(best_c);
	}
}

float
PqError(const PqView &book, const float *x, const std::uint8_t *codes) noexcept
{
	double sum = 0;
	for (std::size_t j = 0; j < book.m; j++) {
		std::size_t begin = book.Offset(j), size = book.Offset(j + 1) - begin;
		const float *c = book.Centroid(j, codes[j]);
		for (std::size_t t = 0; t < size; t++) {
			double diff = static_cast<double>(x[begin + t]) - c[t];
			sum += diff * diff;
		}
	}
	return std::nextafter(static_cast<float>(std::sqrt(sum)), std::numeric_limits<float>::infinity());
}

void
PqDecode(const PqView &book, const std::uint8_t *codes, float *out) noexcept
{
	for (std::size_t j = 0; j < book.m; j++) {
		std::size_t begin = book.Offset(j), size = book.Offset(j + 1) - begin;
		const float *c = book.Centroid(j, codes[j]);
		std::copy(c, c + size, out + begin);
	}
}

void
PqTable(const PqView &book, const float *q, bool l2, float *table) noexcept
{
	const F32Kernels &k = ActiveKernels();
	for (std::size_t j = 0; j < book.m; j++) {
		std::size_t begin = book.Offset(j), size = book.Offset(j + 1) - begin;
		for (std::size_t c = 0; c < kPqCentroids; c++)
			table[j * kPqCentroids + c] =
			    l2 ? k.l2_squared(q + begin, book.Centroid(j, c), size) : k.dot(q + begin, book.Centroid(j, c), size);
	}
}

float
PqTableDistance(const float *table, const std::uint8_t *codes, std::size_t m) noexcept
{
	// Four independent sums: the lookups do not wait on one another's additions.
	float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	std::size_t j = 0;
	for (; j + 4 <= m; j += 4) {
		s0 += table[j * kPqCentroids + codes[j]];
		s1 += table[(j + 1) * kPqCentroids + codes[j + 1]];
		s2 += table[(j + 2) * kPqCentroids + codes[j + 2]];
		s3 += table[(j + 3) * kPqCentroids + codes[j + 3]];
	}
	for (; j < m; j++)
		s0 += table[j * kPqCentroids + codes[j]];
	return (s0 + s1) + (s2 + s3);
}

} // namespace quiver::core
