// host/secret_file_find and SecretFileJudge (host/secrets/secrets.hpp): the search that hides a
// repository's secret files from a sandboxed agent. The judge gives is_secret_file's answers for
// every entry a top-down walk asks about (with the policy alone and with a project's own file
// rules); the search finds exactly what a plain recursive listing judged by is_secret_file finds,
// on one thread or several, reads the whole tree (no cap), never enters .git, the skipped folders
// or a secret folder, and follows no link. Also the secret files the rules gained for issue 45, and
// the search again (find_secret_files_again), which reads only the folders that changed since the
// last one and finds the same as a fresh search whatever changed.
#include <catch2/catch.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "secrets/secret_file_find.hpp"
#include "secrets/secrets.hpp"
#include "temp_dir.hpp"

namespace {

using sidecar::host::find_secret_files;
using sidecar::host::find_secret_files_again;
using sidecar::host::SecretFileSearch;
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

namespace {

// Past the file system's clock tick: what was made before now is stamped before a search that
// starts next (the searches below take racy_ms = 0, so that a folder is taken unread as soon as
// its change is older than the search that read it).
void tick() { std::this_thread::sleep_for(std::chrono::milliseconds(30)); }

bool has(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// A search again of `top` finds what a fresh search finds.
SecretFileSearch again_as_fresh(const std::string& top, const std::vector<std::string>& skip = {}) {
  const SecretFileSearch found = find_secret_files_again(top, skip, 2, 0);
  const SecretFileSearch fresh = find_secret_files(top, skip);
  CHECK(found.files == fresh.files);
  CHECK(found.folders == fresh.folders);
  CHECK(found.sockets == fresh.sockets);
  CHECK(found.entries == fresh.entries);
  return found;
}

}  // namespace

TEST_CASE("secret files: a search again reads only the folders that changed, and finds what changed",
          "[secrets]") {
  TempDir t("secret-again");
  const std::string top = t.path;
  for (int d = 0; d < 20; ++d) write(top + "/src/m" + std::to_string(d) + "/f.py");
  write(top + "/src/m3/.env");
  write(top + "/src/m4/notes.txt");
  write(top + "/src/m5/.ssh/id_rsa");
  write(top + "/node_modules/p/.env");
  tick();
  CHECK(again_as_fresh(top, {"node_modules"}).reused == 0);  // a search of a tree not searched before
  const SecretFileSearch second = again_as_fresh(top, {"node_modules"});
  CHECK(second.reused == 22);  // the top, src and its 20 folders: nothing read again
  CHECK(has(second.files, top + "/src/m3/.env"));
  CHECK(has(second.folders, top + "/src/m5/.ssh"));

  SECTION("a secret file made in a folder") {
    write(top + "/src/m7/.env.local");
    const SecretFileSearch found = again_as_fresh(top, {"node_modules"});
    CHECK(has(found.files, top + "/src/m7/.env.local"));
    CHECK(found.reused == 21);
  }
  SECTION("a file renamed to a secret's name") {
    fs::rename(top + "/src/m4/notes.txt", top + "/src/m4/id_rsa");
    CHECK(has(again_as_fresh(top, {"node_modules"}).files, top + "/src/m4/id_rsa"));
  }
  SECTION("a secret removed, and a folder with one") {
    fs::remove(top + "/src/m3/.env");
    fs::remove_all(top + "/src/m5");
    const SecretFileSearch found = again_as_fresh(top, {"node_modules"});
    CHECK(found.files.empty());
    CHECK(found.folders.empty());
  }
  SECTION("a new folder with a secret deep in it") {
    write(top + "/src/m9/new/deeper/server.pem");
    CHECK(has(again_as_fresh(top, {"node_modules"}).files, top + "/src/m9/new/deeper/server.pem"));
  }
  SECTION("a folder replaced by a link to one with a secret: not followed") {
    write(top + "/../" + fs::path(top).filename().string() + "-elsewhere/.env");
    fs::remove_all(top + "/src/m6");
    fs::create_directory_symlink(top + "-elsewhere", top + "/src/m6");
    const SecretFileSearch found = again_as_fresh(top, {"node_modules"});
    CHECK_FALSE(has(found.files, top + "/src/m6/.env"));
    fs::remove_all(top + "-elsewhere");
  }
  SECTION("a secret made where a skipped folder was, once it is skipped no more") {
    const SecretFileSearch found = again_as_fresh(top);  // another skip list: another tree, read whole
    CHECK(found.reused == 0);
    CHECK(has(found.files, top + "/node_modules/p/.env"));
  }
  SECTION("a project's own file rules: everything read again under them") {
    sidecar::host::SecretRules rules;
    rules.files = {"*.py"};
    sidecar::host::set_secret_rules(rules);
    const SecretFileSearch found = again_as_fresh(top, {"node_modules"});
    sidecar::host::set_secret_rules({});
    CHECK(found.reused == 0);
    CHECK(has(found.files, top + "/src/m0/f.py"));
  }
}

TEST_CASE("secret files: a folder changed close to the search that read it is read again (racy timestamps)",
          "[secrets]") {
  TempDir t("secret-racy");
  write(t.path + "/a/x.txt");
  write(t.path + "/b/y.txt");
  find_secret_files_again(t.path, {});  // the default margin: a second
  // Changed within the margin of that search's start: a change right after it could bear the
  // same time, so every folder is read again, and a secret made meanwhile is found.
  write(t.path + "/a/.env");
  const SecretFileSearch found = find_secret_files_again(t.path, {});
  CHECK(found.reused == 0);
  CHECK(has(found.files, t.path + "/a/.env"));
  // Without the margin, once the clock has passed the changes, the folders are taken unread.
  tick();
  find_secret_files_again(t.path, {}, 2, 0);
  CHECK(find_secret_files_again(t.path, {}, 2, 0).reused == 3);
}

TEST_CASE("secret files: the searches remembered hold so many folders in all, the oldest tree forgotten first",
          "[secrets]") {
  TempDir a("secret-keep-a"), b("secret-keep-b");
  for (const std::string& top : {a.path, b.path}) {
    write(top + "/x/.env");
    write(top + "/y/f.txt");  // three folders each: the top, x and y
  }
  tick();
  // A tree of more folders than may be kept is read whole every time.
  find_secret_files_again(a.path, {}, 2, 0, 2);
  CHECK(find_secret_files_again(a.path, {}, 2, 0, 2).reused == 0);
  // Room for one tree of three: searching the other forgets the first.
  find_secret_files_again(a.path, {}, 2, 0, 5);
  CHECK(find_secret_files_again(a.path, {}, 2, 0, 5).reused == 3);
  find_secret_files_again(b.path, {}, 2, 0, 5);
  CHECK(find_secret_files_again(b.path, {}, 2, 0, 5).reused == 3);
  const SecretFileSearch again = find_secret_files_again(a.path, {}, 2, 0, 5);
  CHECK(again.reused == 0);
  CHECK(has(again.files, a.path + "/x/.env"));
  CHECK(find_secret_files_again(b.path, {}, 2, 0, 5).reused == 0);  // a's search took its place
  // Room for both.
  find_secret_files_again(a.path, {}, 2, 0, 6);
  CHECK(find_secret_files_again(b.path, {}, 2, 0, 6).reused == 3);
  CHECK(find_secret_files_again(a.path, {}, 2, 0, 6).reused == 3);
}
