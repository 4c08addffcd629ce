#include "sidecar/metrics.h"

#include <doctest/doctest.h>

namespace podcache {

TEST_CASE("Histogram renders cumulative buckets, sum and count") {
  Histogram h;
  h.Observe(0.00005);  // first bucket
  h.Observe(0.003);    // le=0.005
  h.Observe(20);       // +Inf only
  std::string out;
  h.Render("lat", "m=\"Get\"", &out);
  CHECK(out.find("lat_bucket{m=\"Get\",le=\"0.0001\"} 1\n") != std::string::npos);
  CHECK(out.find("lat_bucket{m=\"Get\",le=\"0.0025\"} 1\n") != std::string::npos);
  CHECK(out.find("lat_bucket{m=\"Get\",le=\"0.005\"} 2\n") != std::string::npos);
  CHECK(out.find("lat_bucket{m=\"Get\",le=\"10\"} 2\n") != std::string::npos);
  CHECK(out.find("lat_bucket{m=\"Get\",le=\"+Inf\"} 3\n") != std::string::npos);
  CHECK(out.find("lat_sum{m=\"Get\"} 20.003050\n") != std::string::npos);
  CHECK(out.find("lat_count{m=\"Get\"} 3\n") != std::string::npos);
}

TEST_CASE("CallMetrics counts by status code and renders only codes seen") {
  CallMetrics m;
  m.Record(StatusCode::kOk, 0.001);
  m.Record(StatusCode::kOk, 0.001);
  m.Record(StatusCode::kNotFound, 0.001);
  CHECK(m.count(StatusCode::kOk) == 2);
  std::string out;
  m.RenderCounts("calls_total", "ks=\"a\"", &out);
  CHECK(out == "calls_total{ks=\"a\",code=\"OK\"} 2\ncalls_total{ks=\"a\",code=\"NOT_FOUND\"} 1\n");
}

TEST_CASE("PromEscape escapes backslash quote and newline") {
  CHECK(PromEscape("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
}

}  // namespace podcache
