// host/secret_file_find and SecretFileJudge (host/secrets/secrets.hpp): the search that hides a
// repository's secret files from a sandboxed agent. The judge gives is_secret_file's answers for
// every entry a top-down walk asks about (with the policy alone and with a project's own file
// rules); the search finds exactly what a plain recursive listing judged by is_secret_file finds,
// on one thread or several, reads the whole tree (no cap), never enters .git, the skipped folders
// or a secret folder, and follows no link. Also the secret files the rules gained for issue 45.
#include <catch2/catch.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "secrets/secret_file_find.hpp"
#include "secrets/secrets.hpp"
#include "temp_dir.hpp"

namespace {

using sidecar::host::find_secret_files;
using sidecar::host::is_secret_file;
using sidecar::host::SecretFileJudge;
using sidecar::test::TempDir;
namespace fs = std::filesystem;

bool secret(const std::string& path) {
  std::string why;
  return is_secret_file(path, why);
}

// What the walk asks about a folder, as is_secret_file says it: a file of it, by no name.
bool secret_folder(const std::string& path) { return secret(path + "/\x01"); }

// Names to build paths of: secrets by each rule, their look-alikes, folders of both kinds.
const std::vector<std::string> kNames = {
    "src",         ".ssh",        ".SSH",          ".aws",           ".kube",        "config",
    ".docker",     "config.json", ".env",          ".Env.Local",     ".env.example", ".envrc",
    "id_rsa",      "ID_RSA.pub",  "server.PEM",    "credentials",    "kubeconfig",   "terraform.tfstate",
    "vault.kdbx",  "service-account.json",         "service-account-prod.json",    "README.md",
    ".gnupg",      "notes.txt",   "keep.pem",      "app.yml",        "secrets.yaml", "x"};

// Every path of up to `depth` of kNames that a top-down walk reaches (no folder above is secret),
// each with its folder and name.
void each_walked(int depth, const std::function<void(const std::string&, const std::string&)>& ask) {
  std::function<void(const std::string&, int)> down = [&](const std::string& folder, int left) {
    for (const std::string& name : kNames) {
      ask(folder, name);
      const std::string path = folder.empty() ? name : folder + "/" + name;
      if (left > 1 && !secret_folder(path)) down(path, left - 1);
    }
  };
  down("", depth);
}

void check_judge(int depth) {
  SecretFileJudge judge;
  std::size_t asked = 0;
  each_walked(depth, [&](const std::string& folder, const std::string& name) {
    const std::string path = folder.empty() ? name : folder + "/" + name;
    INFO(path);
    CHECK(judge.file(folder, name) == secret(path));
    CHECK(judge.folder(folder, name) == secret_folder(path));
    ++asked;
  });
  CHECK(asked > 1000);
}

void write(const std::string& path, const std::string& text = "x\n") {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

// The reference: every entry under `top`, listed plainly, judged by is_secret_file, with the
// search's rules for what is entered: {files, folders}, absolute and sorted.
std::pair<std::vector<std::string>, std::vector<std::string>> listed(const std::string& top,
                                                                     const std::vector<std::string>& skip) {
  std::vector<std::string> files, folders;
  std::function<void(const std::string&)> down = [&](const std::string& rel) {
    for (const auto& e : fs::directory_iterator(rel.empty() ? top : top + "/" + rel)) {
      const std::string name = e.path().filename().string();
      const std::string path = rel.empty() ? name : rel + "/" + name;
      const auto st = e.symlink_status();
      if (fs::is_directory(st)) {
        if (secret_folder(path)) {
          folders.push_back(top + "/" + path);
        } else if (name != ".git" && name != ".hg" && name != ".svn" &&
                   std::find(skip.begin(), skip.end(), name) == skip.end() &&
                   std::find(skip.begin(), skip.end(), path) == skip.end()) {
          down(path);
        }
      } else if ((fs::is_regular_file(st) || fs::is_symlink(st)) && secret(path)) {
        files.push_back(top + "/" + path);
      }
    }
  };
  down("");
  std::sort(files.begin(), files.end());
  std::sort(folders.begin(), folders.end());
  return {files, folders};
}

}  // namespace

TEST_CASE("secret files: the rules name .envrc, Terraform state, service-account keys, kubeconfig, KeePass",
          "[secrets]") {
  for (const char* path : {".envrc", "app/.envrc", "terraform.tfstate", "infra/terraform.tfstate",
                           "prod.tfstate", "terraform.tfstate.backup", "service-account.json",
                           "gcp/service-account-prod.json", "kubeconfig", "ops/kubeconfig", "vault.kdbx",
                           "Passwords.KDBX"}) {
    INFO(path);
    CHECK(secret(path));
  }
  for (const char* path : {"tfstate.md", "terraform.tf", "service-account.md", "service_account.py",
                           "kubeconfig.md", "docs/kubeconfig.rst", "kdbx.txt", ".envrc.example"}) {
    INFO(path);
    CHECK_FALSE(secret(path));
  }
}

TEST_CASE("secret files: the walk's judge answers as is_secret_file, entry by entry", "[secrets]") {
  check_judge(3);
  // A project's own file rules (globs across folders, exemptions): the judge asks with whole paths.
  sidecar::host::SecretRules rules;
  rules.files = {"config/*.yml", "*.vault"};
  rules.allow_files = {"keep.pem"};
  sidecar::host::set_secret_rules(rules);
  check_judge(3);
  CHECK(SecretFileJudge().file("config", "app.yml"));
  CHECK_FALSE(SecretFileJudge().file("src", "keep.pem"));
  sidecar::host::set_secret_rules({});
  CHECK_FALSE(SecretFileJudge().file("config", "app.yml"));
}

TEST_CASE("secret files: the search finds what a plain listing judged by the rules finds, the whole tree",
          "[secrets]") {
  TempDir t("secret-search");
  const std::string top = t.path;
  // 30 000 ordinary files in 300 folders, more than a few threads' share each.
  for (int d = 0; d < 300; ++d) {
    const std::string folder = top + "/pkg" + std::to_string(d % 10) + "/m" + std::to_string(d);
    fs::create_directories(folder);
    for (int f = 0; f < 100; ++f) std::ofstream(folder + "/f" + std::to_string(f) + ".py") << "x\n";
  }
  // Secrets at every depth and by every kind of rule, the last ones deep in the tree.
  for (const char* rel : {".env", "pkg3/m3/.env", "pkg9/m299/.env.production", "pkg0/m0/.envrc", "keys/id_rsa",
                          "infra/prod/terraform.tfstate", "gcp/service-account.json", "ops/kubeconfig",
                          "vault.kdbx", "ci/.kube/config", "home/.docker/config.json", "deep/a/b/c/d/e/f/server.pem",
                          "Upper/.ENV.LOCAL"}) {
    write(top + "/" + rel);
  }
  write(top + "/.ssh/id_ed25519");                  // a secret folder: named whole, never entered
  write(top + "/proj/.aws/credentials");
  write(top + "/node_modules/pkg/.env");            // skipped by name
  write(top + "/.agent/runs/.env");                 // skipped by path
  write(top + "/.git/.env");                        // never entered
  write(top + "/.env.example");                     // a template: not secret
  write(top + "/outside/.env");
  fs::create_directory_symlink(top + "/outside", top + "/linked");  // a link to a folder: not followed
  fs::create_symlink(top + "/outside/.env", top + "/pkg1/m1/.env");  // a link named .env: named itself

  const std::vector<std::string> skip = {"node_modules", ".agent/runs"};
  const auto [files, folders] = listed(top, skip);
  for (int threads : {1, 2, 4}) {
    INFO(threads << " threads");
    const auto found = find_secret_files(top, skip, threads);
    CHECK(found.files == files);
    CHECK(found.folders == folders);
    CHECK(found.entries > 30000);
    CHECK(found.unread == 0);
  }
  const auto found = find_secret_files(top, skip);
  CHECK(std::count(found.files.begin(), found.files.end(), top + "/pkg1/m1/.env") == 1);
  CHECK(std::count(found.files.begin(), found.files.end(), top + "/deep/a/b/c/d/e/f/server.pem") == 1);
  CHECK(std::count(found.folders.begin(), found.folders.end(), top + "/.ssh") == 1);
  CHECK(std::count(found.folders.begin(), found.folders.end(), top + "/proj/.aws") == 1);
  CHECK(std::none_of(found.files.begin(), found.files.end(), [](const std::string& f) {
    return f.find("node_modules") != std::string::npos || f.find("/.git/") != std::string::npos ||
           f.find("/linked/") != std::string::npos || f.find("/.agent/") != std::string::npos ||
           f.find("/.ssh/") != std::string::npos;
  }));
  CHECK(files.size() == 15);  // the 13, the link named .env and outside/.env
}

TEST_CASE("secret files: a folder this user cannot read is counted, not fatal", "[secrets]") {
  CHECK(find_secret_files("/nonexistent-sidecar-top", {}).unread == 1);
  if (geteuid() == 0) return;  // root reads it all the same
  TempDir t("secret-search");
  write(t.path + "/a/.env");
  write(t.path + "/shut/b/.env");
  chmod((t.path + "/shut").c_str(), 0);
  const auto found = find_secret_files(t.path, {});
  chmod((t.path + "/shut").c_str(), 0755);
  CHECK(found.files == std::vector<std::string>{t.path + "/a/.env"});
  CHECK(found.unread == 1);
}
