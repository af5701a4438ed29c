// Must be the last include of every header under include/quiver/ and of every src/core file.
//
// The core is plain C++ and is compiled, tested and fuzzed without a server. PostgreSQL's
// headers redefine printf/snprintf/strerror as macros and bring in longjmp-based error
// handling that C++ destructors do not survive, so they must never meet core code. Glue files
// in src/pg include every core header first and postgres.h after it; if postgres.h comes
// first, this fails the build instead of a reviewer having to notice.
#ifdef POSTGRES_H
static_assert(false, "PostgreSQL headers must not be included before Quiver core headers");
#endif
