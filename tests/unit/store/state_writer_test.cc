// The state writer: whole files replaced atomically with mode 0600, off the caller's
// thread, in order, bounded; the revocation file's format.
#include "src/store/state_writer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "src/store/control_file_store.h"

namespace peregrine::store {
namespace {

std::string temp_dir() {
  char path[] = "/tmp/peregrine-state-XXXXXX";
  EXPECT_NE(mkdtemp(path), nullptr);
  return path;
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(StateWriter, WritesAtomicallyWithOwnerOnlyMode) {
  const std::string dir = temp_dir();
  const std::string path = dir + "/f";
  std::string error;
  ASSERT_TRUE(StateWriter::write_atomically(path, "one", &error)) << error;
  ASSERT_TRUE(StateWriter::write_atomically(path, "two", &error)) << error;
  EXPECT_EQ(read(path), "two");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(::access((path + ".tmp").c_str(), F_OK), 0);  // no temporary left behind
  EXPECT_FALSE(StateWriter::write_atomically(dir + "/missing/f", "x", &error));
  EXPECT_NE(error.find("missing"), std::string::npos) << error;
}

TEST(StateWriter, CompletesJobsInOrderAndWakesTheProducer) {
  const std::string dir = temp_dir();
  StateWriter writer;
  std::atomic<int> wakes{0};
  writer.set_wake([&] { wakes++; });
  for (uint64_t i = 1; i <= 3; i++) {
    ASSERT_TRUE(writer.submit(i, dir + "/f", std::to_string(i)));
  }
  ASSERT_TRUE(writer.submit(4, dir + "/no/such/dir", "x"));
  std::vector<uint64_t> tickets;
  std::vector<bool> oks;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (tickets.size() < 4 && std::chrono::steady_clock::now() < deadline) {
    uint64_t ticket = 0;
    bool ok = false;
    std::string error;
    if (writer.poll(&ticket, &ok, &error)) {
      tickets.push_back(ticket);
      oks.push_back(ok);
      EXPECT_EQ(ok, error.empty());
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  EXPECT_EQ(tickets, (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(oks, (std::vector<bool>{true, true, true, false}));
  EXPECT_EQ(read(dir + "/f"), "3");
  EXPECT_EQ(wakes.load(), 4);
}

TEST(StateWriter, RefusesBeyondItsBound) {
  const std::string dir = temp_dir();
  StateWriter writer;
  for (uint32_t i = 0; i < StateWriter::kMaxJobs; i++) {
    ASSERT_TRUE(writer.submit(i, dir + "/f", "x"));
  }
  EXPECT_FALSE(writer.submit(99, dir + "/f", "x"));  // until the producer polls some
  writer.stop();
  uint64_t ticket = 0;
  bool ok = false;
  std::string error;
  ASSERT_TRUE(writer.poll(&ticket, &ok, &error));  // stop() finished what was asked
  EXPECT_TRUE(ok) << error;
  EXPECT_EQ(ticket, 0u);
}

TEST(RevocationFile, RoundTripsAndRefusesDamage) {
  std::vector<std::string> ids;
  std::string error;
  ASSERT_TRUE(decode_revocations(encode_revocations({"a", "b/c", "\"q\""}), ids, error)) << error;
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "b/c", "\"q\""}));
  for (const char* bad : {"", "[]", R"({"version":2,"revoked":[]})", R"({"version":1})",
                          R"({"version":1,"revoked":[1]})", R"({"version":1,"revoked":[""]})",
                          R"({"version":1,"revoked":["a"])",
                          R"({"version":1e999,"revoked":[]})"}) {  // picojson would throw
    EXPECT_FALSE(decode_revocations(bad, ids, error)) << bad;
  }
  const std::string dir = temp_dir();
  ControlFileStore store(dir);
  ASSERT_TRUE(store.load_revocations(ids, error)) << error;  // none yet: empty
  EXPECT_TRUE(ids.empty());
  std::ofstream(store.revocations_path()) << "{broken";
  EXPECT_FALSE(store.load_revocations(ids, error));
  EXPECT_NE(error.find("revocations.json"), std::string::npos) << error;
}

}  // namespace
}  // namespace peregrine::store
