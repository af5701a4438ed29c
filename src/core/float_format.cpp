#include "quiver/float_format.hpp"

#include <charconv>
#include <cmath>
#include <cstring>

namespace quiver::core {

std::size_t
FormatFloatShortest(float f, char *out) noexcept
{
	if (std::isnan(f)) {
		std::memcpy(out, "NaN", 3);
		return 3;
	}
	if (std::isinf(f)) {
		if (f > 0) {
			std::memcpy(out, "Infinity", 8);
			return 8;
		}
		std::memcpy(out, "-Infinity", 9);
		return 9;
	}

	// Scientific form always yields the shortest digit string plus the decimal exponent,
	// which we then lay out ourselves: "-d.ddde-XX".
	char sci[32];
	auto res = std::to_chars(sci, sci + sizeof sci, f, std::chars_format::scientific);
	const char *end = res.ptr;
	const char *p = sci;

	std::size_t n = 0;
	if (*p == '-') {
		out[n++] = '-';
		p++;
	}

	char digits[12];
	int ndigits = 0;
	for (; p < end && *p != 'e'; p++) {
		if (*p != '.')
			digits[ndigits++] = *p;
	}
	int exp10 = 0;
	if (p < end) {
		p++; // 'e'
		bool negative = *p == '-';
		p++;
		for (; p < end; p++)
			exp10 = exp10 * 10 + (*p - '0');
		if (negative)
			exp10 = -exp10;
	}

	if (ndigits == 1 && digits[0] == '0') {
		out[n++] = '0';
		return n;
	}

	if (exp10 >= -4 && exp10 < 6) {
		if (exp10 < 0) {
			out[n++] = '0';
			out[n++] = '.';
			for (int i = 0; i < -exp10 - 1; i++)
				out[n++] = '0';
			for (int i = 0; i < ndigits; i++)
				out[n++] = digits[i];
		} else {
			int int_digits = exp10 + 1;
			for (int i = 0; i < int_digits; i++)
				out[n++] = i < ndigits ? digits[i] : '0';
			if (ndigits > int_digits) {
				out[n++] = '.';
				for (int i = int_digits; i < ndigits; i++)
					out[n++] = digits[i];
			}
		}
		return n;
	}

	out[n++] = digits[0];
	if (ndigits > 1) {
		out[n++] = '.';
		for (int i = 1; i < ndigits; i++)
			out[n++] = digits[i];
	}
	out[n++] = 'e';
	int e = exp10;
	if (e < 0) {
		out[n++] = '-';
		e = -e;
	} else {
		out[n++] = '+';
	}
	if (e >= 100)
		out[n++] = static_cast<char>('0' + e / 100);
	out[n++] = static_cast<char>('0' + (e / 10) % 10);
	out[n++] = static_cast<char>('0' + e % 10);
	return n;
}

} // namespace quiver::core
