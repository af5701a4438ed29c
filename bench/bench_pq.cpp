// Product quantization benchmark: how well PQ codes rank a TEXMEX dataset's rows (no server).
//
//   bench_pq BASE.fvecs QUERY.fvecs ROWS M THREADS [--cosine] [--sq8]
//
// Trains codebooks of M sub-vectors on the first ROWS rows (or, with --sq8, the SQ8 ranges),
// encodes them, and for 200 queries prints the share of the exact top 10 found among the
// approximate top R for several R: what re-ranking R candidates would recover, before any IVF
// list is involved. Also training and encoding seconds and bytes per row.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "quiver/kernels.hpp"
#include "texmex.hpp"
#include "quiver/pq.hpp"
#include "quiver/sq8.hpp"

namespace {


void
Normalize(std::vector<float> &v, std::size_t dim)
{
	for (std::size_t i = 0; i < v.size() / dim; i++) {
		double n = 0;
		for (std::size_t d = 0; d < dim; d++)
			n += static_cast<double>(v[i * dim + d]) * v[i * dim + d];
		n = std::sqrt(n);
		for (std::size_t d = 0; d < dim && n > 0; d++)
			v[i * dim + d] = static_cast<float>(v[i * dim + d] / n);
	}
}

double
Seconds(std::chrono::steady_clock::time_point since)
{
	return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

} // namespace

int
main(int argc, char **argv)
{
	using namespace quiver::core;
	if (argc < 6) {
		std::fprintf(stderr, "usage: bench_pq BASE.fvecs QUERY.fvecs ROWS M THREADS [--cosine] [--sq8]\n");
		return 2;
	}
	bool ignored = false;
	InitKernels(&ignored);
	bool cosine = false, sq8 = false;
	for (int i = 6; i < argc; i++) {
		cosine |= std::strcmp(argv[i], "--cosine") == 0;
		sq8 |= std::strcmp(argv[i], "--sq8") == 0;
	}
	std::size_t dim = 0, qdim = 0;
	std::vector<float> rows = quiver::bench::ReadFvecs(argv[1], std::stoul(argv[3]), &dim);
	std::vector<float> queries = quiver::bench::ReadFvecs(argv[2], 200, &qdim);
	std::size_t n = rows.size() / dim, nq = queries.size() / dim;
	if (cosine) {
		Normalize(rows, dim);
		Normalize(queries, dim);
	}
	PqParams p;
	p.dim = dim;
	p.m = std::stoul(argv[4]);
	p.threads = std::stoi(argv[5]);

	auto t0 = std::chrono::steady_clock::now();
	PqCodebook book;
	std::vector<float> lower(dim), step(dim);
	std::size_t code_bytes = sq8 ? dim : p.m;
	if (sq8)
		Sq8Train(rows.data(), n, dim, lower.data(), step.data());
	else
		book = PqTrain(rows.data(), std::min<std::size_t>(n, 50000), p);
	double train_s = Seconds(t0);
	t0 = std::chrono::steady_clock::now();
	std::vector<std::uint8_t> codes(n * code_bytes);
	for (std::size_t r = 0; r < n; r++) {
		if (sq8)
			Sq8Encode(lower.data(), step.data(), &rows[r * dim], dim, &codes[r * code_bytes]);
		else
			PqEncode(book.View(), &rows[r * dim], &codes[r * code_bytes]);
	}
	double encode_s = Seconds(t0);
	std::printf("rows=%zu dim=%zu %s m=%zu bytes_per_row=%zu train_s=%.2f encode_s=%.2f metric=%s\n", n, dim,
	            sq8 ? "sq8" : "pq", sq8 ? dim : p.m, code_bytes, train_s, encode_s, cosine ? "cosine" : "l2");

	const std::size_t rs[] = {10, 20, 40, 100, 200};
	std::size_t hits[5] = {0, 0, 0, 0, 0};
	std::vector<float> table(p.m * kPqCentroids);
	const F32Kernels &k = ActiveKernels();
	for (std::size_t qi = 0; qi < nq; qi++) {
		const float *q = &queries[qi * dim];
		std::vector<std::pair<float, std::size_t>> exact(n), approx(n);
		Sq8Query sq;
		if (sq8)
			sq = Sq8PrepareQuery(lower.data(), step.data(), q, dim, !cosine);
		else
			PqTable(book.View(), q, !cosine, table.data());
		for (std::size_t r = 0; r < n; r++) {
			exact[r] = {cosine ? -k.dot(q, &rows[r * dim], dim) : k.l2_squared(q, &rows[r * dim], dim), r};
			float a = sq8 ? Sq8Distance(sq, &codes[r * code_bytes]) : PqTableDistance(table.data(), &codes[r * code_bytes], p.m);
			approx[r] = {cosine ? -a : a, r};
		}
		std::partial_sort(exact.begin(), exact.begin() + 10, exact.end());
		std::partial_sort(approx.begin(), approx.begin() + 200, approx.end());
		for (std::size_t i = 0; i < 5; i++)
			for (std::size_t e = 0; e < 10; e++)
				for (std::size_t a = 0; a < rs[i]; a++)
					hits[i] += exact[e].second == approx[a].second;
	}
	for (std::size_t i = 0; i < 5; i++)
		std::printf("exact top 10 within approximate top %zu: %.4f\n", rs[i], static_cast<double>(hits[i]) / (10.0 * static_cast<double>(nq)));
	return 0;
}
