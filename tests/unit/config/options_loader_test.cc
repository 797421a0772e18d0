#include "src/config/options_loader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace peregrine::config {
namespace {

std::string write_temp(const std::string& text) {
  char path[] = "/tmp/peregrine-config-XXXXXX";
  const int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << text;
  return path;
}

TEST(OptionsLoader, ReadsEveryKey) {
  const std::string path = write_temp(
      "shards = 3\nio = \"epoll\"\nlog_level = \"debug\"\n"
      "listen = [\"mqtt://127.0.0.1:1999\", \"mqtt://[::1]:2000\"]\n"
      "[limits]\nmax_packet_size = 4096\nconnect_timeout_ms = 500\n"
      "outbound_buffer_bytes = 65536\n");
  Options options;
  std::string error;
  ASSERT_TRUE(load_config_file(path, options, &error)) << error;
  EXPECT_EQ(options.shards, 3);
  EXPECT_EQ(options.io, "epoll");
  EXPECT_EQ(options.log_level, "debug");
  EXPECT_EQ(options.listen.size(), 2u);
  EXPECT_EQ(options.limits.max_packet_size, 4096u);
  EXPECT_EQ(options.limits.connect_timeout_ms, 500u);
  EXPECT_EQ(options.limits.outbound_buffer_bytes, 65536u);
  EXPECT_TRUE(validate_options(options, &error)) << error;
  unlink(path.c_str());
}

TEST(OptionsLoader, ReadsTransportSections) {
  const std::string path = write_temp(
      "listen = [\"mqtts://0.0.0.0:8883\", \"wss://0.0.0.0:8884/ws\", \"https://[::1]:443\"]\n"
      "[tls]\ncert_file = \"s.pem\"\nkey_file = \"s.key\"\nca_file = \"ca.pem\"\n"
      "client_auth = \"required\"\nidentity = \"client_id\"\nidentity_field = \"san\"\n"
      "min_version = \"1.3\"\nciphers = \"TLS13-AES128-GCM-SHA256\"\n"
      "session_tickets = false\nhandshake_timeout_ms = 2500\n"
      "[websocket]\nmax_frame_bytes = 4096\nmax_message_bytes = 8192\n"
      "[http]\nmax_head_bytes = 4096\nmax_body_bytes = 100\nrequest_timeout_ms = 900\n"
      "idle_timeout_ms = 5000\nsse_keepalive_ms = 1000\n");
  Options options;
  std::string error;
  ASSERT_TRUE(load_config_file(path, options, &error)) << error;
  EXPECT_EQ(options.listen.size(), 3u);
  EXPECT_EQ(options.tls.cert_file, "s.pem");
  EXPECT_EQ(options.tls.key_file, "s.key");
  EXPECT_EQ(options.tls.ca_file, "ca.pem");
  EXPECT_EQ(options.tls.client_auth, "required");
  EXPECT_EQ(options.tls.identity, "client_id");
  EXPECT_EQ(options.tls.identity_field, "san");
  EXPECT_EQ(options.tls.min_version, "1.3");
  EXPECT_EQ(options.tls.ciphers, "TLS13-AES128-GCM-SHA256");
  EXPECT_FALSE(options.tls.session_tickets);
  EXPECT_EQ(options.tls.handshake_timeout_ms, 2500u);
  EXPECT_EQ(options.websocket.max_frame_bytes, 4096u);
  EXPECT_EQ(options.websocket.max_message_bytes, 8192u);
  EXPECT_EQ(options.http.max_head_bytes, 4096u);
  EXPECT_EQ(options.http.max_body_bytes, 100u);
  EXPECT_EQ(options.http.request_timeout_ms, 900u);
  EXPECT_EQ(options.http.idle_timeout_ms, 5000u);
  EXPECT_EQ(options.http.sse_keepalive_ms, 1000u);
  // The files do not exist: validation names the key, where it was set, and why.
  Origins origins;
  Options again;
  ASSERT_TRUE(load_config_file(path, again, &error, &origins)) << error;
  EXPECT_FALSE(validate_options(again, &error, &origins));
  EXPECT_EQ(error, path + ":3:13: 'tls.cert_file': cannot read 's.pem': No such file or "
                          "directory");
  unlink(path.c_str());
}

TEST(OptionsLoader, ReadsNestedAuthSections) {
  const std::string path = write_temp(
      "[auth]\nallow_anonymous = false\npassword_file = \"pw\"\n"
      "[auth.jwt]\nleeway_s = 30\nissuer = \"me\"\naudience = \"us\"\ncache_entries = 10\n"
      "[[auth.jwt.keys]]\nkid = \"a\"\nalg = \"EdDSA\"\nfile = \"a.pem\"\n"
      "[[auth.jwt.keys]]\nalg = \"HS256\"\nsecret_file = \"s\"\n");
  Options options;
  std::string error;
  ASSERT_TRUE(load_config_file(path, options, &error)) << error;
  EXPECT_EQ(options.auth.allow_anonymous, AnonymousAccess::kRefused);
  EXPECT_EQ(options.auth.password_file, "pw");
  EXPECT_EQ(options.auth.jwt.leeway_s, 30u);
  EXPECT_EQ(options.auth.jwt.issuer, "me");
  EXPECT_EQ(options.auth.jwt.audience, "us");
  EXPECT_EQ(options.auth.jwt.cache_entries, 10u);
  ASSERT_EQ(options.auth.jwt.keys.size(), 2u);
  EXPECT_EQ(options.auth.jwt.keys[0].kid, "a");
  EXPECT_EQ(options.auth.jwt.keys[0].file, "a.pem");
  EXPECT_EQ(options.auth.jwt.keys[1].secret_file, "s");
  unlink(path.c_str());
  for (const char* bad : {"[[auth.jwt.keys]]\nalg = \"none\"\nfile = \"x\"\n",
                          "[[auth.jwt.keys]]\nalg = \"EdDSA\"\n",
                          "[[auth.jwt.keys]]\nalg = \"EdDSA\"\nsecret_file = \"x\"\n",
                          "[[auth.jwt.keys]]\nfile = \"x\"\nurl = \"https://x\"\n",
                          "[auth]\nallow_anonymous = \"yes\"\n", "[auth.jwt]\nbogus = 1\n"}) {
    const std::string p = write_temp(bad);
    Options o;
    EXPECT_FALSE(load_config_file(p, o, &error)) << bad;
    EXPECT_NE(error.find(p), std::string::npos) << error;
    unlink(p.c_str());
  }
}

TEST(OptionsLoader, AMissingFileSaysWhyInWords) {
  Options options;
  std::string error;
  EXPECT_FALSE(load_config_file("/nonexistent/peregrine.toml", options, &error));
  EXPECT_EQ(error, "/nonexistent/peregrine.toml: cannot read the configuration file: No such "
                   "file or directory");
}

TEST(OptionsLoader, ListenersAndLogLevelAreCheckedWhereTheyStand) {
  const std::string path = write_temp(
      "log_level = \"INFO\"\nlisten = [\"mqtt://127.0.0.1:1\",\n  \"tcp://x:1\"]\n");
  Options options;
  Origins origins;
  std::string error;
  ASSERT_TRUE(load_config_file(path, options, &error, &origins)) << error;
  EXPECT_EQ(options.log_level, "info");  // without case, stored as the level's name
  EXPECT_FALSE(validate_options(options, &error, &origins));
  EXPECT_EQ(error.rfind(path + ":3:3: bad listener 'tcp://x:1'", 0), 0u) << error;
  const std::string loud = write_temp("\nlog_level = \"loud\"\n");
  EXPECT_FALSE(load_config_file(loud, options, &error));
  EXPECT_EQ(error, loud + ":2:13: 'log_level' is trace, debug, info, warn, warning, error or "
                          "off, not 'loud'");
  unlink(path.c_str());
  unlink(loud.c_str());
}

TEST(OptionsLoader, EveryKeyInTheTableReadsAValueOfItsKind) {
  // One table drives the loader: each integer, boolean, string and choice key takes a
  // value of its kind, and refuses one of another kind at the key's line.
  for (const ConfigKey& key : config_keys()) {
    if (key.kind == KeyKind::kCustom) {
      continue;
    }
    const size_t dot = key.name.find('.');
    const std::string section =
        dot == std::string_view::npos ? "" : "[" + std::string(key.name.substr(0, dot)) + "]\n";
    const std::string leaf(dot == std::string_view::npos ? key.name : key.name.substr(dot + 1));
    std::string good;
    switch (key.kind) {
      case KeyKind::kInteger: good = std::to_string(key.check ? 128 : key.low); break;
      case KeyKind::kBoolean: good = "true"; break;
      case KeyKind::kString: good = "\"x\""; break;
      case KeyKind::kChoice: good = "\"" + std::string(key.choices.back()) + "\""; break;
      case KeyKind::kCustom: break;
    }
    const std::string ok = write_temp(section + leaf + " = " + good + "\n");
    Options options;
    std::string error;
    EXPECT_TRUE(load_config_file(ok, options, &error)) << key.name << ": " << error;
    const std::string bad = write_temp(section + leaf + " = [1]\n");
    EXPECT_FALSE(load_config_file(bad, options, &error)) << key.name;
    EXPECT_NE(error.find("'" + std::string(key.name) + "'"), std::string::npos) << error;
    EXPECT_EQ(find_config_key(key.name), &key);
    unlink(ok.c_str());
    unlink(bad.c_str());
  }
}

TEST(OptionsLoader, TransportValuesAreChecked) {
  for (const char* text : {"[tls]\nclient_auth = \"maybe\"\n", "[tls]\nidentity = \"cn\"\n",
                           "[tls]\nidentity_field = \"dn\"\n", "[tls]\nmin_version = \"1.1\"\n",
                           "[tls]\nsession_tickets = 1\n", "[tls]\nbogus = 1\n",
                           "[websocket]\nmax_frame_bytes = 10\n", "[http]\nmax_head_bytes = 1\n",
                           "[http]\nnope = 1\n"}) {
    const std::string path = write_temp(text);
    Options options;
    std::string error;
    EXPECT_FALSE(load_config_file(path, options, &error)) << text;
    EXPECT_NE(error.find(path + ":"), std::string::npos) << error;
    unlink(path.c_str());
  }
  // A TLS listener without a certificate is refused before start-up.
  Options options;
  options.listen = {"mqtts://127.0.0.1:8883"};
  std::string error;
  EXPECT_FALSE(validate_options(options, &error));
  EXPECT_NE(error.find("cert_file"), std::string::npos) << error;
}

TEST(OptionsLoader, UnknownKeyNamesFileAndLine) {
  const std::string path = write_temp("shards = 2\n\nbogus = 1\n");
  Options options;
  std::string error;
  EXPECT_FALSE(load_config_file(path, options, &error));
  EXPECT_EQ(error, path + ":3:1: unknown key 'bogus'");
  unlink(path.c_str());
}

TEST(OptionsLoader, UnknownLimitsKeyAndWrongTypeAreErrors) {
  const std::string path = write_temp("[limits]\nmax_packet_size = \"big\"\n");
  Options options;
  std::string error;
  EXPECT_FALSE(load_config_file(path, options, &error));
  EXPECT_NE(error.find(path + ":2:"), std::string::npos) << error;
  const std::string path2 = write_temp("[limits]\nnope = 1\n");
  EXPECT_FALSE(load_config_file(path2, options, &error));
  EXPECT_NE(error.find(":2:1: unknown key 'limits.nope'"), std::string::npos) << error;
  unlink(path.c_str());
  unlink(path2.c_str());
}

TEST(OptionsLoader, PinShardsIsOffUnlessTheFileTurnsItOn) {
  Options options;
  ASSERT_FALSE(options.pin_shards);
  const std::string on = write_temp("pin_shards = true\n");
  std::string error;
  ASSERT_TRUE(load_config_file(on, options, &error)) << error;
  EXPECT_TRUE(options.pin_shards);
  const std::string bad = write_temp("pin_shards = 1\n");
  Options fresh;
  EXPECT_FALSE(load_config_file(bad, fresh, &error));
  EXPECT_NE(error.find(bad + ":1:14: 'pin_shards' expects true or false"), std::string::npos)
      << error;
  EXPECT_FALSE(fresh.pin_shards);
  unlink(on.c_str());
  unlink(bad.c_str());
}

TEST(OptionsLoader, RehomePublishersTakesABooleanOnly) {
  const std::string off = write_temp("rehome_publishers = false\n");
  Options options;
  std::string error;
  ASSERT_TRUE(options.rehome_publishers);  // on unless the file says otherwise
  ASSERT_TRUE(load_config_file(off, options, &error)) << error;
  EXPECT_FALSE(options.rehome_publishers);
  // A string or a number is refused with where it is, not read as "true".
  for (const char* text :
       {"rehome_publishers = \"no\"\n", "shards = 2\nrehome_publishers = 0\n"}) {
    const std::string path = write_temp(text);
    Options fresh;
    EXPECT_FALSE(load_config_file(path, fresh, &error)) << text;
    EXPECT_NE(error.find("'rehome_publishers' expects true or false"), std::string::npos)
        << error;
    EXPECT_EQ(error.rfind(path + ":", 0), 0u) << error;
    EXPECT_TRUE(fresh.rehome_publishers);
    unlink(path.c_str());
  }
  unlink(off.c_str());
}

TEST(OptionsLoader, SyntaxErrorHasLine) {
  const std::string path = write_temp("shards = 2\nio = \n");
  Options options;
  std::string error;
  EXPECT_FALSE(load_config_file(path, options, &error));
  EXPECT_EQ(error.rfind(path + ":2:", 0), 0u) << error;
  unlink(path.c_str());
}

TEST(OptionsLoader, FlagsOverrideTheFile) {
  const std::string path = write_temp("shards = 3\nlisten = [\"mqtt://127.0.0.1:1\"]\n");
  std::string config_flag = "--config=" + path;
  char prog[] = "peregrine";
  char shards[] = "--shards";
  char two[] = "2";
  char listen[] = "--listen";
  char url[] = "mqtt://127.0.0.1:2";
  char* argv[] = {prog, config_flag.data(), shards, two, listen, url};
  Options options;
  EXPECT_FALSE(load_options(6, argv, options).has_value());
  EXPECT_EQ(options.shards, 2);
  ASSERT_EQ(options.listen.size(), 1u);
  EXPECT_EQ(options.listen[0], "mqtt://127.0.0.1:2");
  unlink(path.c_str());
}

TEST(OptionsLoader, BadValuesExitTwo) {
  char prog[] = "peregrine";
  char io[] = "--io=kqueue";
  char* argv[] = {prog, io};
  Options options;
  EXPECT_EQ(load_options(2, argv, options), 2);
  char shards[] = "--shards=0";
  char* argv2[] = {prog, shards};
  Options options2;
  EXPECT_EQ(load_options(2, argv2, options2), 2);
  char listen[] = "--listen=tcp://x:1";
  char* argv3[] = {prog, listen};
  Options options3;
  EXPECT_EQ(load_options(2, argv3, options3), 2);
}


// limits_profile = "cloudflare" replaces the defaults with Cloudflare Pub/Sub's limits,
// wherever it stands in the file; a [limits] key the file sets still wins.
TEST(OptionsLoader, TheCloudflareProfileSetsItsLimitsAndTheFileStillWins) {
  const std::string path = write_temp(
      "[limits]\nmax_client_id_length = 64\n\n"
      "[auth]\nallow_anonymous = true\n");
  // (TOML puts a top-level key before the first table; the profile is applied before
  // any key is read, so [limits] wins whichever the reader meets first.)
  const std::string file = write_temp(
      "limits_profile = \"cloudflare\"\n[limits]\nmax_client_id_length = 64\n");
  Options options;
  std::string error;
  ASSERT_TRUE(load_config_file(file, options, &error)) << error;
  EXPECT_EQ(options.limits_profile, "cloudflare");
  EXPECT_EQ(options.limits.max_client_id_length, 64u);  // the file's own
  EXPECT_EQ(options.limits.max_username_length, 32u);
  EXPECT_EQ(options.limits.max_password_length, 4096u);
  EXPECT_EQ(options.limits.max_topic_depth, 8u);
  EXPECT_EQ(options.limits.max_topic_length, 65535u);
  EXPECT_EQ(options.limits.max_packets_per_second, 10u);
  EXPECT_EQ(options.limits.max_packet_size, 65536u);
  EXPECT_EQ(options.limits.min_keep_alive, 10u);
  EXPECT_EQ(options.limits.connect_timeout_ms, 10'000u);
  EXPECT_EQ(options.limits.max_session_expiry, 7u * 24 * 3600);
  EXPECT_EQ(options.auth.max_revocations, 10'000u);
  EXPECT_TRUE(validate_options(options, &error)) << error;

  Options plain;
  ASSERT_TRUE(load_config_file(path, plain, &error)) << error;
  EXPECT_EQ(plain.limits.max_username_length, 65535u);  // the defaults: generous
  EXPECT_EQ(plain.limits.max_packets_per_second, 0u);
  EXPECT_EQ(plain.limits.max_topic_depth, 0u);

  const std::string unknown = write_temp("limits_profile = \"aws\"\n");
  Options other;
  EXPECT_FALSE(load_config_file(unknown, other, &error));
  EXPECT_NE(error.find(":1:"), std::string::npos) << error;
  EXPECT_NE(error.find("limits_profile"), std::string::npos) << error;
  for (const std::string& f : {path, file, unknown}) {
    unlink(f.c_str());
  }
}

TEST(OptionsLoader, AMinimumKeepAliveAboveTheMaximumIsRefused) {
  const std::string path = write_temp("[limits]\nmin_keep_alive = 90\nmax_keep_alive = 60\n");
  Options options;
  std::string error;
  ASSERT_TRUE(load_config_file(path, options, &error)) << error;
  EXPECT_FALSE(validate_options(options, &error));
  EXPECT_NE(error.find("min_keep_alive"), std::string::npos) << error;
  unlink(path.c_str());
}

}  // namespace
}  // namespace peregrine::config
