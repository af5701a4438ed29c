// k-means benchmark: the IVF trainer on the first rows of a TEXMEX dataset (no server).
//
//   bench_kmeans BASE.fvecs ROWS K THREADS [ITERATIONS] [--spherical] [--lloyd]
//
// Prints seeding and iteration seconds, iterations, inertia and the row-centre distances
// computed, for the bounded k-means and (with --lloyd) for plain Lloyd iterations from the
// same seeds, single-threaded. Figures to compare within one run, not assertions.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "quiver/kernels.hpp"
#include "texmex.hpp"
#include "quiver/kmeans.hpp"

namespace {


void
Print(const char *what, const quiver::core::KmeansResult &r)
{
	std::printf("%-8s seed_s=%.3f iterate_s=%.3f iterations=%d inertia=%.6g distances=%zu\n", what, r.seed_seconds,
	            r.iterate_seconds, r.iterations, r.inertia, r.distance_evaluations);
}

} // namespace

int
main(int argc, char **argv)
{
	if (argc < 5) {
		std::fprintf(stderr, "usage: bench_kmeans BASE.fvecs ROWS K THREADS [ITERATIONS] [--spherical] [--lloyd]\n");
		return 2;
	}
	bool ignored = false;
	quiver::core::InitKernels(&ignored);
	std::size_t dim = 0;
	std::vector<float> rows = quiver::bench::ReadFvecs(argv[1], std::stoul(argv[2]), &dim);
	std::size_t n = rows.size() / dim;
	quiver::core::KmeansParams p;
	p.k = std::stoul(argv[3]);
	p.dim = dim;
	p.threads = std::stoi(argv[4]);
	bool lloyd = false;
	for (int i = 5; i < argc; i++) {
		if (std::strcmp(argv[i], "--spherical") == 0)
			p.spherical = true;
		else if (std::strcmp(argv[i], "--lloyd") == 0)
			lloyd = true;
		else
			p.max_iterations = std::stoi(argv[i]);
	}
	if (p.spherical) {
		for (std::size_t i = 0; i < n; i++) {
			double norm = 0;
			for (std::size_t t = 0; t < dim; t++)
				norm += static_cast<double>(rows[i * dim + t]) * rows[i * dim + t];
			norm = std::sqrt(norm);
			for (std::size_t t = 0; t < dim && norm > 0; t++)
				rows[i * dim + t] = static_cast<float>(rows[i * dim + t] / norm);
		}
	}
	std::printf("rows=%zu dim=%zu k=%zu threads=%d max_iterations=%d spherical=%d kernels=%s\n", n, dim, p.k, p.threads,
	            p.max_iterations, p.spherical ? 1 : 0, quiver::core::KernelLevelName(quiver::core::ActiveKernels().level));
	Print("bounded", quiver::core::Kmeans(rows.data(), n, p));
	if (lloyd)
		Print("lloyd", quiver::core::KmeansLloyd(rows.data(), n, p));
	return 0;
}
