#include "discovery/kubernetes_source.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace podcache {
namespace {

TEST_CASE("In-cluster API address from KUBERNETES_SERVICE_HOST/PORT") {
  CHECK(InClusterApiUrl("10.96.0.1", "443").value() == "https://10.96.0.1:443");
  // IPv6 service addresses are dialled by the Service's name (cpprestsdk cannot dial [addr]).
  CHECK(InClusterApiUrl("fd00:10:96::1", "443").value() == "https://kubernetes.default.svc:443");
  CHECK(InClusterApiUrl("", "443").status().code() == StatusCode::kInvalidArgument);
  CHECK(InClusterApiUrl("10.96.0.1", "").status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("Start fails, naming what is missing, without a CA, token or namespace") {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("podcache-sa-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  KubernetesSourceOptions options;
  options.service = "web";
  options.api_url = "https://127.0.0.1:1";
  options.serviceaccount_dir = dir.string();
  auto start = [&] {
    KubernetesPeerSource source(options);
    return source.Start([](std::vector<std::string>) {});
  };
  CHECK(start().message().find("ca.crt") != std::string::npos);
  std::ofstream(dir / "ca.crt") << "not a certificate, but present\n";
  CHECK(start().message().find("token") != std::string::npos);
  std::ofstream(dir / "token") << "t\n";
  CHECK(start().message().find("namespace") != std::string::npos);
  options.api_url = "ftp://127.0.0.1";
  CHECK(start().message().find("k8s_api_url") != std::string::npos);
  // Everything present: it starts (the API server need not answer) and stops promptly.
  options.api_url = "https://127.0.0.1:1";
  options.namespace_name = "shop";
  KubernetesPeerSource source(options);
  CHECK(source.Start([](std::vector<std::string>) {}).ok());
  CHECK_FALSE(source.Synced());
  source.Stop();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace podcache
