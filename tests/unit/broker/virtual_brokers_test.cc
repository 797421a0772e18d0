#include "src/broker/virtual_brokers.h"

#include <gtest/gtest.h>

#include "src/mqtt/scope.h"

namespace peregrine::broker {
namespace {

VirtualBrokers two_brokers() {
  VirtualBrokers brokers;
  std::string why;
  EXPECT_TRUE(brokers.add_namespace({"acme", ""}, &why)) << why;
  EXPECT_TRUE(brokers.add_broker({"sensors", "acme", "", {"sensors.acme.example", "*.fleet.example"}}, &why))
      << why;
  EXPECT_TRUE(brokers.add_broker({"staging", "acme", "", {"Staging.Acme.Example"}}, &why)) << why;
  return brokers;
}

TEST(VirtualBrokers, ChosenByListenerThenSniThenHost) {
  VirtualBrokers brokers = two_brokers();
  const VirtualBroker* sensors = brokers.find("sensors.acme");
  const VirtualBroker* staging = brokers.find("staging.acme");
  ASSERT_NE(sensors, nullptr);
  ASSERT_NE(staging, nullptr);
  EXPECT_EQ(sensors->scope, mqtt::make_scope("sensors.acme"));
  EXPECT_EQ(brokers.choose("staging.acme", "sensors.acme.example", "").broker, staging);
  EXPECT_EQ(brokers.choose("", "sensors.acme.example", "staging.acme.example").broker, sensors);
  EXPECT_EQ(brokers.choose("", "", "staging.acme.example:443").broker, staging);  // case, port
  EXPECT_EQ(brokers.choose("", "unknown.example", "STAGING.acme.example").broker, staging);
  const BrokerChoice none = brokers.choose("", "unknown.example", "");
  EXPECT_FALSE(none.refused);
  EXPECT_EQ(none.broker, nullptr);  // the default broker
  brokers.set_refuse_unmatched(true);
  EXPECT_TRUE(brokers.choose("", "", "").refused);
  EXPECT_TRUE(brokers.choose("gone.acme", "", "").refused);  // a listener's broker deleted
}

TEST(VirtualBrokers, AWildcardCoversSubdomainsNotItsOwnName) {
  VirtualBrokers brokers = two_brokers();
  const VirtualBroker* sensors = brokers.find("sensors.acme");
  EXPECT_EQ(brokers.by_hostname("a.fleet.example"), sensors);
  EXPECT_EQ(brokers.by_hostname("a.b.fleet.example"), sensors);
  EXPECT_EQ(brokers.by_hostname("fleet.example"), nullptr);
  EXPECT_EQ(brokers.by_hostname("xfleet.example"), nullptr);
}

TEST(VirtualBrokers, RefusesBadOrRepeatedNames) {
  VirtualBrokers brokers = two_brokers();
  std::string why;
  EXPECT_FALSE(brokers.add_namespace({"acme", ""}, &why));
  EXPECT_FALSE(brokers.add_namespace({"Bad_Name", ""}, &why));
  EXPECT_FALSE(brokers.add_namespace({"-x", ""}, &why));
  EXPECT_FALSE(brokers.add_broker({"sensors", "acme", "", {}}, &why));  // taken
  EXPECT_FALSE(brokers.add_broker({"other", "nowhere", "", {}}, &why));  // no namespace
  EXPECT_FALSE(brokers.add_broker({"a/b", "acme", "", {}}, &why));  // no '/' in a scope
  EXPECT_FALSE(brokers.add_broker({"other", "acme", "", {"sensors.acme.example"}}, &why));
  EXPECT_FALSE(brokers.add_broker({"other", "acme", "", {"*.*.example"}}, &why));
  EXPECT_FALSE(brokers.add_broker({"other", "acme", "", {"x..example"}}, &why));
  EXPECT_TRUE(brokers.add_broker({"other", "acme", "", {"*.other.example"}}, &why)) << why;
}

TEST(VirtualBrokers, MadeFromOptionsWithListenersChecked) {
  Options options;
  options.namespaces.push_back({"acme", ""});
  options.brokers.push_back({"sensors", "acme", "", {"sensors.example"}});
  options.listen = {"mqtt://127.0.0.1:1883?broker=sensors.acme"};
  std::string why;
  auto brokers = make_virtual_brokers(options, &why);
  ASSERT_NE(brokers, nullptr) << why;
  EXPECT_FALSE(brokers->refuse_unmatched());
  options.listen = {"mqtt://127.0.0.1:1883?broker=nobody.acme"};
  EXPECT_EQ(make_virtual_brokers(options, &why), nullptr);
  EXPECT_NE(why.find("nobody.acme"), std::string::npos);
  options.listen.clear();
  options.unmatched_broker = "refuse";
  brokers = make_virtual_brokers(options, &why);
  ASSERT_NE(brokers, nullptr);
  EXPECT_TRUE(brokers->refuse_unmatched());
}

TEST(VirtualBrokers, TheApisSetRoundTripsAndStaysBehindTheConfigs) {
  TenantSet made;
  made.namespaces.push_back({"acme", "ours", false});
  made.brokers.push_back({"a", "acme", "first", {"a.example", "*.a.example"}, false});
  made.brokers.push_back({"b", "acme", "", {}, false});
  TenantSet back;
  std::string why;
  ASSERT_TRUE(decode_tenants(encode_tenants(made), back, why)) << why;
  EXPECT_EQ(encode_tenants(back), encode_tenants(made));
  for (const std::string bad : {"", "[]", "{\"version\":2,\"namespaces\":[],\"brokers\":[]}",
                                 "{\"version\":1,\"namespaces\":[{}],\"brokers\":[]}",
                                 "{\"version\":1,\"namespaces\":[],\"brokers\":[{\"name\":\"x\"}]}",
                                 "{\"version\":333333333333333.333e33333}"}) {  // would throw
    EXPECT_FALSE(decode_tenants(bad, back, why)) << bad;
  }
  // The config's brokers win a name or hostname; the API's that clash are left out.
  TenantSet configured;
  configured.namespaces.push_back({"acme", "", true});
  configured.brokers.push_back({"a", "acme", "", {"other.example"}, true});
  std::vector<std::string> skipped;
  auto directory = build_virtual_brokers(configured, made, false, &why, &skipped);
  ASSERT_NE(directory, nullptr) << why;
  EXPECT_EQ(skipped.size(), 2u);  // namespace acme, broker a.acme
  EXPECT_NE(directory->find("b.acme"), nullptr);
  EXPECT_TRUE(directory->find("a.acme")->spec.from_config);
  EXPECT_EQ(directory->by_hostname("a.example"), nullptr);
}

}  // namespace
}  // namespace peregrine::broker
