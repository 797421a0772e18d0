#include "src/broker/packed_string.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"

namespace peregrine::broker {
namespace {

TEST(PackedString, HoldsItsBytesAndMovesWithoutCopying) {
  EXPECT_EQ(sizeof(PackedString), sizeof(void*));
  PackedString empty;
  EXPECT_EQ(empty.view(), "");
  PackedString nothing{std::string_view()};
  EXPECT_EQ(nothing.view(), "");
  const std::string long_text(1000, 'z');
  PackedString a{std::string_view(long_text)};
  EXPECT_EQ(a.view(), long_text);
  PackedString b = std::move(a);
  EXPECT_EQ(b.view(), long_text);
  EXPECT_EQ(a.view(), "");  // NOLINT(bugprone-use-after-move): moved-from is empty
  PackedString c{std::string_view("with\0zero", 9)};
  EXPECT_EQ(c.view().size(), 9u);
}

TEST(PackedString, KeysASetSearchedByStringViewThroughItsGrowth) {
  absl::flat_hash_set<PackedString, PackedStringHash, PackedStringEq> set;
  for (int i = 0; i < 1000; ++i) {  // rehashes move the keys, never copy them
    set.insert(PackedString("a/b/long-enough-to-spill-any-small-string/" + std::to_string(i)));
  }
  set.insert(PackedString("a/b/c"));
  EXPECT_NE(set.find(std::string_view("a/b/c")), set.end());
  EXPECT_NE(set.find(std::string_view("a/b/long-enough-to-spill-any-small-string/999")),
            set.end());
  EXPECT_EQ(set.find(std::string_view("a/b")), set.end());
  set.erase(set.find(std::string_view("a/b/c")));
  EXPECT_EQ(set.size(), 1000u);
}

}  // namespace
}  // namespace peregrine::broker
