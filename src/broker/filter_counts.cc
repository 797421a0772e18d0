#include "src/broker/filter_counts.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <cstring>

namespace peregrine::broker {

uint64_t FilterCounts::key_of(std::string_view filter) {
  uint8_t digest[WC_SHA256_DIGEST_SIZE];
  const int rc = wc_Sha256Hash(reinterpret_cast<const uint8_t*>(filter.data()),
                               static_cast<word32>(filter.size()), digest);
  PG_ASSERT(rc == 0);
  uint64_t key = 0;
  std::memcpy(&key, digest, sizeof key);
  return key;
}

}  // namespace peregrine::broker
