#include <new>
#include <stdexcept>

#include <gtest/gtest.h>

#include "quiver/error.hpp"

using quiver::core::Error;
using quiver::core::ErrorCode;
using quiver::core::ThrowForSelfTest;

TEST(Errors, SelfTestThrowsEachKind)
{
	try {
		ThrowForSelfTest("core");
		FAIL();
	} catch (const Error &e) {
		EXPECT_EQ(e.code(), ErrorCode::DataException);
	}
	EXPECT_THROW(ThrowForSelfTest("bad_alloc"), std::bad_alloc);
	EXPECT_THROW(ThrowForSelfTest("std"), std::runtime_error);
	bool caught_opaque = false;
	try {
		ThrowForSelfTest("unknown");
	} catch (const std::exception &) {
		FAIL() << "the opaque kind must not derive from std::exception";
	} catch (...) {
		caught_opaque = true;
	}
	EXPECT_TRUE(caught_opaque);
	try {
		ThrowForSelfTest("nonsense");
		FAIL();
	} catch (const Error &e) {
		EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
		EXPECT_NE(std::string(e.what()).find("nonsense"), std::string::npos);
	}
}
