// CRC-32C (Castagnoli, RFC 3720 §B.4): the checksum of every record in the shard logs.
// The SSE 4.2 instruction where the CPU has it (checked once), a table otherwise; both
// give the same value. Pure and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace peregrine::base {

// `crc` continues a previous value: crc32c(b, crc32c(a)) == crc32c(a + b). Start from 0.
uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0);

// The table version alone (tests compare the two).
uint32_t crc32c_portable(const void* data, size_t size, uint32_t crc = 0);

}  // namespace peregrine::base
