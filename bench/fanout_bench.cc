// The fan-out path per subscriber, in user space: what a shard does for each subscriber of
// a QoS 0 message once the topic is matched. It encodes the head once per message (the
// shard caches it), appends head and payload to each subscriber's OutQueue, and at the
// turn's end builds each queue's iovecs and releases what was sent. A small payload is
// copied next to its head (ShardBroker::deliver_in_place, OutQueue::kCopyUpTo). A large
// one is referenced in its Message (deliver_matched → Client::send_qos0_shared).
// Not here: the send syscalls and the kernel's TCP work, which bench/compare's fan-out row
// measures. "items" are deliveries, so items/s is deliveries per second and the time per
// item is the cost of one subscriber's copy.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "src/broker/message.h"
#include "src/mqtt/codec.h"
#include "src/net/out_queue.h"

namespace {

using peregrine::broker::Message;
using peregrine::mqtt::ProtocolVersion;
using peregrine::net::OutQueue;

constexpr std::string_view kTopic = "sensors/building-7/floor-3/temperature";
// Messages per loop turn before the queues are sent: a busy shard's turn.
constexpr int kMessagesPerTurn = 32;

std::span<const uint8_t> payload_of(size_t size) {
  static const std::vector<uint8_t> bytes(1 << 16, 0x5A);
  return {bytes.data(), size};
}

// Each queue's pending bytes go out as one send, as Connection::flush() does.
void send_all(std::vector<std::unique_ptr<OutQueue>>& queues) {
  for (auto& queue : queues) {
    const size_t bytes = queue->pending_bytes();
    benchmark::DoNotOptimize(queue->prepare_send().data());
    queue->consume(bytes);
  }
}

std::vector<std::unique_ptr<OutQueue>> make_queues(int64_t count) {
  std::vector<std::unique_ptr<OutQueue>> queues;
  for (int64_t i = 0; i < count; ++i) {
    queues.push_back(std::make_unique<OutQueue>());
  }
  return queues;
}

// Small payloads: head and payload copied into each subscriber's arena.
void BM_FanOutCopied(benchmark::State& state) {
  auto queues = make_queues(state.range(0));
  const std::span<const uint8_t> payload = payload_of(static_cast<size_t>(state.range(1)));
  std::vector<uint8_t> head(
      peregrine::mqtt::plain_publish_head_size(ProtocolVersion::kV311, kTopic.size(), 0,
                                               payload.size()));
  int in_turn = 0;
  for (auto _ : state) {
    const size_t head_size = peregrine::mqtt::encode_plain_publish_head(
        ProtocolVersion::kV311, kTopic, 0, false, false, 0, payload.size(), head.data());
    const std::span<const uint8_t> head_bytes(head.data(), head_size);
    for (auto& queue : queues) {
      queue->append_copy(head_bytes, payload);
    }
    if (++in_turn == kMessagesPerTurn) {
      send_all(queues);
      in_turn = 0;
    }
  }
  send_all(queues);
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * state.range(0) *
                          static_cast<int64_t>(head.size() + payload.size()));
}
BENCHMARK(BM_FanOutCopied)
    ->ArgNames({"subscribers", "payload"})
    ->Args({1, 256})
    ->Args({500, 16})
    ->Args({500, 256})
    ->Args({500, 1024});

// Large payloads: the head copied, the payload referenced in its Message (one reference
// per queued piece, dropped when it is sent).
void BM_FanOutShared(benchmark::State& state) {
  auto queues = make_queues(state.range(0));
  peregrine::mqtt::Publish publish;
  publish.topic = kTopic;
  publish.payload = payload_of(static_cast<size_t>(state.range(1)));
  Message* message = Message::create(publish, 1, 0);
  std::vector<uint8_t> head(
      peregrine::mqtt::plain_publish_head_size(ProtocolVersion::kV311, kTopic.size(), 0,
                                               message->payload().size()));
  int in_turn = 0;
  for (auto _ : state) {
    const size_t head_size = peregrine::mqtt::encode_plain_publish_head(
        ProtocolVersion::kV311, kTopic, 0, false, false, 0, message->payload().size(),
        head.data());
    for (auto& queue : queues) {
      queue->append_copy(std::span<const uint8_t>(head.data(), head_size));
      queue->append_shared(message, message->payload());
    }
    if (++in_turn == kMessagesPerTurn) {
      send_all(queues);
      in_turn = 0;
    }
  }
  send_all(queues);
  message->unref();
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_FanOutShared)
    ->ArgNames({"subscribers", "payload"})
    ->Args({500, 4096})
    ->Args({500, 16384});

}  // namespace

BENCHMARK_MAIN();
