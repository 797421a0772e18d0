// CRC-32C against published check values, both implementations, and chaining.
#include "src/base/crc32c.h"

#include <gtest/gtest.h>

#include <string>

namespace peregrine::base {
namespace {

TEST(Crc32c, CheckValues) {
  // The catalogue's check value ("123456789"), and RFC 3720 §B.4's 32 bytes of zeros and
  // of 0xFF.
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c_portable("123456789", 9), 0xE3069283u);
  const std::string zeros(32, '\0');
  const std::string ones(32, '\xff');
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
  EXPECT_EQ(crc32c(ones.data(), ones.size()), 0x62A8AB43u);
  EXPECT_EQ(crc32c("", 0), 0u);
}

TEST(Crc32c, BothWaysAgreeAndChain) {
  std::string data;
  for (int i = 0; i < 1000; i++) {
    data.push_back(static_cast<char>(i * 37 + 11));
  }
  for (size_t size : {0u, 1u, 7u, 8u, 9u, 63u, 64u, 999u, 1000u}) {
    EXPECT_EQ(crc32c(data.data(), size), crc32c_portable(data.data(), size)) << size;
    for (size_t cut = 0; cut <= size; cut += 5) {
      EXPECT_EQ(crc32c(data.data() + cut, size - cut, crc32c(data.data(), cut)),
                crc32c(data.data(), size));
    }
  }
}

}  // namespace
}  // namespace peregrine::base
