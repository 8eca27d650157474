// XdpSteering's maps when they fill (issue 11, defect 1): a change that does not fit is
// refused whole with ENOMEM and changes nothing; removals are always applied, so the maps
// recover when the table shrinks; references shared by two owners keep a key until both go.
// Real BPF maps (as root), nothing attached: the maps exist once the object is loaded.
#include "io/xdp_steering.h"
#include "model/service.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace uvs::io {
namespace {

InetAddr addr(const std::string& text) { return *InetAddr::parse(text); }
SteerL4 tcp(const std::string& ip, uint16_t port) { return SteerL4{addr(ip), kProtoTcp, port}; }

class XdpSteeringCapacityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (BPF maps)";
    XdpSteeringConfig config;
    config.object_path = std::string(UVS_BUILD_DIR) + "/bpf/steer.bpf.o";
    config.max_services = 4;
    config.max_nat_replies = 4;
    config.max_local_addrs = 2;
    std::string error;
    steering_ = XdpSteering::create(config, &error);
    ASSERT_NE(steering_, nullptr) << error;
  }

  SteerDelta add_services(int from, int to) {
    SteerDelta d;
    for (int i = from; i < to; ++i) d.services_added.push_back(tcp("10.9.0." + std::to_string(i), 80));
    return d;
  }

  std::unique_ptr<XdpSteering> steering_;
};

TEST_F(XdpSteeringCapacityTest, MapsAreSizedFromTheConfig) {
  SteerCapacity c = steering_->capacity();
  EXPECT_EQ(c.services, 4u);
  EXPECT_EQ(c.nat_replies, 4u);
  EXPECT_EQ(c.local_addrs, 2u);
  EXPECT_EQ(c.frag_addrs, 8u);
}

TEST_F(XdpSteeringCapacityTest, AChangeThatDoesNotFitIsRefusedWholeAndChangesNothing) {
  std::string error;
  ASSERT_EQ(steering_->apply(add_services(1, 4), &error), 0) << error;
  // Two more where one fits: neither goes in.
  EXPECT_EQ(steering_->apply(add_services(4, 6), &error), ENOMEM);
  EXPECT_NE(error.find("uvs_vips is full"), std::string::npos) << error;
  SteerSet maps = steering_->read_maps();
  EXPECT_EQ(maps.services.size(), 3u);
  EXPECT_EQ(maps.services, steering_->desired().services);
  EXPECT_EQ(steering_->read_fragment_addrs().size(), 3u);
  // A removal beside the refused addition is not applied either: the caller's table is unchanged.
  SteerDelta mixed = add_services(4, 7);
  mixed.services_removed.push_back(tcp("10.9.0.1", 80));
  EXPECT_EQ(steering_->apply(mixed, &error), ENOMEM);
  EXPECT_EQ(steering_->read_maps().services.size(), 3u);
  // The one that fits does.
  ASSERT_EQ(steering_->apply(add_services(4, 5), &error), 0) << error;
  EXPECT_EQ(steering_->read_maps().services.size(), 4u);
}

TEST_F(XdpSteeringCapacityTest, RemovalsAreAppliedFirstAndTheMapsRecoverWhenTheTableShrinks) {
  std::string error;
  ASSERT_EQ(steering_->apply(add_services(1, 5), &error), 0) << error;
  EXPECT_EQ(steering_->apply(add_services(5, 6), &error), ENOMEM);
  // Delete two, add two in one change: removals make the room first.
  SteerDelta d = add_services(5, 7);
  d.services_removed = {tcp("10.9.0.1", 80), tcp("10.9.0.2", 80)};
  ASSERT_EQ(steering_->apply(d, &error), 0) << error;
  SteerSet maps = steering_->read_maps();
  ASSERT_EQ(maps.services.size(), 4u);
  EXPECT_EQ(maps.services.front(), tcp("10.9.0.3", 80));
  // A change of removals only always goes through, even with every map full.
  SteerDelta shrink;
  for (int i = 3; i < 7; ++i) shrink.services_removed.push_back(tcp("10.9.0." + std::to_string(i), 80));
  ASSERT_EQ(steering_->apply(shrink, &error), 0) << error;
  EXPECT_TRUE(steering_->read_maps().services.empty());
  EXPECT_TRUE(steering_->read_fragment_addrs().empty());
  ASSERT_EQ(steering_->apply(add_services(10, 14), &error), 0) << error;
  EXPECT_EQ(steering_->read_maps().services.size(), 4u);
}

TEST_F(XdpSteeringCapacityTest, SharedRealServersStayUntilTheLastReference) {
  std::string error;
  SteerDelta two;
  two.nat_replies_added = {tcp("172.16.0.1", 8080), tcp("172.16.0.1", 8080)};
  ASSERT_EQ(steering_->apply(two, &error), 0) << error;
  EXPECT_EQ(steering_->read_maps().nat_replies.size(), 1u);
  SteerDelta one_less;
  one_less.nat_replies_removed = {tcp("172.16.0.1", 8080)};
  ASSERT_EQ(steering_->apply(one_less, &error), 0) << error;
  EXPECT_EQ(steering_->read_maps().nat_replies.size(), 1u);
  EXPECT_EQ(steering_->read_fragment_addrs().size(), 1u);
  ASSERT_EQ(steering_->apply(one_less, &error), 0) << error;
  EXPECT_TRUE(steering_->read_maps().nat_replies.empty());
  EXPECT_TRUE(steering_->read_fragment_addrs().empty());
  // A key removed and added by one change (an edit) stays, and costs no room.
  for (int i = 1; i <= 4; ++i) {
    SteerDelta add;
    add.nat_replies_added = {tcp("172.16.0." + std::to_string(i), 8080)};
    ASSERT_EQ(steering_->apply(add, &error), 0) << error;
  }
  SteerDelta edit;
  edit.nat_replies_removed = {tcp("172.16.0.4", 8080)};
  edit.nat_replies_added = {tcp("172.16.0.4", 8080)};
  ASSERT_EQ(steering_->apply(edit, &error), 0) << error;
  EXPECT_EQ(steering_->read_maps().nat_replies.size(), 4u);
}

TEST_F(XdpSteeringCapacityTest, ASyncThatDoesNotFitChangesNothing) {
  std::string error;
  ASSERT_EQ(steering_->apply(add_services(1, 3), &error), 0) << error;
  SteerSet big;
  for (int i = 0; i < 5; ++i) big.services.push_back(tcp("10.8.0." + std::to_string(i), 80));
  EXPECT_FALSE(steering_->sync(big, &error));
  EXPECT_EQ(steering_->read_maps().services.size(), 2u);
  big.services.pop_back();
  ASSERT_TRUE(steering_->sync(big, &error)) << error;
  EXPECT_EQ(steering_->read_maps().services, steering_->desired().services);
  EXPECT_EQ(steering_->read_maps().services.size(), 4u);
}

}  // namespace
}  // namespace uvs::io
