#include "store/retention/rules.h"

#include "query/model/matcher.h"

namespace logq::retention {

const ingest::StreamRetention* MatchingStreamRule(const ingest::Limits& limits, const Labels& labels) {
  const ingest::StreamRetention* best = nullptr;
  for (const ingest::StreamRetention& rule : *limits.retention_stream) {
    if (!MatchesAll(rule.matchers, labels)) continue;
    if (best != nullptr) {
      if (best->priority > rule.priority) continue;
      if (best->priority == rule.priority && best->period <= rule.period) continue;
    }
    best = &rule;
  }
  return best;
}

int64_t RetentionPeriodFor(const ingest::Limits& limits, const Labels& labels) {
  const ingest::StreamRetention* rule = MatchingStreamRule(limits, labels);
  return rule != nullptr ? rule->period : limits.retention_period;
}

}  // namespace logq::retention
