// Ring::write_file on both backends: gathered positioned writes, with and without the
// linked sync, reported once from poll(); errors come back as -errno; a write to a file
// that may not grow comes back -EFBIG or -ENOSPC, never as success.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "src/io/ring.h"
#include "tests/unit/io/file_size_limit.h"

namespace peregrine::io {
namespace {

struct Recorded final : FileWrite {
  Recorded(int file, iovec* vectors, int count, uint64_t at, bool and_sync) {
    fd = file;
    iov = vectors;
    iovcnt = count;
    offset = at;
    sync = and_sync;
  }
  void on_file_written(int64_t r) override {
    result = r;
    calls++;
  }
  int64_t result = 0;
  int calls = 0;
};

class FileWriteTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    std::string why;
    if (GetParam() == Backend::kUring && !Ring::uring_available(&why)) {
      GTEST_SKIP() << "io_uring unavailable: " << why;
    }
    ring = Ring::create(GetParam(), RingOptions{}, &why);
    ASSERT_NE(ring, nullptr) << why;
    char dir[] = "/tmp/pg-file-write-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    path = std::string(dir) + "/segment";
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
  }
  void TearDown() override {
    if (fd >= 0) {
      ::close(fd);
      ::unlink(path.c_str());
      ::rmdir(path.substr(0, path.rfind('/')).c_str());
    }
  }
  void wait_for(const std::vector<Recorded*>& writes) {
    for (int i = 0; i < 2000; i++) {
      bool all = true;
      for (const Recorded* w : writes) {
        all = all && w->calls > 0;
      }
      if (all) {
        return;
      }
      ring->poll(5);
    }
    FAIL() << "a write never completed";
  }
  std::string contents() const {
    std::string out(1 << 20, '\0');
    const ssize_t n = ::pread(fd, out.data(), out.size(), 0);
    out.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return out;
  }

  std::unique_ptr<Ring> ring;
  std::string path;
  int fd = -1;
};

TEST_P(FileWriteTest, GatheredWritesLandAtTheirOffsetsAndReportOnce) {
  std::string a = "hello, ";
  std::string b = "log";
  iovec first[2] = {{a.data(), a.size()}, {b.data(), b.size()}};
  std::string c = "!!";
  iovec second[1] = {{c.data(), c.size()}};
  Recorded w1(fd, first, 2, 0, true);
  Recorded w2(fd, second, 1, 10, false);
  ring->write_file(&w1);
  ring->write_file(&w2);
  EXPECT_EQ(w1.calls, 0);  // never from the call that started it
  wait_for({&w1, &w2});
  EXPECT_EQ(w1.result, 10);
  EXPECT_EQ(w2.result, 2);
  EXPECT_EQ(contents(), "hello, log!!");
  ring->poll(0);
  EXPECT_EQ(w1.calls, 1);
  EXPECT_EQ(w2.calls, 1);
}

TEST_P(FileWriteTest, ALargeWriteIsWhole) {
  std::string big(3 << 20, 'z');
  iovec one[1] = {{big.data(), big.size()}};
  Recorded w(fd, one, 1, 0, true);
  ring->write_file(&w);
  wait_for({&w});
  EXPECT_EQ(w.result, static_cast<int64_t>(big.size()));
  struct stat st {};
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(big.size()));
}

TEST_P(FileWriteTest, ErrorsComeBackAsNegativeErrno) {
  const int read_only = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(read_only, 0);
  std::string x = "x";
  iovec one[1] = {{x.data(), 1}};
  Recorded w(read_only, one, 1, 0, true);
  ring->write_file(&w);
  wait_for({&w});
  EXPECT_EQ(w.result, -EBADF);
  ::close(read_only);
}

TEST_P(FileWriteTest, AFileThatMayNotGrowIsNeverSuccess) {
  // RLIMIT_FSIZE stands in for a full disk: the write past it is refused (EFBIG; the
  // signal it would raise is ignored) or cut short (ENOSPC), and is reported as such.
  testing::FileSizeLimit full(4096);
  std::string big(8192, 'y');
  iovec one[1] = {{big.data(), big.size()}};
  Recorded w(fd, one, 1, 0, true);
  ring->write_file(&w);
  wait_for({&w});
  full.lift();
  EXPECT_TRUE(w.result == -ENOSPC || w.result == -EFBIG) << w.result;
}

// Ring::run_file_job: open, fsync, rename, unlink and close made off the calling thread,
// each reported once from poll() with the call's result (a descriptor, 0, or -errno).
struct RecordedJob final : FileJob {
  void on_file_job_done(int r) override {
    result = r;
    calls++;
  }
  int result = 0;
  int calls = 0;
};

TEST_P(FileWriteTest, FileJobsOpenSyncRenameUnlinkAndClose) {
  const auto run = [&](FileJob& started) {
    auto& job = static_cast<RecordedJob&>(started);
    ring->run_file_job(&job);
    EXPECT_EQ(job.calls, 0);  // never from the call that started it
    for (int i = 0; i < 2000 && job.calls == 0; i++) {
      ring->poll(5);
    }
    EXPECT_EQ(job.calls, 1);
    return job.result;
  };
  const std::string dir = path.substr(0, path.rfind('/'));
  RecordedJob open_job;
  open_job.open(dir + "/made", O_WRONLY | O_CREAT | O_EXCL, 0600);
  const int made = run(open_job);
  ASSERT_GE(made, 0);
  struct stat st {};
  ASSERT_EQ(::fstat(made, &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(::fcntl(made, F_GETFD) & FD_CLOEXEC, 0);  // always close-on-exec
  ASSERT_EQ(::write(made, "abc", 3), 3);
  RecordedJob sync_job;
  EXPECT_EQ(run(sync_job.fsync(made)), 0);
  RecordedJob close_job;
  EXPECT_EQ(run(close_job.close(made)), 0);
  EXPECT_EQ(::fcntl(made, F_GETFD), -1);  // closed
  RecordedJob rename_job;
  EXPECT_EQ(run(rename_job.rename(dir + "/made", dir + "/renamed")), 0);
  EXPECT_NE(::access((dir + "/renamed").c_str(), F_OK), -1);
  EXPECT_EQ(::access((dir + "/made").c_str(), F_OK), -1);
  RecordedJob dir_job;
  const int dir_fd = run(dir_job.open(dir, O_RDONLY | O_DIRECTORY, 0));
  ASSERT_GE(dir_fd, 0);
  RecordedJob dir_sync;
  EXPECT_EQ(run(dir_sync.fsync(dir_fd)), 0);  // a directory's entries synced
  ::close(dir_fd);
  RecordedJob unlink_job;
  EXPECT_EQ(run(unlink_job.unlink(dir + "/renamed")), 0);
  EXPECT_EQ(::access((dir + "/renamed").c_str(), F_OK), -1);
  // Failures are -errno.
  RecordedJob missing;
  EXPECT_EQ(run(missing.unlink(dir + "/renamed")), -ENOENT);
  RecordedJob exists;
  EXPECT_EQ(run(exists.open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)), -EEXIST);
  RecordedJob bad_fd;
  EXPECT_EQ(run(bad_fd.fsync(-1)), -EBADF);
}

INSTANTIATE_TEST_SUITE_P(Backends, FileWriteTest,
                         ::testing::Values(Backend::kUring, Backend::kEpoll),
                         [](const auto& info) {
                           return std::string(info.param == Backend::kUring ? "uring" : "epoll");
                         });

}  // namespace
}  // namespace peregrine::io
