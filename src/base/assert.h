// Assertions for programmer errors (broken invariants). PG_ASSERT is always on: a broker
// that continues past a broken invariant can lose acknowledged data. PG_DASSERT is for
// checks too costly for release builds (pair assertions, ownership checks).
#pragma once

namespace peregrine::base {
[[noreturn]] void assert_fail(const char* expr, const char* file, int line, const char* msg);
}  // namespace peregrine::base

#define PG_ASSERT(cond)                                                         \
  do {                                                                          \
    if (__builtin_expect(!(cond), 0)) {                                         \
      ::peregrine::base::assert_fail(#cond, __FILE__, __LINE__, nullptr);       \
    }                                                                           \
  } while (0)

#define PG_ASSERT_MSG(cond, msg)                                                \
  do {                                                                          \
    if (__builtin_expect(!(cond), 0)) {                                         \
      ::peregrine::base::assert_fail(#cond, __FILE__, __LINE__, (msg));         \
    }                                                                           \
  } while (0)

#ifdef NDEBUG
#define PG_DASSERT(cond) \
  do {                   \
  } while (0)
#else
#define PG_DASSERT(cond) PG_ASSERT(cond)
#endif
