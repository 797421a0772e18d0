// The io_uring ring's receive path over real loopback TCP sockets: bytes arrive whole and
// in order through the provided-buffer ring, whether the kernel consumes buffers whole or
// incrementally, across buffer ends, ring wrap-around and buffer exhaustion (ENOBUFS,
// re-arm); incremental consumption lets small reads from many sockets share a page; and
// where buffers are consumed whole, large ones are cut into RingOptions::kWholeBufferBytes.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "src/io/ring.h"
#include "src/io/uring_ring.h"

namespace peregrine::io {
namespace {

struct Receiver : Socket {
  std::vector<uint8_t> bytes;
  std::vector<const uint8_t*> reads;  // where each read's bytes were
  size_t largest_read = 0;
  int end = 1;                        // 1: still open
  bool quiesced = false;
  void on_recv(std::span<const uint8_t> data) override {
    reads.push_back(data.data());
    largest_read = std::max(largest_read, data.size());
    bytes.insert(bytes.end(), data.begin(), data.end());
  }
  void on_recv_end(int error) override { end = error; }
  void on_send_done(int) override {}
  void on_quiesced() override { quiesced = true; }
};

// A connected pair of loopback TCP sockets: {writer, reader}.
std::pair<int, int> tcp_pair() {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  EXPECT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(listen(listener, 64), 0);
  EXPECT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  int writer = socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_EQ(connect(writer, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  int reader = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
  close(listener);
  return {writer, reader};
}

void write_all(int fd, const uint8_t* data, size_t size) {
  while (size > 0) {
    ssize_t n = write(fd, data, size);
    ASSERT_GT(n, 0);
    data += n;
    size -= static_cast<size_t>(n);
  }
}

std::unique_ptr<Ring> make_ring(bool incremental, uint32_t count, uint32_t size) {
  RingOptions options;
  options.entries = 64;
  options.recv_buffer_count = count;
  options.recv_buffer_size = size;
  options.incremental_buffers = incremental;
  std::string why;
  auto ring = Ring::create(Backend::kUring, options, &why);
  EXPECT_NE(ring, nullptr) << why;
  return ring;
}

void stop_all(Ring& ring, std::vector<Receiver>& receivers) {
  for (Receiver& r : receivers) {
    ring.stop(&r);
  }
  for (int i = 0; i < 100; ++i) {
    ring.poll(10);
    bool all = true;
    for (Receiver& r : receivers) {
      all = all && r.quiesced;
    }
    if (all) {
      break;
    }
  }
  for (Receiver& r : receivers) {
    EXPECT_TRUE(r.quiesced);
    close(r.fd());
  }
}

class UringRecv : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    std::string why;
    if (!Ring::uring_available(&why)) {
      GTEST_SKIP() << "io_uring unavailable: " << why;
    }
  }

  // A ring of `count` buffers of `size` bytes, consumed as the parameter says, receiving
  // on `sockets` loopback connections; false when the kernel cannot do what is asked.
  bool start(uint32_t count, uint32_t size, int sockets) {
    ring = make_ring(GetParam(), count, size);
    if (ring == nullptr) {
      ADD_FAILURE() << "no ring";
      return false;
    }
    if (GetParam() && !static_cast<UringRing&>(*ring).incremental_buffers()) {
      return false;  // a kernel before 6.12 consumes provided buffers whole only
    }
    receivers = std::vector<Receiver>(sockets);  // not resized again: the ring holds them
    for (Receiver& r : receivers) {
      auto [writer, reader] = tcp_pair();
      writers.push_back(writer);
      r.set_fd(reader);
      ring->start_recv(&r);
    }
    return true;
  }

  std::unique_ptr<Ring> ring;
  std::vector<Receiver> receivers;
  std::vector<int> writers;
};

TEST_P(UringRecv, DeliversEveryByteInOrderAcrossBufferEndsAndExhaustion) {
  // Four 4 KiB buffers for 600 KiB from three sockets at once: reads end at buffer ends,
  // the ring wraps many times and runs out (ENOBUFS ends a multishot; it is re-armed).
  constexpr int kSockets = 3;
  if (!start(4, 4096, kSockets)) {
    GTEST_SKIP() << "this kernel consumes provided buffers whole only (before 6.12)";
  }
  std::vector<std::vector<uint8_t>> sent(kSockets);
  uint32_t seed = 12345;
  for (int round = 0; round < 200; ++round) {
    for (int s = 0; s < kSockets; ++s) {
      seed = seed * 1103515245 + 12345;
      const size_t size = 1 + (seed >> 8) % 3000;  // 1..3000 bytes, rarely buffer-aligned
      std::vector<uint8_t> chunk(size);
      for (size_t i = 0; i < size; ++i) {
        chunk[i] = static_cast<uint8_t>(seed + sent[s].size() + i * 31);
      }
      write_all(writers[s], chunk.data(), chunk.size());
      sent[s].insert(sent[s].end(), chunk.begin(), chunk.end());
    }
    if (round % 3 == 0) {
      ring->poll(0);
    }
  }
  for (int s = 0; s < kSockets; ++s) {
    shutdown(writers[s], SHUT_WR);
  }
  for (int i = 0; i < 2000; ++i) {
    bool done = true;
    for (Receiver& r : receivers) {
      done = done && r.end != 1;
    }
    if (done) {
      break;
    }
    ring->poll(10);
  }
  for (int s = 0; s < kSockets; ++s) {
    EXPECT_EQ(receivers[s].end, 0) << "socket " << s;
    ASSERT_EQ(receivers[s].bytes.size(), sent[s].size()) << "socket " << s;
    EXPECT_TRUE(receivers[s].bytes == sent[s]) << "socket " << s;
    close(writers[s]);
  }
  stop_all(*ring, receivers);
}

TEST_P(UringRecv, SmallReadsShareABufferOnlyWhenIncremental) {
  // Sixteen sockets send a CONNECT-sized 40 bytes each, as in a connection storm.
  constexpr int kSockets = 16;
  if (!start(64, 16384, kSockets)) {
    GTEST_SKIP() << "this kernel consumes provided buffers whole only (before 6.12)";
  }
  const bool incremental = GetParam();
  ring->poll(0);
  std::set<uintptr_t> pages;
  for (int s = 0; s < kSockets; ++s) {
    std::vector<uint8_t> hello(40, static_cast<uint8_t>('a' + s));
    write_all(writers[s], hello.data(), hello.size());
    for (int i = 0; i < 200 && receivers[s].bytes.size() < hello.size(); ++i) {
      ring->poll(5);
    }
    ASSERT_EQ(receivers[s].bytes, hello) << "socket " << s;
    for (const uint8_t* read : receivers[s].reads) {
      pages.insert(reinterpret_cast<uintptr_t>(read) / 4096);
    }
  }
  if (incremental) {
    EXPECT_LE(pages.size(), 2u);  // 640 bytes, packed one after another
  } else {
    EXPECT_EQ(pages.size(), size_t{kSockets});  // a fresh buffer, so a fresh page, each
  }
  for (int fd : writers) {
    close(fd);
  }
  stop_all(*ring, receivers);
}

TEST_P(UringRecv, WholeConsumptionCutsLargeBuffersIntoSmallerOnes) {
  // Two buffers of 256 KiB asked for: consumed whole, a read of a few bytes would spend
  // 256 KiB, so the ring takes eight of 64 KiB instead (the same bytes, spares likewise).
  if (!start(2, 256 * 1024, 1)) {
    GTEST_SKIP() << "this kernel consumes provided buffers whole only (before 6.12)";
  }
  const RingOptions& used = static_cast<UringRing&>(*ring).options();
  if (GetParam()) {
    EXPECT_EQ(used.recv_buffer_count, 2u);
    EXPECT_EQ(used.recv_buffer_size, 256u * 1024);
  } else {
    EXPECT_EQ(used.recv_buffer_count, 8u);
    EXPECT_EQ(used.recv_buffer_size, RingOptions::kWholeBufferBytes);
    EXPECT_EQ(used.recv_buffer_spares, RingOptions{}.recv_buffer_spares * 4);
  }
  std::vector<uint8_t> sent(1024 * 1024);
  for (size_t i = 0; i < sent.size(); ++i) {
    sent[i] = static_cast<uint8_t>(i * 7 + i / 251);
  }
  // Written without blocking, the ring polled in between: nothing reads the socket
  // otherwise, and 1 MiB may be more than the two socket buffers hold.
  size_t written = 0;
  for (int i = 0; i < 20000 && written < sent.size(); ++i) {
    const ssize_t n = send(writers[0], sent.data() + written,
                           std::min<size_t>(64 * 1024, sent.size() - written), MSG_DONTWAIT);
    if (n > 0) {
      written += static_cast<size_t>(n);
    }
    ring->poll(0);
  }
  ASSERT_EQ(written, sent.size());
  shutdown(writers[0], SHUT_WR);
  for (int i = 0; i < 2000 && receivers[0].end == 1; ++i) {
    ring->poll(10);
  }
  EXPECT_EQ(receivers[0].end, 0);
  EXPECT_TRUE(receivers[0].bytes == sent);
  EXPECT_LE(receivers[0].largest_read, used.recv_buffer_size);
  close(writers[0]);
  stop_all(*ring, receivers);
}

INSTANTIATE_TEST_SUITE_P(BufferConsumption, UringRecv, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "incremental" : "whole"; });

}  // namespace
}  // namespace peregrine::io
