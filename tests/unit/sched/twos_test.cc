// twos: ip_vs_twos_schedule()'s choice, with a fixed seed.
#include <map>

#include "sched_test_util.h"

namespace uvs::sched::test {
namespace {

std::map<std::string, int> counts(TestService& s, int picks, unsigned worker = 0) {
  std::map<std::string, int> n;
  for (int i = 0; i < picks; ++i) ++n[s.pick_name(client(1), worker)];
  return n;
}

// Equal loads: the first draw always wins, so shares follow the draw, which lands on the first
// eligible dest for draws 0..w and on the others for w of total + 1 values.
TEST(PowerOfTwoChoices, EqualLoadsFollowTheWeightedDraw) {
  TestService s("twos");
  s.add("A", 3);
  s.add("B", 2);
  s.add("C", 1);  // C B A, total 6, draws in [0, 6]
  const int picks = 70000;
  auto n = counts(s, picks);
  EXPECT_NEAR(n["C"] / double(picks), 2.0 / 7, 0.01);
  EXPECT_NEAR(n["B"] / double(picks), 2.0 / 7, 0.01);
  EXPECT_NEAR(n["A"] / double(picks), 3.0 / 7, 0.01);
}

TEST(PowerOfTwoChoices, LoadedDestWinsOnlyWhenDrawnTwice) {
  TestService s("twos");
  s.add("A", 1);
  s.add("B", 1);
  s.add("C", 1);  // total 3, draws in [0, 3]: C 2/4, B 1/4, A 1/4
  set_conns(s.dest("C"), 10, 0);
  const int picks = 80000;
  auto n = counts(s, picks);
  EXPECT_NEAR(n["C"] / double(picks), 0.25, 0.01);  // (2/4)^2
  EXPECT_NEAR(n["B"] / double(picks), 0.375, 0.01);
  EXPECT_NEAR(n["A"] / double(picks), 0.375, 0.01);
}

TEST(PowerOfTwoChoices, FixedSeedIsReproducibleAndWorkersDiffer) {
  TestService s1("twos", 0, 2);
  TestService s2("twos", 0, 2);
  for (auto* s : {&s1, &s2})
    for (const char* n : {"A", "B", "C", "D"}) s->add(n, 1);
  const std::string w0 = s1.sequence(40, 0);
  EXPECT_EQ(w0, s2.sequence(40, 0));
  EXPECT_NE(w0, s1.sequence(40, 1));
}

TEST(PowerOfTwoChoices, QuiescedAndOverloadedNeverDrawn) {
  TestService s("twos");
  s.add("A", 1);
  s.add("B", 0);
  s.add("C", 5, /*u_threshold=*/1);
  s.dest("C").bind_conn(ConnKind::kInactive);
  auto n = counts(s, 1000);
  EXPECT_EQ(n["A"], 1000);
  s.set_weight("A", 0);
  EXPECT_EQ(s.pick(), nullptr);
}

}  // namespace
}  // namespace uvs::sched::test
