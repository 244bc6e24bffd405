// deploy/, checked offline: the manifests parse and hold what Kubernetes and operators rely on
// (selectors that match, probes on the real paths and named ports, the policy ConfigMap equal
// to policies/default.yaml), every flag the manifests, the image and the systemd unit pass is
// one the binary knows, and every metric the alerts and the dashboard query is one sendgate
// exports. promtool checks the rules and runs their unit tests as tests of their own
// (tests/CMakeLists.txt).
#include <gmock/gmock.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "service/metrics/catalog.h"

namespace sendgate::testing {
namespace {

using ::testing::Contains;
using ::testing::IsSupersetOf;

std::string Path(const std::string& relative) {
  return std::string(SENDGATE_SOURCE_DIR) + "/" + relative;
}

std::string Read(const std::string& relative) {
  std::ifstream in(Path(relative));
  EXPECT_TRUE(in) << relative;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Every document of every manifest in deploy/kubernetes, by kind then name.
std::map<std::string, std::map<std::string, YAML::Node>> Manifests() {
  std::map<std::string, std::map<std::string, YAML::Node>> manifests;
  for (const auto& entry : std::filesystem::directory_iterator(Path("deploy/kubernetes"))) {
    if (entry.path().extension() != ".yaml") continue;
    for (const YAML::Node& document : YAML::LoadAllFromFile(entry.path().string())) {
      if (!document["kind"] || !document["metadata"]) continue;  // kustomization.yaml
      manifests[document["kind"].as<std::string>()]
               [document["metadata"]["name"].as<std::string>()] = document;
    }
  }
  return manifests;
}

// The flags `sendgate --helpfull` lists.
std::set<std::string> BinaryFlags() {
  std::set<std::string> flags;
  FILE* pipe = popen((std::string(SENDGATE_BINARY) + " --helpfull 2>&1").c_str(), "r");
  char line[4096];
  const std::regex flag(R"(^\s+--([a-z_]+) )");
  while (fgets(line, sizeof(line), pipe) != nullptr) {
    std::cmatch match;
    if (std::regex_search(line, match, flag)) flags.insert(match[1]);
  }
  pclose(pipe);
  return flags;
}

// The command that starts with `directive` in `file`, with its continuation lines (those
// after a line ending in a backslash); empty when there is none.
std::string CommandLine(const std::string& file, const std::string& directive) {
  const std::string text = Read(file);
  const size_t start = text.find("\n" + directive);
  if (start == std::string::npos) return "";
  size_t end = start + 1;
  do {
    end = text.find('\n', end + 1);
  } while (end != std::string::npos && text[end - 1] == '\\');
  return text.substr(start + 1, end - start - 1);
}

// The flag names in `arguments` ("--name=value", "--name"), dashes read as underscores.
std::vector<std::string> FlagNames(const std::vector<std::string>& arguments) {
  std::vector<std::string> names;
  for (const std::string& argument : arguments) {
    absl::string_view rest = argument;
    if (!absl::ConsumePrefix(&rest, "--")) continue;
    std::string name(rest.substr(0, rest.find('=')));
    std::replace(name.begin(), name.end(), '-', '_');
    names.push_back(name);
  }
  return names;
}

// The metric families sendgate exports, from its catalog's exposition.
std::set<std::string> ExportedMetrics() {
  const std::vector<std::string> names = metrics::Catalog().FamilyNames();
  return std::set<std::string>(names.begin(), names.end());
}

// Each sendgate_* name in `text`, without a histogram's _bucket, _count or _sum.
std::set<std::string> QueriedMetrics(const std::string& text) {
  std::set<std::string> names;
  const std::regex metric(R"(sendgate_[a-z_]+)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), metric);
       it != std::sregex_iterator(); ++it) {
    std::string name = it->str();
    for (const char* suffix : {"_bucket", "_count", "_sum"}) {
      if (absl::EndsWith(name, suffix) && !absl::EndsWith(name, "_total")) {
        name = name.substr(0, name.size() - std::string(suffix).size());
      }
    }
    names.insert(name);
  }
  return names;
}

std::map<std::string, int> ContainerPorts(const YAML::Node& container) {
  std::map<std::string, int> ports;
  for (const YAML::Node& port : container["ports"]) {
    ports[port["name"].as<std::string>()] = port["containerPort"].as<int>();
  }
  return ports;
}

bool Selects(const YAML::Node& selector, const YAML::Node& labels) {
  for (const auto& label : selector) {
    const std::string key = label.first.as<std::string>();
    if (!labels[key] || labels[key].as<std::string>() != label.second.as<std::string>()) {
      return false;
    }
  }
  return selector.size() > 0;
}

TEST(DeployTest, TheDeploymentProbesRealPathsOnItsNamedPorts) {
  const auto manifests = Manifests();
  ASSERT_TRUE(manifests.count("Deployment"));
  const YAML::Node deployment = manifests.at("Deployment").at("sendgate");
  const YAML::Node pod = deployment["spec"]["template"];
  EXPECT_TRUE(Selects(deployment["spec"]["selector"]["matchLabels"], pod["metadata"]["labels"]));
  const YAML::Node container = pod["spec"]["containers"][0];
  const std::map<std::string, int> ports = ContainerPorts(container);
  EXPECT_EQ(ports.at("grpc"), 50051);    // the image's --listen
  EXPECT_EQ(ports.at("metrics"), 9464);  // the image's --metrics_listen
  const YAML::Node readiness = container["readinessProbe"]["httpGet"];
  const YAML::Node liveness = container["livenessProbe"]["httpGet"];
  EXPECT_EQ(readiness["path"].as<std::string>(), "/readyz");
  EXPECT_EQ(liveness["path"].as<std::string>(), "/healthz");
  EXPECT_TRUE(ports.count(readiness["port"].as<std::string>()));
  EXPECT_TRUE(ports.count(liveness["port"].as<std::string>()));
  EXPECT_TRUE(container["resources"]["requests"]["cpu"]);
  EXPECT_TRUE(container["resources"]["limits"]["memory"]);
  // Graceful termination: longer than the default --shutdown_grace (5s) and the preStop wait.
  EXPECT_GT(pod["spec"]["terminationGracePeriodSeconds"].as<int>(), 5 + 3);
  EXPECT_TRUE(pod["spec"]["securityContext"]["runAsNonRoot"].as<bool>());
}

TEST(DeployTest, ServicesBudgetAndAutoscalerPointAtTheDeployment) {
  const auto manifests = Manifests();
  const YAML::Node pod = manifests.at("Deployment").at("sendgate")["spec"]["template"];
  const std::map<std::string, int> ports = ContainerPorts(pod["spec"]["containers"][0]);
  for (const auto& [name, service] : manifests.at("Service")) {
    if (name == "redis") continue;
    EXPECT_TRUE(Selects(service["spec"]["selector"], pod["metadata"]["labels"])) << name;
    for (const YAML::Node& port : service["spec"]["ports"]) {
      EXPECT_TRUE(ports.count(port["targetPort"].as<std::string>())) << name;
    }
  }
  const YAML::Node budget = manifests.at("PodDisruptionBudget").at("sendgate");
  EXPECT_TRUE(Selects(budget["spec"]["selector"]["matchLabels"], pod["metadata"]["labels"]));
  const YAML::Node autoscaler = manifests.at("HorizontalPodAutoscaler").at("sendgate");
  EXPECT_EQ(autoscaler["spec"]["scaleTargetRef"]["kind"].as<std::string>(), "Deployment");
  EXPECT_EQ(autoscaler["spec"]["scaleTargetRef"]["name"].as<std::string>(), "sendgate");
  EXPECT_LE(autoscaler["spec"]["minReplicas"].as<int>(),
            autoscaler["spec"]["maxReplicas"].as<int>());
  const YAML::Node monitor = manifests.at("PodMonitor").at("sendgate");
  EXPECT_TRUE(ports.count(monitor["spec"]["podMetricsEndpoints"][0]["port"].as<std::string>()));
  EXPECT_EQ(monitor["spec"]["podMetricsEndpoints"][0]["path"].as<std::string>(), "/metrics");
}

TEST(DeployTest, ThePolicyConfigMapIsTheExamplePolicyAndIsMountedWhereTheImageReadsIt) {
  const auto manifests = Manifests();
  const YAML::Node config_map = manifests.at("ConfigMap").at("sendgate-policy");
  EXPECT_EQ(config_map["data"]["policy.yaml"].as<std::string>(), Read("policies/default.yaml"))
      << "run: bash scripts/policy_configmap.sh";
  const YAML::Node pod = manifests.at("Deployment").at("sendgate")["spec"]["template"]["spec"];
  bool mounted = false;
  for (const YAML::Node& volume : pod["volumes"]) {
    if (volume["configMap"] && volume["configMap"]["name"].as<std::string>() == "sendgate-policy") {
      for (const YAML::Node& mount : pod["containers"][0]["volumeMounts"]) {
        mounted = mounted || (mount["name"].as<std::string>() == volume["name"].as<std::string>() &&
                              mount["mountPath"].as<std::string>() == "/etc/sendgate/policy" &&
                              !mount["subPath"]);
      }
    }
  }
  EXPECT_TRUE(mounted) << "the policy folder, not a subPath (ConfigMap updates reach folders only)";
  EXPECT_THAT(Read("deploy/Dockerfile"), ::testing::HasSubstr("/etc/sendgate/policy/policy.yaml"));
  EXPECT_EQ(config_map["data"]["authz.json"].as<std::string>(), Read("policies/authz.json"))
      << "run: bash scripts/policy_configmap.sh";
}

// The folders `container` mounts, by volume name.
std::map<std::string, std::string> MountPaths(const YAML::Node& container) {
  std::map<std::string, std::string> paths;
  for (const YAML::Node& mount : container["volumeMounts"]) {
    EXPECT_FALSE(mount["subPath"]) << "a subPath mount never sees a rotated Secret";
    paths[mount["name"].as<std::string>()] = mount["mountPath"].as<std::string>();
  }
  return paths;
}

// The value of each "--name=value" flag in `arguments` whose name ends in `_file`.
std::map<std::string, std::string> FileFlags(const std::vector<std::string>& arguments) {
  std::map<std::string, std::string> files;
  const std::regex file_flag(R"(^--([a-z_]+_file)=(.+)$)");
  for (const std::string& argument : arguments) {
    std::smatch match;
    if (std::regex_match(argument, match, file_flag)) files[match[1]] = match[2];
  }
  return files;
}

TEST(DeployTest, TheDeploymentRequiresMutualTlsAndCallerRolesAndAuthenticatesToRedis) {
  const YAML::Node pod = Manifests().at("Deployment").at("sendgate")["spec"]["template"]["spec"];
  const YAML::Node container = pod["containers"][0];
  const std::vector<std::string> args = container["args"].as<std::vector<std::string>>();
  EXPECT_THAT(args, Contains("--require_tls"));
  EXPECT_THAT(args, Contains("--redis_user=sendgate"));
  const std::map<std::string, std::string> files = FileFlags(args);
  for (const char* flag : {"tls_cert_file", "tls_key_file", "tls_client_ca_file",
                           "authz_policy_file", "redis_password_file", "suppression_key_file"}) {
    EXPECT_TRUE(files.count(flag)) << flag;
  }
  // Each file a flag names is in a folder a volume is mounted on.
  const std::map<std::string, std::string> mounts = MountPaths(container);
  for (const auto& [flag, file] : files) {
    bool mounted = false;
    for (const auto& [volume, folder] : mounts) {
      mounted = mounted || absl::StartsWith(file, folder + "/");
    }
    EXPECT_TRUE(mounted) << flag << "=" << file << " is in no mounted volume";
  }
  // Secrets, as Kubernetes mounts them, hold the key material; the authorization policy sits
  // next to the pressure policy (principals only: no secret in it).
  std::map<std::string, std::string> secrets;
  for (const YAML::Node& volume : pod["volumes"]) {
    if (volume["secret"]) {
      secrets[volume["name"].as<std::string>()] = volume["secret"]["secretName"].as<std::string>();
    }
  }
  for (const char* flag : {"tls_key_file", "redis_password_file", "suppression_key_file"}) {
    bool in_secret = false;
    for (const auto& [volume, secret] : secrets) {
      in_secret = in_secret || absl::StartsWith(files.at(flag), mounts.at(volume) + "/");
    }
    EXPECT_TRUE(in_secret) << flag << " must come from a Secret";
  }
  EXPECT_EQ(files.at("authz_policy_file"), "/etc/sendgate/policy/authz.json");
  // kustomization.yaml tells which Secrets to create.
  const std::string kustomization = Read("deploy/kubernetes/kustomization.yaml");
  for (const auto& [volume, secret] : secrets) {
    EXPECT_THAT(kustomization, ::testing::HasSubstr(secret)) << volume;
  }
}

TEST(DeployTest, RedisTakesItsAclFromASecretAndOnlySendgatesPodsReachIt) {
  const auto manifests = Manifests();
  const YAML::Node pod = manifests.at("StatefulSet").at("redis")["spec"]["template"];
  const YAML::Node container = pod["spec"]["containers"][0];
  const std::vector<std::string> args = container["args"].as<std::vector<std::string>>();
  const auto acl = std::find(args.begin(), args.end(), "--aclfile");
  ASSERT_NE(acl, args.end());
  ASSERT_NE(acl + 1, args.end());
  const std::map<std::string, std::string> mounts = MountPaths(container);
  ASSERT_TRUE(mounts.count("acl"));
  EXPECT_TRUE(absl::StartsWith(*(acl + 1), mounts.at("acl") + "/"));
  EXPECT_THAT(Read("deploy/kubernetes/kustomization.yaml"), ::testing::HasSubstr("redis-acl"));
  // The readiness probe runs for real in deploy_redis_redistest; here: it authenticates.
  const std::string probe =
      absl::StrJoin(container["readinessProbe"]["exec"]["command"].as<std::vector<std::string>>(),
                    " ");
  EXPECT_THAT(probe, ::testing::HasSubstr("--user probe"));

  const YAML::Node policy = manifests.at("NetworkPolicy").at("redis")["spec"];
  EXPECT_TRUE(Selects(policy["podSelector"]["matchLabels"], pod["metadata"]["labels"]));
  const YAML::Node sendgate_pod = manifests.at("Deployment").at("sendgate")["spec"]["template"];
  ASSERT_EQ(policy["ingress"].size(), 1u);
  ASSERT_EQ(policy["ingress"][0]["from"].size(), 1u);
  EXPECT_TRUE(Selects(policy["ingress"][0]["from"][0]["podSelector"]["matchLabels"],
                      sendgate_pod["metadata"]["labels"]));
  EXPECT_TRUE(ContainerPorts(container).count(
      policy["ingress"][0]["ports"][0]["port"].as<std::string>()));
}

TEST(DeployTest, KustomizationListsFilesThatExist) {
  const YAML::Node kustomization = YAML::LoadFile(Path("deploy/kubernetes/kustomization.yaml"));
  ASSERT_GT(kustomization["resources"].size(), 0u);
  for (const YAML::Node& resource : kustomization["resources"]) {
    EXPECT_TRUE(std::filesystem::exists(Path("deploy/kubernetes/" + resource.as<std::string>())))
        << resource.as<std::string>();
  }
}

TEST(DeployTest, RedisKeepsAnAppendOnlyFileAndNeverEvicts) {
  const YAML::Node redis = Manifests().at("StatefulSet").at("redis");
  const std::vector<std::string> args =
      redis["spec"]["template"]["spec"]["containers"][0]["args"].as<std::vector<std::string>>();
  const std::string joined = absl::StrJoin(args, " ");
  EXPECT_THAT(joined, ::testing::HasSubstr("--appendonly yes"));
  EXPECT_THAT(joined, ::testing::HasSubstr("--maxmemory-policy noeviction"));
  EXPECT_TRUE(redis["spec"]["volumeClaimTemplates"]);
}

TEST(DeployTest, EveryFlagPassedIsOneTheBinaryKnows) {
  const std::set<std::string> known = BinaryFlags();
  ASSERT_THAT(known, IsSupersetOf({"policy", "redis", "listen", "metrics_listen"}));
  const YAML::Node container =
      Manifests().at("Deployment").at("sendgate")["spec"]["template"]["spec"]["containers"][0];
  for (const std::string& name : FlagNames(container["args"].as<std::vector<std::string>>())) {
    EXPECT_THAT(known, Contains(name)) << "deployment.yaml";
  }
  std::vector<std::string> words;
  const std::regex flag(R"(--[a-z_-]+)");
  for (const std::string& command :
       {CommandLine("deploy/Dockerfile", "ENTRYPOINT "),
        CommandLine("deploy/systemd/sendgate.service", "ExecStart=")}) {
    ASSERT_FALSE(command.empty());
    for (auto it = std::sregex_iterator(command.begin(), command.end(), flag);
         it != std::sregex_iterator(); ++it) {
      words.push_back(it->str());
    }
  }
  ASSERT_FALSE(words.empty());
  for (const std::string& name : FlagNames(words)) EXPECT_THAT(known, Contains(name));
}

TEST(DeployTest, TheImageIsMultiStageBookwormNonRootWithAHealthCheck) {
  const std::string dockerfile = Read("deploy/Dockerfile");
  std::vector<std::string> from;
  std::string user, healthcheck;
  std::set<std::string> exposed;
  for (absl::string_view line : absl::StrSplit(dockerfile, '\n')) {
    if (absl::ConsumePrefix(&line, "FROM ")) from.emplace_back(line);
    if (absl::ConsumePrefix(&line, "USER ")) user = std::string(line);
    if (absl::ConsumePrefix(&line, "HEALTHCHECK ")) healthcheck = std::string(line);
    if (absl::ConsumePrefix(&line, "EXPOSE ")) {
      for (absl::string_view port : absl::StrSplit(line, ' ')) exposed.emplace(port);
    }
    if (absl::ConsumePrefix(&line, "COPY ") && !absl::StartsWith(line, "--from")) {
      const std::string source(line.substr(0, line.find(' ')));
      EXPECT_TRUE(std::filesystem::exists(Path(source))) << "COPY " << source;
    }
  }
  ASSERT_GE(from.size(), 2u);
  for (const std::string& image : from) EXPECT_THAT(image, ::testing::HasSubstr("bookworm"));
  EXPECT_FALSE(user.empty());
  EXPECT_FALSE(absl::StartsWith(user, "0") || absl::StartsWith(user, "root"));
  EXPECT_THAT(dockerfile, ::testing::HasSubstr("curl -fsS http://127.0.0.1:9464/healthz"));
  EXPECT_THAT(exposed, IsSupersetOf({"50051", "9464"}));
}

TEST(DeployTest, TheSystemdUnitRunsUnprivilegedAndReloadsWithSighup) {
  const std::string unit = Read("deploy/systemd/sendgate.service");
  for (const char* section : {"[Unit]", "[Service]", "[Install]"}) {
    EXPECT_THAT(unit, ::testing::HasSubstr(section));
  }
  EXPECT_THAT(unit, ::testing::HasSubstr("\nUser=sendgate\n"));
  EXPECT_THAT(unit, ::testing::HasSubstr("\nExecReload=/bin/kill -HUP $MAINPID\n"));
  EXPECT_THAT(unit, ::testing::HasSubstr("\nExecStart=/usr/local/bin/sendgate "));
}

TEST(DeployTest, AlertsAndDashboardQueryOnlyMetricsSendgateExports) {
  const std::set<std::string> exported = ExportedMetrics();
  ASSERT_THAT(exported, Contains("sendgate_decisions_total"));
  ASSERT_THAT(exported, Contains("sendgate_decision_duration_seconds"));

  const YAML::Node alerts = YAML::LoadFile(Path("deploy/prometheus/alerts.yml"));
  const std::string operations = Read("docs/operations.md");
  std::set<std::string> alert_names;
  for (const YAML::Node& rule : alerts["groups"][0]["rules"]) {
    const std::string name = rule["alert"].as<std::string>();
    alert_names.insert(name);
    for (const std::string& metric : QueriedMetrics(rule["expr"].as<std::string>())) {
      EXPECT_THAT(exported, Contains(metric)) << name;
    }
    // Each alert's runbook is a section of docs/operations.md.
    EXPECT_TRUE(absl::StrContains(operations, "\n### " + name + "\n"))
        << "docs/operations.md has no runbook section \"### " << name << "\"";
  }
  // Each alert has a unit test.
  const std::string tests = Read("deploy/prometheus/alerts_test.yml");
  for (const std::string& name : alert_names) {
    EXPECT_THAT(tests, ::testing::HasSubstr("alertname: " + name + "\n")) << name;
  }

  google::protobuf::Struct dashboard;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(Read("deploy/grafana/sendgate.json"), &dashboard)
          .ok());
  const auto& fields = dashboard.fields();
  EXPECT_FALSE(fields.at("uid").string_value().empty());
  EXPECT_FALSE(fields.at("title").string_value().empty());
  const auto& panels = fields.at("panels").list_value().values();
  ASSERT_GT(panels.size(), 5);
  for (const auto& panel : panels) {
    const auto& p = panel.struct_value().fields();
    EXPECT_TRUE(p.count("gridPos")) << p.at("title").string_value();
    const auto& targets = p.at("targets").list_value().values();
    ASSERT_GT(targets.size(), 0) << p.at("title").string_value();
    for (const auto& target : targets) {
      const std::string expr = target.struct_value().fields().at("expr").string_value();
      for (const std::string& metric : QueriedMetrics(expr)) {
        EXPECT_THAT(exported, Contains(metric)) << p.at("title").string_value();
      }
    }
  }
}

}  // namespace
}  // namespace sendgate::testing
