#include "quiver/kmeans.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <limits>
#include <random>
#include <thread>

#include "quiver/error.hpp"
#include "quiver/kernels.hpp"

namespace quiver::core {

namespace {

// Runs fn(begin, end) over [0, n) split into `threads` contiguous ranges, one per thread (the
// caller's thread takes the first), and rethrows the first exception once all have finished.
template <typename Fn>
void
ParallelRanges(std::size_t n, int threads, Fn fn)
{
	std::size_t parts = std::min<std::size_t>(static_cast<std::size_t>(std::max(threads, 1)), std::max<std::size_t>(n, 1));
	if (parts <= 1 || n < 256) {
		fn(std::size_t{0}, n);
		return;
	}
	std::vector<std::thread> workers;
	std::vector<std::exception_ptr> errors(parts);
	auto run = [&](std::size_t p) {
		try {
			fn(n * p / parts, n * (p + 1) / parts);
		} catch (...) {
			errors[p] = std::current_exception();
		}
	};
	workers.reserve(parts - 1);
	try {
		for (std::size_t p = 1; p < parts; p++)
			workers.emplace_back(run, p);
	} catch (...) {
		// A thread that could not start: join the ones running (a joinable std::thread
		// destroyed would terminate the process), then report.
		for (auto &w : workers)
			w.join();
		throw;
	}
	run(0);
	for (auto &w : workers)
		w.join();
	for (auto &e : errors)
		if (e)
			std::rethrow_exception(e);
}

double
Seconds(std::chrono::steady_clock::time_point since)
{
	return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

bool
Stopped(const std::atomic<bool> *stop)
{
	return stop != nullptr && stop->load(std::memory_order_relaxed);
}

void
CheckParams(std::size_t n, const KmeansParams &p)
{
	if (p.k == 0 || p.dim == 0)
		throw Error(ErrorCode::DataException, "k-means needs k >= 1 and dim >= 1");
	if (p.k > n)
		throw Error(ErrorCode::DataException,
		            "k-means needs at least k rows, got " + std::to_string(n) + " for k " + std::to_string(p.k));
}

// k-means++: each new centre is a row drawn with probability proportional to its squared
// distance to the nearest centre so far. Rows all at distance zero (fewer distinct rows than
// k) give the next row in order as a duplicate centre.
std::vector<float>
SeedCenters(const float *rows, std::size_t n, const KmeansParams &p, const std::atomic<bool> *stop)
{
	const DistanceFn l2 = ActiveKernels().l2_squared;
	const std::size_t d = p.dim;
	std::vector<float> centers(p.k * d);
	std::mt19937_64 rng(p.seed);
	std::vector<double> nearest(n, std::numeric_limits<double>::infinity());

	std::size_t chosen = static_cast<std::size_t>(rng() % n);
	for (std::size_t c = 0; c < p.k; c++) {
		const float *center = rows + chosen * d;
		std::copy(center, center + d, centers.begin() + static_cast<std::ptrdiff_t>(c * d));
		if (c + 1 == p.k || Stopped(stop))
			break;
		ParallelRanges(n, p.threads, [&](std::size_t begin, std::size_t end) {
			for (std::size_t i = begin; i < end; i++) {
				double dist = l2(rows + i * d, center, d);
				if (dist < nearest[i])
					nearest[i] = dist;
			}
		});
		double total = 0;
		for (std::size_t i = 0; i < n; i++)
			total += nearest[i];
		if (total > 0) {
			double target = std::uniform_real_distribution<double>(0, total)(rng);
			std::size_t i = 0;
			for (; i + 1 < n; i++) {
				target -= nearest[i];
				if (target < 0 && nearest[i] > 0)
					break;
			}
			while (nearest[i] == 0 && i > 0) // rounding ran past the last positive weight
				i--;
			chosen = i;
		} else {
			chosen = (chosen + 1) % n;
		}
	}
	return centers;
}

// Each centre becomes the mean of its rows, summed in row order (so the result does not depend
// on the thread count); spherical centres are normalized. A centre left without rows takes the
// row farthest from its own centre (by `far`, an upper bound of that distance), so no list
// stays empty while rows remain far from every centre. Returns how far each centre moved.
std::vector<float>
MoveCenters(const float *rows, std::size_t n, const KmeansParams &p, const std::int32_t *assign,
            std::vector<float> &centers, const float *far)
{
	const std::size_t k = p.k, d = p.dim;
	// Rows grouped by centre, in row order within each group (a counting sort).
	std::vector<std::size_t> start(k + 1, 0);
	for (std::size_t i = 0; i < n; i++)
		start[static_cast<std::size_t>(assign[i]) + 1]++;
	for (std::size_t j = 0; j < k; j++)
		start[j + 1] += start[j];
	std::vector<std::size_t> members(n);
	{
		std::vector<std::size_t> fill(start.begin(), start.end() - 1);
		for (std::size_t i = 0; i < n; i++)
			members[fill[static_cast<std::size_t>(assign[i])]++] = i;
	}

	std::vector<float> moved(k, 0.0f);
	const DistanceFn l2 = ActiveKernels().l2_squared;
	ParallelRanges(k, p.threads, [&](std::size_t begin, std::size_t end) {
		std::vector<double> sum(d);
		std::vector<float> mean(d);
		for (std::size_t j = begin; j < end; j++) {
			std::size_t count = start[j + 1] - start[j];
			if (count == 0)
				continue;
			std::fill(sum.begin(), sum.end(), 0.0);
			for (std::size_t m = start[j]; m < start[j + 1]; m++) {
				const float *x = rows + members[m] * d;
				for (std::size_t t = 0; t < d; t++)
					sum[t] += x[t];
			}
			double norm = 0;
			for (std::size_t t = 0; t < d; t++) {
				sum[t] /= static_cast<double>(count);
				norm += sum[t] * sum[t];
			}
			if (p.spherical) {
				if (norm == 0)
					continue; // opposite rows cancelled out: keep the old direction
				norm = std::sqrt(norm);
				for (std::size_t t = 0; t < d; t++)
					sum[t] /= norm;
			}
			for (std::size_t t = 0; t < d; t++)
				mean[t] = static_cast<float>(sum[t]);
			float *c = centers.data() + j * d;
			moved[j] = std::sqrt(l2(c, mean.data(), d));
			std::copy(mean.begin(), mean.end(), c);
		}
	});

	// Empty centres: the farthest rows, each used once, largest distance first.
	std::vector<std::size_t> empty;
	for (std::size_t j = 0; j < k; j++)
		if (start[j + 1] == start[j])
			empty.push_back(j);
	if (!empty.empty()) {
		std::vector<std::size_t> order(n);
		for (std::size_t i = 0; i < n; i++)
			order[i] = i;
		std::size_t take = std::min(empty.size(), n);
		std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(take), order.end(),
		                  [far](std::size_t a, std::size_t b) { return far[a] > far[b] || (far[a] == far[b] && a < b); });
		for (std::size_t e = 0; e < take; e++) {
			if (far[order[e]] <= 0)
				break; // every row sits on its centre: nothing better to move to
			float *c = centers.data() + empty[e] * d;
			const float *x = rows + order[e] * d;
			moved[empty[e]] = std::sqrt(l2(c, x, d));
			std::copy(x, x + d, c);
		}
	}
	return moved;
}

double
Inertia(const float *rows, std::size_t n, std::size_t d, const std::vector<float> &centers, const std::int32_t *assign)
{
	const DistanceFn l2 = ActiveKernels().l2_squared;
	double total = 0;
	for (std::size_t i = 0; i < n; i++)
		total += l2(rows + i * d, centers.data() + static_cast<std::size_t>(assign[i]) * d, d);
	return total;
}

// The nearest and second nearest centre of row x (Euclidean distances, not squared).
void
NearestTwo(const float *x, const float *centers, std::size_t k, std::size_t d, DistanceFn l2, std::int32_t *best,
           float *best_dist, float *second_dist)
{
	float b = std::numeric_limits<float>::infinity(), s = b;
	std::int32_t bi = 0;
	for (std::size_t j = 0; j < k; j++) {
		float dist = l2(x, centers + j * d, d);
		if (dist < b) {
			s = b;
			b = dist;
			bi = static_cast<std::int32_t>(j);
		} else if (dist < s) {
			s = dist;
		}
	}
	*best = bi;
	*best_dist = std::sqrt(b);
	*second_dist = std::sqrt(s);
}


// Lloyd iterations with Hamerly's bounds.
void
IterateHamerly(const float *rows, std::size_t n, const KmeansParams &p, const std::atomic<bool> *stop,
               std::atomic<std::size_t> *progress, KmeansResult &result, std::vector<std::int32_t> &assign,
               std::vector<float> &upper, std::atomic<std::size_t> &evaluations)
{
	const std::size_t k = p.k, d = p.dim;
	const DistanceFn l2 = ActiveKernels().l2_squared;
// Hamerly: upper[i] bounds the distance from row i to its centre from above, lower[i]
	// the distance to every other centre from below. A row whose upper bound is below both
	// its lower bound and half the distance from its centre to the nearest other centre
	// cannot change centre, and costs nothing.
	std::vector<float> lower(n);
	ParallelRanges(n, p.threads, [&](std::size_t begin, std::size_t end) {
		for (std::size_t i = begin; i < end && !Stopped(stop); i++)
			NearestTwo(rows + i * d, result.centers.data(), k, d, l2, &assign[i], &upper[i], &lower[i]);
		evaluations += (end - begin) * k;
	});

	std::vector<float> half_gap(k);
	for (int iter = 0; iter < p.max_iterations && !Stopped(stop); iter++) {
		std::vector<float> moved = MoveCenters(rows, n, p, assign.data(), result.centers, upper.data());
		// Bounds follow the centres: a row's own centre moved by moved[a] at most, every other
		// by the largest move (the second largest for the rows of the centre that moved most).
		std::size_t top = 0;
		for (std::size_t j = 1; j < k; j++)
			if (moved[j] > moved[top])
				top = j;
		float second = 0;
		for (std::size_t j = 0; j < k; j++)
			if (j != top && moved[j] > second)
				second = moved[j];
		// k^2 distances: with many large centres this pass alone takes long enough to need
		// polling (a stop leaves the gaps unfinished; the row pass below then stops too).
		ParallelRanges(k, p.threads, [&](std::size_t begin, std::size_t end) {
			for (std::size_t j = begin; j < end && !Stopped(stop); j++) {
				float nearest = std::numeric_limits<float>::infinity();
				for (std::size_t o = 0; o < k; o++)
					if (o != j)
						nearest = std::min(nearest, l2(result.centers.data() + j * d, result.centers.data() + o * d, d));
				half_gap[j] = 0.5f * std::sqrt(nearest);
			}
		});
		evaluations += k * (k - 1);

		std::atomic<std::size_t> changed{0};
		ParallelRanges(n, p.threads, [&](std::size_t begin, std::size_t end) {
			std::size_t local_changed = 0, local_evals = 0;
			for (std::size_t i = begin; i < end; i++) {
				if ((i & 1023) == 0 && Stopped(stop))
					break;
				std::size_t a = static_cast<std::size_t>(assign[i]);
				upper[i] += moved[a];
				lower[i] -= a == top ? second : moved[top];
				float bound = std::max(half_gap[a], lower[i]);
				if (upper[i] <= bound)
					continue;
				const float *x = rows + i * d;
				upper[i] = std::sqrt(l2(x, result.centers.data() + a * d, d));
				local_evals++;
				if (upper[i] <= bound)
					continue;
				std::int32_t best;
				NearestTwo(x, result.centers.data(), k, d, l2, &best, &upper[i], &lower[i]);
				local_evals += k;
				if (best != assign[i]) {
					assign[i] = best;
					local_changed++;
				}
			}
			changed += local_changed;
			evaluations += local_evals;
		});
		result.iterations = iter + 1;
		if (progress != nullptr)
			progress->store(static_cast<std::size_t>(result.iterations), std::memory_order_relaxed);
		if (changed.load() == 0)
			break;
	}
}

// Half the distances between every two centres, and for each centre half the distance to its
// nearest other one (unfinished when `stop` is set meanwhile).
void
CenterGaps(const KmeansParams &p, const std::vector<float> &centers, std::vector<float> &half_dist,
           std::vector<float> &half_gap, const std::atomic<bool> *stop)
{
	const std::size_t k = p.k, d = p.dim;
	const DistanceFn l2 = ActiveKernels().l2_squared;
	ParallelRanges(k, p.threads, [&](std::size_t begin, std::size_t end) {
		for (std::size_t j = begin; j < end && !Stopped(stop); j++) {
			float nearest = std::numeric_limits<float>::infinity();
			for (std::size_t o = 0; o < k; o++) {
				float h = o == j ? 0.0f : 0.5f * std::sqrt(l2(centers.data() + j * d, centers.data() + o * d, d));
				half_dist[j * k + o] = h;
				if (o != j)
					nearest = std::min(nearest, h);
			}
			half_gap[j] = nearest;
		}
	});
}

// Lloyd iterations with Elkan's bounds: one lower bound per row and centre, so in many
// dimensions, where a single bound (Hamerly) rarely holds, a row still skips every centre
// whose bound or half-distance to its own centre rules it out. Needs n * k + k * k floats.
void
IterateElkan(const float *rows, std::size_t n, const KmeansParams &p, const std::atomic<bool> *stop,
             std::atomic<std::size_t> *progress, KmeansResult &result, std::vector<std::int32_t> &assign,
             std::vector<float> &upper, std::atomic<std::size_t> &evaluations)
{
	const std::size_t k = p.k, d = p.dim;
	const DistanceFn l2 = ActiveKernels().l2_squared;
	std::vector<float> lower(n * k, 0.0f), half_dist(k * k), half_gap(k);
	std::vector<float> moved(k, 0.0f);

	// Visits the centres of row i that its bounds do not rule out, starting from centre a
	// (upper: exact when `fresh`), and returns how many distances it computed.
	auto settle = [&](std::size_t i, std::size_t a, bool fresh) -> std::size_t {
		const float *x = rows + i * d;
		float *lo = lower.data() + i * k;
		float u = upper[i];
		std::size_t evals = 0;
		for (std::size_t j = 0; j < k; j++) {
			if (j == a)
				continue;
			float z = std::max(lo[j], half_dist[a * k + j]);
			if (u <= z)
				continue;
			if (!fresh) {
				u = std::sqrt(l2(x, result.centers.data() + a * d, d));
				lo[a] = u;
				evals++;
				fresh = true;
				if (u <= z)
					continue;
			}
			float dj = std::sqrt(l2(x, result.centers.data() + j * d, d));
			lo[j] = dj;
			evals++;
			if (dj < u) {
				a = j;
				u = dj;
			}
		}
		upper[i] = u;
		assign[i] = static_cast<std::int32_t>(a);
		return evals;
	};

	CenterGaps(p, result.centers, half_dist, half_gap, stop);
	evaluations += k * (k - 1) / 2;
	ParallelRanges(n, p.threads, [&](std::size_t begin, std::size_t end) {
		std::size_t evals = 0;
		for (std::size_t i = begin; i < end && !Stopped(stop); i++) {
			upper[i] = std::sqrt(l2(rows + i * d, result.centers.data(), d));
			lower[i * k] = upper[i];
			evals += 1 + settle(i, 0, true);
		}
		evaluations += evals;
	});

	for (int iter = 0; iter < p.max_iterations && !Stopped(stop); iter++) {
		moved = MoveCenters(rows, n, p, assign.data(), result.centers, upper.data());
		CenterGaps(p, result.centers, half_dist, half_gap, stop);
		evaluations += k * (k - 1) / 2;
		std::atomic<std::size_t> changed{0};
		ParallelRanges(n, p.threads, [&](std::size_t begin, std::size_t end) {
			std::size_t local_changed = 0, evals = 0;
			for (std::size_t i = begin; i < end; i++) {
				if ((i & 1023) == 0 && Stopped(stop))
					break;
				float *lo = lower.data() + i * k;
				for (std::size_t j = 0; j < k; j++)
					lo[j] = std::max(0.0f, lo[j] - moved[j]);
				std::size_t a = static_cast<std::size_t>(assign[i]);
				upper[i] += moved[a];
				if (upper[i] <= half_gap[a])
					continue;
				evals += settle(i, a, false);
				if (static_cast<std::size_t>(assign[i]) != a)
					local_changed++;
			}
			changed += local_changed;
			evaluations += evals;
		});
		result.iterations = iter + 1;
		if (progress != nullptr)
			progress->store(static_cast<std::size_t>(result.iterations), std::memory_order_relaxed);
		if (changed.load() == 0)
			break;
	}
}

} // namespace

std::int32_t
NearestCenter(const float *centers, std::size_t k, const float *row, std::size_t dim)
{
	const DistanceFn l2 = ActiveKernels().l2_squared;
	float best = std::numeric_limits<float>::infinity();
	std::int32_t bi = 0;
	for (std::size_t j = 0; j < k; j++) {
		float dist = l2(row, centers + j * dim, dim);
		if (dist < best) {
			best = dist;
			bi = static_cast<std::int32_t>(j);
		}
	}
	return bi;
}

void
AssignNearest(const float *centers, std::size_t k, const float *rows, std::size_t n, std::size_t dim,
              std::int32_t *out, int threads)
{
	ParallelRanges(n, threads, [&](std::size_t begin, std::size_t end) {
		for (std::size_t i = begin; i < end; i++)
			out[i] = NearestCenter(centers, k, rows + i * dim, dim);
	});
}

KmeansResult
Kmeans(const float *rows, std::size_t n, const KmeansParams &p, const std::atomic<bool> *stop,
       std::atomic<std::size_t> *progress)
{
	CheckParams(n, p);
	const std::size_t k = p.k, d = p.dim;
	KmeansResult result;
	auto start = std::chrono::steady_clock::now();
	result.centers = SeedCenters(rows, n, p, stop);
	result.seed_seconds = Seconds(start);
	start = std::chrono::steady_clock::now();
	if (k == 1 && n > 0) {
		// One centre: its mean, whatever the seed.
		std::vector<std::int32_t> assign(n, 0);
		std::vector<float> far(n, 1.0f);
		MoveCenters(rows, n, p, assign.data(), result.centers, far.data());
		result.iterations = 1;
		result.inertia = Inertia(rows, n, d, result.centers, assign.data());
		return result;
	}

	std::vector<std::int32_t> assign(n);
	std::vector<float> upper(n);
	std::atomic<std::size_t> evaluations{0};
	const std::size_t elkan_bytes = sizeof(float) * (n * k + k * k);
	if (elkan_bytes <= p.bound_memory)
		IterateElkan(rows, n, p, stop, progress, result, assign, upper, evaluations);
	else
		IterateHamerly(rows, n, p, stop, progress, result, assign, upper, evaluations);
	result.elkan = elkan_bytes <= p.bound_memory;
	if (!Stopped(stop))
		MoveCenters(rows, n, p, assign.data(), result.centers, upper.data());
	result.inertia = Inertia(rows, n, d, result.centers, assign.data());
	result.distance_evaluations = evaluations.load();
	result.iterate_seconds = Seconds(start);
	return result;
}

KmeansResult
KmeansLloyd(const float *rows, std::size_t n, const KmeansParams &p)
{
	CheckParams(n, p);
	const std::size_t k = p.k, d = p.dim;
	const DistanceFn l2 = ActiveKernels().l2_squared;
	KmeansResult result;
	auto start = std::chrono::steady_clock::now();
	result.centers = SeedCenters(rows, n, p, nullptr);
	result.seed_seconds = Seconds(start);
	start = std::chrono::steady_clock::now();
	std::vector<std::int32_t> assign(n), previous(n, -1);
	std::vector<float> dist(n);
	for (int iter = 0; iter <= p.max_iterations; iter++) {
		for (std::size_t i = 0; i < n; i++) {
			float second;
			NearestTwo(rows + i * d, result.centers.data(), k, d, l2, &assign[i], &dist[i], &second);
		}
		result.distance_evaluations += n * k;
		if (assign == previous || iter == p.max_iterations)
			break;
		previous = assign;
		MoveCenters(rows, n, p, assign.data(), result.centers, dist.data());
		result.iterations = iter + 1;
	}
	result.inertia = Inertia(rows, n, d, result.centers, assign.data());
	result.iterate_seconds = Seconds(start);
	return result;
}


} // namespace quiver::core
