// Random rows for the core unit tests (deterministic for a seed).
#pragma once

#include <cstddef>
#include <random>
#include <vector>

namespace quiver::test {

// n rows of dim floats, uniform in [0, 1).
inline std::vector<float>
UniformRows(std::size_t n, std::size_t dim, unsigned seed)
{
	std::mt19937 rng(seed);
	std::uniform_real_distribution<float> u(0.0f, 1.0f);
	std::vector<float> rows(n * dim);
	for (float &x : rows)
		x = u(rng);
	return rows;
}

// n rows of dim floats, standard normal; with spread_ranges, dimension d is scaled by d + 1 so
// dimensions have different ranges.
inline std::vector<float>
GaussianRows(std::size_t n, std::size_t dim, unsigned seed, bool spread_ranges = false)
{
	std::mt19937 rng(seed);
	std::normal_distribution<float> g(0.0f, 1.0f);
	std::vector<float> rows(n * dim);
	for (std::size_t i = 0; i < rows.size(); i++)
		rows[i] = g(rng) * (spread_ranges ? static_cast<float>(1 + i % dim) : 1.0f);
	return rows;
}

} // namespace quiver::test
