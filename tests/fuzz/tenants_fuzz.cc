// brokers.json (the virtual brokers the admin API made, read at start) and the directory
// built from it: whatever the file holds, decoding is total, a decoded set encodes back
// to what decodes the same, and building and asking the directory never fails.
#include <cstddef>
#include <cstdint>
#include <string>

#include "src/base/assert.h"
#include "src/broker/virtual_brokers.h"

using namespace peregrine::broker;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  TenantSet set;
  std::string why;
  if (!decode_tenants(text, set, why)) {
    return 0;
  }
  const std::string again = encode_tenants(set);
  TenantSet back;
  PG_ASSERT(decode_tenants(again, back, why));
  PG_ASSERT(encode_tenants(back) == again);
  std::vector<std::string> skipped;
  auto directory = build_virtual_brokers({}, set, false, &why, &skipped);
  PG_ASSERT(directory != nullptr);
  for (const VirtualBrokerSpec& broker : set.brokers) {
    for (const std::string& host : broker.hostnames) {
      (void)directory->choose("", host, host + ":8883");
    }
    (void)directory->find(broker.name + "." + broker.ns);
  }
  return 0;
}
