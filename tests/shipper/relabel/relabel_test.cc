#include "shipper/relabel/relabel.h"

#include <gtest/gtest.h>

#include <string>

namespace logq::shipper {
namespace {

using Labels = std::map<std::string, std::string, std::less<>>;

std::vector<RelabelConfig> MustParse(const std::string& yaml) {
  auto r = ParseRelabelConfigs(YAML::Load(yaml));
  EXPECT_TRUE(r.ok()) << r.status().ToString() << "\n" << yaml;
  return r.ok() ? std::move(r).value() : std::vector<RelabelConfig>{};
}

struct Case {
  std::string name;
  std::string rules;
  Labels in;
  bool kept;
  Labels out;  // checked only when kept
};

class RelabelTableTest : public ::testing::TestWithParam<Case> {};

TEST_P(RelabelTableTest, Applies) {
  const Case& c = GetParam();
  auto rules = MustParse(c.rules);
  Labels labels = c.in;
  EXPECT_EQ(Relabel(rules, labels), c.kept);
  if (c.kept) {
    EXPECT_EQ(labels, c.out);
  }
}

const Labels kABC = {{"a", "foo"}, {"b", "bar"}, {"c", "baz"}};

INSTANTIATE_TEST_SUITE_P(
    Prometheus, RelabelTableTest,
    ::testing::Values(
        Case{"replace_default_copies_joined_sources",
             "- source_labels: [a, b]\n  target_label: d\n", kABC, true,
             {{"a", "foo"}, {"b", "bar"}, {"c", "baz"}, {"d", "foo;bar"}}},
        Case{"replace_regex_groups_and_separator",
             "- source_labels: [a, b]\n  separator: '|'\n  regex: 'f(.*)\\|b(.*)'\n"
             "  target_label: d\n  replacement: '${1}-$2'\n",
             kABC, true, {{"a", "foo"}, {"b", "bar"}, {"c", "baz"}, {"d", "oo-ar"}}},
        Case{"replace_is_fully_anchored_no_match_no_change",
             "- source_labels: [a]\n  regex: 'o+'\n  target_label: d\n", kABC, true, kABC},
        Case{"replace_empty_result_deletes_target",
             "- source_labels: [a]\n  regex: 'foo'\n  target_label: b\n  replacement: ''\n", kABC,
             true, {{"a", "foo"}, {"c", "baz"}}},
        Case{"replace_missing_source_is_empty_string",
             "- source_labels: [zzz]\n  regex: ''\n  target_label: d\n  replacement: present\n",
             kABC, true, {{"a", "foo"}, {"b", "bar"}, {"c", "baz"}, {"d", "present"}}},
        Case{"replace_expands_target_label",
             "- source_labels: [a]\n  regex: '(f)(o+)'\n  target_label: 'x_${1}_$2'\n"
             "  replacement: v\n",
             kABC, true, {{"a", "foo"}, {"b", "bar"}, {"c", "baz"}, {"x_f_oo", "v"}}},
        Case{"replace_invalid_expanded_target_is_a_noop",
             "- source_labels: [a]\n  regex: '(.*)'\n  target_label: '${1}'\n"
             "  replacement: v\n",
             {{"a", "1abc"}}, true, {{"a", "1abc"}}},
        Case{"replace_named_groups",
             "- source_labels: [a]\n  regex: '(?P<head>f)(?P<tail>.*)'\n  target_label: d\n"
             "  replacement: '$tail:${head}'\n",
             kABC, true, {{"a", "foo"}, {"b", "bar"}, {"c", "baz"}, {"d", "oo:f"}}},
        Case{"expand_like_go_dollar_name_is_longest_word",
             // $1x is the group named "1x" (none): empty; ${1}x is group 1 then 'x'; $$ is '$'.
             "- source_labels: [a]\n  regex: '(foo)'\n  target_label: d\n"
             "  replacement: '[$1x][${1}x][$$1][$][${1][$01]'\n",
             kABC, true,
             {{"a", "foo"}, {"b", "bar"}, {"c", "baz"}, {"d", "[][foox][$1][$][${1][]"}}},
        Case{"replace_static_value_without_sources",
             "- target_label: job\n  replacement: kubernetes-pods\n", {}, true,
             {{"job", "kubernetes-pods"}}},
        Case{"keep_matching", "- source_labels: [a]\n  regex: 'f.*'\n  action: keep\n", kABC,
             true, kABC},
        Case{"keep_not_matching_drops", "- source_labels: [a]\n  regex: 'fo'\n  action: keep\n",
             kABC, false, {}},
        Case{"drop_matching", "- source_labels: [a]\n  regex: 'foo'\n  action: drop\n", kABC,
             false, {}},
        Case{"drop_empty_regex_drops_missing_label",
             "- source_labels: [__service__]\n  regex: ''\n  action: drop\n", kABC, false, {}},
        Case{"action_is_case_insensitive",
             "- source_labels: [a]\n  regex: 'foo'\n  action: DROP\n", kABC, false, {}},
        Case{"keepequal_equal_keeps",
             "- source_labels: [a]\n  target_label: x\n  action: keepequal\n",
             {{"a", "1"}, {"x", "1"}}, true, {{"a", "1"}, {"x", "1"}}},
        Case{"keepequal_different_drops",
             "- source_labels: [a]\n  target_label: x\n  action: keepequal\n",
             {{"a", "1"}, {"x", "2"}}, false, {}},
        Case{"dropequal_equal_drops",
             "- source_labels: [a]\n  target_label: x\n  action: dropequal\n",
             {{"a", "1"}, {"x", "1"}}, false, {}},
        Case{"dropequal_different_keeps",
             "- source_labels: [a]\n  target_label: x\n  action: dropequal\n",
             {{"a", "1"}, {"x", "2"}}, true, {{"a", "1"}, {"x", "2"}}},
        Case{"hashmod_md5_last_8_bytes",
             "- source_labels: [c]\n  modulus: 1000\n  target_label: hash\n  action: hashmod\n",
             kABC, true, {{"a", "foo"}, {"b", "bar"}, {"c", "baz"}, {"hash", "976"}}},
        Case{"hashmod_long_input_two_md5_blocks",
             "- source_labels: [a]\n  modulus: 1000\n  target_label: h\n  action: hashmod\n",
             {{"a", std::string(100, 'a')}}, true, {{"a", std::string(100, 'a')}, {"h", "839"}}},
        Case{"labelmap_copies_with_replacement",
             "- action: labelmap\n  regex: '__meta_kubernetes_pod_label_(.+)'\n",
             {{"__meta_kubernetes_pod_label_app", "web"},
              {"__meta_kubernetes_pod_label_tier", "fe"},
              {"other", "x"}},
             true,
             {{"__meta_kubernetes_pod_label_app", "web"},
              {"__meta_kubernetes_pod_label_tier", "fe"},
              {"app", "web"},
              {"tier", "fe"},
              {"other", "x"}}},
        Case{"labelmap_reads_labels_as_before_the_rule",
             // b→c and a→b at once: c gets b's old value, b gets a's.
             "- action: labelmap\n  regex: '(a|b)'\n  replacement: 'x$1'\n", {{"a", "1"}, {"b", "2"}},
             true, {{"a", "1"}, {"b", "2"}, {"xa", "1"}, {"xb", "2"}}},
        Case{"labeldrop", "- action: labeldrop\n  regex: '[ab]'\n", kABC, true, {{"c", "baz"}}},
        Case{"labelkeep", "- action: labelkeep\n  regex: '[ab]'\n", kABC, true,
             {{"a", "foo"}, {"b", "bar"}}},
        Case{"lowercase_and_uppercase",
             "- source_labels: [a]\n  target_label: lo\n  action: lowercase\n"
             "- source_labels: [a]\n  target_label: up\n  action: uppercase\n",
             {{"a", "MiXeD"}}, true, {{"a", "MiXeD"}, {"lo", "mixed"}, {"up", "MIXED"}}},
        Case{"lowercase_of_empty_deletes_target",
             "- source_labels: [missing]\n  target_label: a\n  action: lowercase\n", kABC, true,
             {{"b", "bar"}, {"c", "baz"}}},
        Case{"rules_see_previous_results",
             "- source_labels: [a]\n  target_label: d\n"
             "- source_labels: [d]\n  regex: foo\n  action: drop\n",
             kABC, false, {}}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

// The `kubernetes-pods` job of grafana/helm-charts' promtail chart (values.yaml, the default
// scrapeConfigs plus the `common` snippet).
constexpr const char* kHelmKubernetesPods = R"(
- source_labels:
    - __meta_kubernetes_pod_controller_name
  regex: ([0-9a-z-.]+?)(-[0-9a-f]{8,10})?
  action: replace
  target_label: __tmp_controller_name
- source_labels:
    - __meta_kubernetes_pod_label_app_kubernetes_io_name
    - __meta_kubernetes_pod_label_app
    - __tmp_controller_name
    - __meta_kubernetes_pod_name
  regex: ^;*([^;]+)(;.*)?$
  action: replace
  target_label: app
- source_labels:
    - __meta_kubernetes_pod_label_app_kubernetes_io_instance
    - __meta_kubernetes_pod_label_instance
  regex: ^;*([^;]+)(;.*)?$
  action: replace
  target_label: instance
- source_labels:
    - __meta_kubernetes_pod_label_app_kubernetes_io_component
    - __meta_kubernetes_pod_label_component
  regex: ^;*([^;]+)(;.*)?$
  action: replace
  target_label: component
- action: replace
  source_labels:
    - __meta_kubernetes_pod_node_name
  target_label: node_name
- action: replace
  source_labels:
    - __meta_kubernetes_namespace
  target_label: namespace
- action: replace
  replacement: $1
  separator: /
  source_labels:
    - namespace
    - app
  target_label: job
- action: replace
  source_labels:
    - __meta_kubernetes_pod_name
  target_label: pod
- action: replace
  source_labels:
    - __meta_kubernetes_pod_container_name
  target_label: container
- action: replace
  replacement: /var/log/pods/*$1/*.log
  separator: /
  source_labels:
    - __meta_kubernetes_pod_uid
    - __meta_kubernetes_pod_container_name
  target_label: __path__
- action: replace
  replacement: /var/log/pods/*$1/*.log
  regex: true/(.*)
  separator: /
  source_labels:
    - __meta_kubernetes_pod_annotationpresent_kubernetes_io_config_hash
    - __meta_kubernetes_pod_annotation_kubernetes_io_config_hash
    - __meta_kubernetes_pod_container_name
  target_label: __path__
)";

TEST(RelabelHelmChartTest, DeploymentPodGetsAppFromControllerName) {
  auto rules = MustParse(kHelmKubernetesPods);
  ASSERT_EQ(rules.size(), 11u);
  Labels labels = {
      {"__meta_kubernetes_namespace", "shop"},
      {"__meta_kubernetes_pod_name", "web-7d4b9c6f5d-x2x9k"},
      {"__meta_kubernetes_pod_uid", "3f1c2a9e-8b7d-4e2f-9a31-5c6d7e8f9a0b"},
      {"__meta_kubernetes_pod_node_name", "node-1"},
      {"__meta_kubernetes_pod_container_name", "nginx"},
      {"__meta_kubernetes_pod_controller_kind", "ReplicaSet"},
      {"__meta_kubernetes_pod_controller_name", "web-7d4b9c6f5d"},
      {"__meta_kubernetes_pod_label_pod_template_hash", "7d4b9c6f5d"},
      {"__meta_kubernetes_pod_labelpresent_pod_template_hash", "true"},
  };
  ASSERT_TRUE(Relabel(rules, labels));
  EXPECT_EQ(labels["__tmp_controller_name"], "web");
  EXPECT_EQ(labels["__path__"],
            "/var/log/pods/*3f1c2a9e-8b7d-4e2f-9a31-5c6d7e8f9a0b/nginx/*.log");
  RemoveInternalLabels(labels);
  Labels want = {{"app", "web"},          {"namespace", "shop"}, {"job", "shop/web"},
                 {"pod", "web-7d4b9c6f5d-x2x9k"}, {"container", "nginx"}, {"node_name", "node-1"}};
  EXPECT_EQ(labels, want);
}

TEST(RelabelHelmChartTest, RecommendedLabelsWinAndStaticPodPathUsesConfigHash) {
  auto rules = MustParse(kHelmKubernetesPods);
  Labels labels = {
      {"__meta_kubernetes_namespace", "kube-system"},
      {"__meta_kubernetes_pod_name", "etcd-node-1"},
      {"__meta_kubernetes_pod_uid", "9b0e6c2d-0000-4c1a-8d1e-1234567890ab"},
      {"__meta_kubernetes_pod_node_name", "node-1"},
      {"__meta_kubernetes_pod_container_name", "etcd"},
      {"__meta_kubernetes_pod_controller_kind", "Node"},
      {"__meta_kubernetes_pod_controller_name", "node-1"},
      {"__meta_kubernetes_pod_label_app_kubernetes_io_name", "etcd-server"},
      {"__meta_kubernetes_pod_label_component", "etcd"},
      {"__meta_kubernetes_pod_label_app_kubernetes_io_instance", "main"},
      {"__meta_kubernetes_pod_annotation_kubernetes_io_config_hash", "5a1b0c3d9e"},
      {"__meta_kubernetes_pod_annotationpresent_kubernetes_io_config_hash", "true"},
  };
  ASSERT_TRUE(Relabel(rules, labels));
  EXPECT_EQ(labels["__path__"], "/var/log/pods/*5a1b0c3d9e/etcd/*.log");
  RemoveInternalLabels(labels);
  Labels want = {{"app", "etcd-server"},  {"instance", "main"},  {"component", "etcd"},
                 {"namespace", "kube-system"}, {"job", "kube-system/etcd-server"},
                 {"pod", "etcd-node-1"},  {"container", "etcd"}, {"node_name", "node-1"}};
  EXPECT_EQ(labels, want);
}

TEST(RelabelHelmChartTest, PodWithoutControllerFallsBackToPodName) {
  auto rules = MustParse(kHelmKubernetesPods);
  Labels labels = {{"__meta_kubernetes_namespace", "default"},
                   {"__meta_kubernetes_pod_name", "debug"},
                   {"__meta_kubernetes_pod_container_name", "sh"}};
  ASSERT_TRUE(Relabel(rules, labels));
  RemoveInternalLabels(labels);
  EXPECT_EQ(labels["app"], "debug");
  EXPECT_EQ(labels["job"], "default/debug");
  EXPECT_EQ(labels.count("instance"), 0u);
}

TEST(RelabelParseTest, ErrorsNameTheRuleAndKey) {
  struct Bad {
    std::string yaml;
    std::string want;  // substring of the error
  };
  const Bad cases[] = {
      {"- source_labels: [a]\n  target_label: b\n  regexp: x\n", "relabel_configs[0]: unknown key \"regexp\""},
      {"- target_label: a\n- action: nope\n", "relabel_configs[1]: action: unknown relabel action \"nope\""},
      {"- source_labels: [a]\n  action: hashmod\n  target_label: h\n", "requires non-zero modulus"},
      {"- source_labels: [a]\n  action: replace\n", "requires 'target_label'"},
      {"- source_labels: [a]\n  regex: '(unclosed'\n  target_label: b\n", "regex: invalid regular expression"},
      {"- source_labels: [a-b]\n  target_label: b\n", "source_labels: \"a-b\" is not a valid label name"},
      {"- source_labels: [a]\n  target_label: 'bad-name'\n", "is invalid 'target_label' for replace"},
      {"- source_labels: [a]\n  target_label: '${1}'\n  action: lowercase\n", "is invalid 'target_label' for lowercase"},
      {"- action: labeldrop\n  regex: a\n  source_labels: [x]\n", "labeldrop action requires only 'regex'"},
      {"- action: keepequal\n  source_labels: [a]\n  target_label: b\n  regex: x\n", "keepequal action requires only"},
      {"- source_labels: [a]\n  modulus: -3\n  action: hashmod\n  target_label: h\n", "modulus: \"-3\""},
      {"source_labels: [a]\n", "relabel_configs: expected a list"},
  };
  for (const Bad& b : cases) {
    auto r = ParseRelabelConfigs(YAML::Load(b.yaml));
    ASSERT_FALSE(r.ok()) << b.yaml;
    EXPECT_NE(r.status().message().find(b.want), std::string::npos)
        << "got: " << r.status().message() << "\nwant: " << b.want;
  }
}

TEST(RelabelParseTest, DefaultsArePrometheus) {
  auto rules = MustParse("- target_label: x\n");
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0].separator, ";");
  EXPECT_EQ(rules[0].regex_text, "(.*)");
  EXPECT_EQ(rules[0].replacement, "$1");
  EXPECT_EQ(rules[0].action, RelabelAction::kReplace);
  EXPECT_TRUE(ParseRelabelConfigs(YAML::Node()).ok());
  // An explicit default equals "not set", as in Prometheus.
  EXPECT_TRUE(ParseRelabelConfigs(
                  YAML::Load("- action: labeldrop\n  regex: a\n  separator: ';'\n  replacement: $1\n"))
                  .ok());
}

TEST(RelabelTest, RemoveInternalLabelsKeepsSingleUnderscore) {
  Labels labels = {{"__path__", "/x"}, {"_a", "1"}, {"__meta_x", "2"}, {"b", "3"}};
  RemoveInternalLabels(labels);
  EXPECT_EQ(labels, (Labels{{"_a", "1"}, {"b", "3"}}));
}

}  // namespace
}  // namespace logq::shipper
