// sendgatectl's policy diff: rules matched by id or name, lists of names as sets.
#include "service/ctl/policy_diff.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sendgate::ctl {
namespace {

std::vector<std::string> Lines(const std::string& before, const std::string& after) {
  std::vector<std::string> lines;
  for (const PolicyChange& change : DiffPolicies(YAML::Load(before), YAML::Load(after))) {
    lines.push_back(ChangeLine(change));
  }
  return lines;
}

TEST(PolicyDiffTest, TheSamePolicyHasNoDifference) {
  EXPECT_TRUE(Lines("caps: [{id: a, limit: 3}]\n", "caps:\n  - limit: 3\n    id: a\n").empty());
}

TEST(PolicyDiffTest, RulesAreMatchedByIdWhateverTheirOrder) {
  EXPECT_THAT(
      Lines("caps: [{id: a, limit: 3}, {id: b, limit: 1}]",
            "caps: [{id: new, limit: 9}, {id: b, limit: 2}, {id: a, limit: 3}]"),
      ::testing::ElementsAre("~ caps[b].limit: 1 -> 2", "+ caps[new]: {id: new, limit: 9}"));
  EXPECT_THAT(Lines("caps: [{id: a, limit: 3, window: 7d}]", "caps: [{id: a, limit: 3}]"),
              ::testing::ElementsAre("- caps[a].window: 7d"));
}

TEST(PolicyDiffTest, ListsOfNamesAreComparedAsSets) {
  EXPECT_THAT(Lines("channels: [email, sms]", "channels: [sms, push, email]"),
              ::testing::ElementsAre("+ channels: push"));
  EXPECT_THAT(Lines("version: a\nmax_delay: 7d", "version: b"),
              ::testing::ElementsAre("- max_delay: 7d", "~ version: a -> b"));
}

TEST(PolicyDiffTest, ListsWithoutIdsAreComparedByPosition) {
  EXPECT_THAT(Lines("w: [{from: 8, to: 20}]", "w: [{from: 9, to: 20}, {from: 21, to: 22}]"),
              ::testing::ElementsAre("~ w[0].from: 8 -> 9", "+ w[1]: {from: 21, to: 22}"));
}

}  // namespace
}  // namespace sendgate::ctl
