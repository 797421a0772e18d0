// The shard log on both io backends: group commit (one write a turn, batches reported in
// order), records replayed in order after a reopen, segments rotated, a failed write's
// bytes never replayed (the disk filled mid-batch: RLIMIT_FSIZE stands in), recovery
// when space returns, and a torn tail or damage mid-segment repaired at open.
#include "src/store/shard_log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "src/store/log_format.h"
#include "tests/unit/io/file_size_limit.h"

namespace peregrine::store {
namespace {

namespace fs = std::filesystem;

struct Reports final : DurableLogListener {
  void on_log_written(uint64_t ticket, int error) override { seen.emplace_back(ticket, error); }
  std::vector<std::pair<uint64_t, int>> seen;
};

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

class ShardLogTest : public ::testing::TestWithParam<io::Backend> {
 protected:
  void SetUp() override {
    std::string why;
    if (GetParam() == io::Backend::kUring && !io::Ring::uring_available(&why)) {
      GTEST_SKIP() << "io_uring unavailable: " << why;
    }
    ring = io::Ring::create(GetParam(), io::RingOptions{}, &why);
    ASSERT_NE(ring, nullptr) << why;
    char dir[] = "/tmp/pg-shard-log-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    root = dir;
    options.dir = root + "/shard-2";
    options.shard = 2;
  }
  void TearDown() override {
    log.reset();
    if (!root.empty()) {
      fs::remove_all(root);
    }
  }
  // Opens (or reopens) the log; returns what it replayed as "type:body".
  std::vector<std::string> open() {
    log.reset();
    reports = std::make_unique<Reports>();
    log = std::make_unique<ShardLog>(options, *ring, *reports);
    std::vector<std::string> replayed;
    std::string error;
    recovery = {};
    EXPECT_TRUE(log->open(
        [&](uint8_t type, std::span<const uint8_t> body) {
          replayed.push_back(std::to_string(type) + ":" + std::string(body.begin(), body.end()));
        },
        recovery, error))
        << error;
    settle();  // its new segment is made through the ring
    return replayed;
  }
  void settle() {
    for (int i = 0; i < 2000 && log->busy(); i++) {
      ring->poll(5);
    }
    ASSERT_FALSE(log->busy());
  }
  std::vector<std::string> segments() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(options.dir)) {
      out.push_back(e.path().filename());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::unique_ptr<io::Ring> ring;
  std::string root;
  ShardLogOptions options;
  std::unique_ptr<Reports> reports;
  std::unique_ptr<ShardLog> log;
  LogRecovery recovery;
  uint64_t now_ms = 1000;
};

TEST_P(ShardLogTest, OneWriteATurnAndRecordsComeBackInOrder) {
  EXPECT_TRUE(open().empty());
  EXPECT_EQ(fs::status(options.dir).permissions() & fs::perms::all, fs::perms::owner_all);
  for (int i = 0; i < 100; i++) {
    EXPECT_EQ(log->append(1, bytes_of("m" + std::to_string(i))), 1u);
  }
  log->flush(now_ms);
  // Appended while the first is in flight: the next batch, started when it completes.
  EXPECT_EQ(log->append(2, bytes_of("later")), 2u);
  log->flush(now_ms);
  settle();
  EXPECT_EQ(reports->seen, (std::vector<std::pair<uint64_t, int>>{{1, 0}, {2, 0}}));
  EXPECT_EQ(log->written_through(), 2u);
  log->flush(now_ms);  // nothing to do
  EXPECT_FALSE(log->busy());

  const std::vector<std::string> replayed = open();
  ASSERT_EQ(replayed.size(), 101u);
  EXPECT_EQ(replayed.front(), "1:m0");
  EXPECT_EQ(replayed[99], "1:m99");
  EXPECT_EQ(replayed.back(), "2:later");
  EXPECT_EQ(recovery.segments, 1u);
  EXPECT_EQ(recovery.torn + recovery.damaged, 0u);
  // Every start writes a new segment; the old ones stay until compaction, except those
  // with no records, which go at the next start.
  EXPECT_EQ(segments().size(), 2u);
  EXPECT_EQ(open().size(), 101u);
  EXPECT_EQ(open().size(), 101u);
  EXPECT_EQ(segments().size(), 2u);
  const auto mode = fs::status(options.dir + "/" + segments()[0]).permissions() & fs::perms::all;
  EXPECT_EQ(mode, fs::perms::owner_read | fs::perms::owner_write);
}

TEST_P(ShardLogTest, SegmentsRotateAndReplayInOrder) {
  options.segment_bytes = 600;
  open();
  for (int turn = 0; turn < 10; turn++) {
    log->append(3, bytes_of(std::string(300, static_cast<char>('a' + turn))));
    log->flush(now_ms);
    settle();
  }
  // Three batches a segment: two to pass 600 bytes, one more to sync what the interval
  // policy left unsynced before the segment is left.
  EXPECT_EQ(segments().size(), 4u);
  const std::vector<std::string> replayed = open();
  ASSERT_EQ(replayed.size(), 10u);
  for (int turn = 0; turn < 10; turn++) {
    EXPECT_EQ(replayed[static_cast<size_t>(turn)][2], static_cast<char>('a' + turn));
  }
}

TEST_P(ShardLogTest, AFailedBatchIsNeverReplayedAndTheLogRecovers) {
  open();
  log->append(1, bytes_of("before"));
  log->flush(now_ms);
  settle();
  // The disk "fills" partway through the next batch: some of its records reach the file
  // whole, and the batch is reported failed.
  testing::FileSizeLimit full(3000);
  for (int i = 0; i < 100; i++) {
    log->append(1, bytes_of("refused-" + std::string(40, 'r')));
  }
  log->flush(now_ms);
  settle();
  ASSERT_EQ(reports->seen.size(), 2u);
  EXPECT_LT(reports->seen[1].second, 0);
  EXPECT_EQ(log->failures(), 1u);
  // Still full: the next batch needs a new segment, which fits (a header) but its write
  // does not; then space returns.
  full.lift();
  log->append(1, bytes_of("after"));
  log->flush(now_ms);
  settle();
  ASSERT_EQ(reports->seen.size(), 3u);
  EXPECT_EQ(reports->seen[2].second, 0);

  const std::vector<std::string> replayed = open();
  EXPECT_EQ(replayed, (std::vector<std::string>{"1:before", "1:after"}));
  ASSERT_FALSE(recovery.notes.empty());
  EXPECT_NE(recovery.notes[0].find("failed write"), std::string::npos) << recovery.notes[0];
}

TEST_P(ShardLogTest, NoSegmentWhileTheDiskIsFullThenRecovery) {
  open();
  const std::string dir = options.dir;
  // A failure, then a directory that refuses new files: batches fail at once, with a
  // new attempt at most once a second of the shard's clock.
  testing::FileSizeLimit full(10);
  log->append(1, bytes_of("x"));
  log->flush(now_ms);
  settle();
  log->append(1, bytes_of("y"));
  log->flush(now_ms);  // a new segment: its header does not fit
  settle();
  log->append(1, bytes_of("z"));
  log->flush(now_ms + 10);  // within the second: refused without trying
  settle();
  full.lift();
  ASSERT_EQ(reports->seen.size(), 3u);
  for (const auto& [ticket, error] : reports->seen) {
    EXPECT_LT(error, 0) << ticket;
  }
  log->append(1, bytes_of("w"));
  log->flush(now_ms + 10);  // still within the second
  settle();
  EXPECT_LT(reports->seen.back().second, 0);
  log->append(1, bytes_of("v"));
  log->flush(now_ms + ShardLog::kRetryMs + 10);
  settle();
  EXPECT_EQ(reports->seen.back().second, 0);
  EXPECT_EQ(open(), (std::vector<std::string>{"1:v"}));
}

// The segment a start begins is made through the ring: open() does not fail for want of
// room (the broker starts), batches wait for it and are refused while it cannot be made,
// and once there is room again the log goes on.
TEST_P(ShardLogTest, ASegmentThatCannotBeMadeAtStartRefusesBatchesUntilItCan) {
  open();
  log->append(1, bytes_of("a"));
  log->flush(now_ms);
  settle();
  {
    testing::FileSizeLimit full(10);  // no new segment's header fits
    open();
    log->append(1, bytes_of("b"));
    log->flush(now_ms);
    settle();
    log->append(1, bytes_of("c"));
    log->flush(now_ms + 10);  // within the second: refused without trying
    settle();
  }
  ASSERT_EQ(reports->seen.size(), 2u);
  EXPECT_LT(reports->seen[0].second, 0);
  EXPECT_LT(reports->seen[1].second, 0);
  log->append(1, bytes_of("d"));
  log->flush(now_ms + ShardLog::kRetryMs + 10);
  EXPECT_TRUE(log->busy());  // the segment is being made; "d" waits for it
  log->append(1, bytes_of("e"));  // joins the waiting batch
  settle();
  ASSERT_EQ(reports->seen.size(), 3u);
  EXPECT_EQ(reports->seen[2].second, 0);
  EXPECT_EQ(open(), (std::vector<std::string>{"1:a", "1:d", "1:e"}));
  for (const std::string& name : segments()) {
    EXPECT_GT(fs::file_size(options.dir + "/" + name), 0u) << name;  // no half-made one
  }
}

TEST_P(ShardLogTest, TornTailsAreCutAndDamageIsMovedAside) {
  open();
  log->append(5, bytes_of("one"));
  log->append(5, bytes_of("two"));
  log->flush(now_ms);
  settle();
  const std::string first = options.dir + "/" + segments()[0];
  // A torn record at the end.
  {
    std::string partial;
    append_record(partial, 5, std::string_view("three"));
    partial.resize(partial.size() - 2);
    const int fd = ::open(first.c_str(), O_WRONLY | O_APPEND);
    ASSERT_EQ(::write(fd, partial.data(), partial.size()), static_cast<ssize_t>(partial.size()));
    ::close(fd);
  }
  EXPECT_EQ(open(), (std::vector<std::string>{"5:one", "5:two"}));
  EXPECT_EQ(recovery.torn, 1u);
  EXPECT_EQ(open(), (std::vector<std::string>{"5:one", "5:two"}));  // cut for good
  EXPECT_EQ(recovery.torn, 0u);

  // A flipped byte in the first record: the segment ends before it, the rest aside.
  {
    const int fd = ::open(first.c_str(), O_RDWR);
    char b = 0;
    ASSERT_EQ(::pread(fd, &b, 1, kSegmentHeaderBytes + kRecordHeaderBytes), 1);
    b ^= 0x01;
    ASSERT_EQ(::pwrite(fd, &b, 1, kSegmentHeaderBytes + kRecordHeaderBytes), 1);
    ::close(fd);
  }
  EXPECT_TRUE(open().empty());
  EXPECT_EQ(recovery.damaged, 1u);
  EXPECT_TRUE(fs::exists(first + ".damaged"));
  EXPECT_EQ(fs::file_size(first + ".damaged"), 2 * kRecordHeaderBytes + 6);
  log->append(5, bytes_of("fresh"));
  log->flush(now_ms);
  settle();
  EXPECT_EQ(open(), (std::vector<std::string>{"5:fresh"}));
}

TEST_P(ShardLogTest, ASnapshotReplacesTheSegmentsBeforeIt) {
  options.compact_min_bytes = 300;
  open();
  // The live state: key → value, set by records "key=value".
  std::map<std::string, std::string> state;
  auto set = [&](const std::string& key, const std::string& value) {
    state[key] = value;
    log->append(7, bytes_of(key + "=" + value));
  };
  for (int i = 0; i < 40; i++) {
    set("k" + std::to_string(i % 5), "v" + std::to_string(i));
    log->flush(now_ms);
    settle();
  }
  ASSERT_TRUE(log->wants_snapshot());
  // Begun while a write is in flight: ready only once it has completed.
  set("k1", "in-flight");
  log->flush(now_ms);
  ASSERT_TRUE(log->begin_snapshot());
  EXPECT_FALSE(log->snapshot_ready());
  EXPECT_FALSE(log->begin_snapshot());  // one at a time
  settle();
  ASSERT_TRUE(log->snapshot_ready());
  set("k2", "after-begin");  // goes to the new segment
  for (const auto& [key, value] : state) {
    log->append_snapshot(7, bytes_of(key + "=" + value));
  }
  set("k3", "while-adding");
  log->end_snapshot();
  log->flush(now_ms);
  settle();
  EXPECT_FALSE(log->snapshot_running());
  EXPECT_EQ(log->snapshots(), 1u);
  EXPECT_FALSE(log->wants_snapshot());
  const std::vector<std::string> files = segments();
  ASSERT_EQ(files.size(), 2u) << files[0];
  EXPECT_TRUE(files[0].ends_with(".log"));  // the segment it began
  EXPECT_TRUE(files[1].starts_with("snapshot-") && files[1].ends_with(".snap"));
  EXPECT_EQ(files[0].substr(0, 16), files[1].substr(9, 16));

  // Replayed, the snapshot and then the newer segment give the latest state.
  std::map<std::string, std::string> replayed;
  for (const std::string& r : open()) {
    const size_t eq = r.find('=');
    replayed[r.substr(2, eq - 2)] = r.substr(eq + 1);
  }
  EXPECT_EQ(replayed, state);
  EXPECT_EQ(recovery.snapshot_records, 5u);
}

TEST_P(ShardLogTest, AFailedSnapshotLeavesTheSegmentsAsTheyWere) {
  options.compact_min_bytes = 100;
  open();
  for (int i = 0; i < 10; i++) {
    log->append(7, bytes_of("record-" + std::to_string(i) + std::string(20, 'x')));
    log->flush(now_ms);
    settle();
  }
  ASSERT_TRUE(log->begin_snapshot());
  EXPECT_FALSE(log->snapshot_ready());  // its segment and file are made through the ring
  settle();
  ASSERT_TRUE(log->snapshot_ready());
  testing::FileSizeLimit full(64);
  log->append_snapshot(7, bytes_of(std::string(200, 's')));
  log->end_snapshot();
  log->flush(now_ms);
  settle();
  full.lift();
  EXPECT_FALSE(log->snapshot_running());
  EXPECT_EQ(log->snapshots(), 0u);
  for (const std::string& name : segments()) {
    EXPECT_FALSE(name.starts_with("snapshot-")) << name;
  }
  EXPECT_EQ(open().size(), 10u);
}

INSTANTIATE_TEST_SUITE_P(Backends, ShardLogTest,
                         ::testing::Values(io::Backend::kUring, io::Backend::kEpoll),
                         [](const auto& info) {
                           return std::string(info.param == io::Backend::kUring ? "uring" : "epoll");
                         });

}  // namespace
}  // namespace peregrine::store
