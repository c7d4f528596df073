local test = require("sidecar.dev.test")
local describe, it, expect = test.describe, test.it, test.expect
local gates = require("sidecar.run.gates")
local json = require("sidecar.core.json")
local review = require("sidecar.task.review")

-- A record whose agent did everything a gate looks at: a commit, a tag, a push, a change to an
-- avoided file and one outside the scope, in a read-only run.
local function busy_record()
  return {
    status = "review", sandbox = "read-only",
    changed_files = { "config/secrets.yml", "src/a.c", "docs/x/y.md" },
    git = {
      head_before = "1111111aaaa", head_after = "abc1234ffff", head_branch_before = "main", head_branch_after = "main",
      commits = { { sha = "abc1234ffff", short = "abc1234", subject = "msg" } },
      branches_created = {}, branches_deleted = {}, branches_moved = { { name = "main", from = "1111111aaaa", to = "abc1234ffff" } },
      tags_created = { { name = "v9.9", sha = "abc1234ffff" } }, tags_deleted = {}, tags_moved = {},
      push_attempts = { { source = "command", push = "git push origin HEAD", command = "git push origin HEAD", exit_code = 128 } },
      refs_created = { { name = "refs/notes/commits", sha = "abc1234ffff" } }, refs_deleted = {}, refs_moved = {},
    },
    outside = { changed = {}, checked = 20 },
    symlinks_out = { { path = "evil", target = "/etc/passwd" } },
  }
end

local TASK = { implementation = { files_to_avoid = { "config/secrets.yml" } }, scope = { in_scope = { "src/**" } } }

local function all(policy)
  local p = {}
  for _, name in ipairs(gates.NAMES) do
    p[name] = policy
  end
  return p
end

describe("gate patterns", function()
  it("match globs, plain paths, names at any depth and folders", function()
    local cases = {
      { "docs/*", "docs/a.md", true }, { "docs/*", "docs/x/y.md", true }, { "docs/*", "src/docs/a.md", false },
      { "**/*.lock", "a/b/c.lock", true }, { "**/*.lock", "c.lock", true }, { "*.lock", "a/c.lock", true },
      { "*.lock", "a/c.locks", false }, { "config/secrets.yml", "config/secrets.yml", true },
      { "config/secrets.yml", "other/config/secrets.yml", false }, { "secrets.yml", "config/secrets.yml", true },
      { "/config/x.yml", "config/x.yml", true }, { "./README.md", "README.md", true },
      { "vendor", "vendor/a/b.c", true }, { "vendor", "src/vendor/b.c", true }, { "docs/", "docs", false },
      { "docs/", "docs/a", true }, { "src/a.c", "src/a.cc", false }, { "a/**/b", "a/b", true },
      { "a/**/b", "a/x/y/b", true }, { "a/**", "a/x/y", true }, { "[ab].txt", "a.txt", true },
      { "[!ab].txt", "a.txt", false }, { "?.txt", "ab.txt", false }, { "?.txt", "a.txt", true },
      { "`Makefile`", "Makefile", true }, { "package-lock.json (generated)", "package-lock.json", true },
    }
    for _, c in ipairs(cases) do
      local p, folder = gates.pattern(c[1])
      expect({ c[1], c[2], p ~= nil and gates.matches(p, c[2], folder) }):equals({ c[1], c[2], c[3] })
    end
  end)

  it("leave prose out", function()
    expect(gates.pattern("the database schema")):is_nil()
    expect(gates.pattern("   ")):is_nil()
    expect(gates.pattern("Makefile")):equals("Makefile")
  end)
end)

describe("gates.evaluate", function()
  it("blocks with texts that say exactly what the agent did", function()
    local v = gates.evaluate(busy_record(), TASK, nil) -- the default policy: block
    expect(v.blockers):equals({
      'made 1 commit (abc1234 "msg") and created tag v9.9',
      "tried to push (git push origin HEAD)",
      "changed config/secrets.yml, which the task lists under files_to_avoid",
      "changed config/secrets.yml and docs/x/y.md, outside the task's scope",
      "changed config/secrets.yml, src/a.c and docs/x/y.md during a read-only run",
      "created refs/notes/commits",
      "link evil -> /etc/passwd leads out of the repository",
    })
    expect(#v.warnings):equals(0)
    for _, name in ipairs(gates.NAMES) do
      expect({ name, v.results[name].verdict, v.results[name].policy }):equals({ name, "blocked", "block" })
    end
  end)

  it("turns each gate to block, warn or allow", function()
    for _, name in ipairs(gates.NAMES) do
      for policy, verdict in pairs({ block = "blocked", warn = "warned", allow = "allowed" }) do
        local p = all("allow")
        p[name] = policy
        local v = gates.evaluate(busy_record(), TASK, p)
        expect({ name, v.results[name].verdict }):equals({ name, verdict })
        expect({ name, policy, #v.blockers, #v.warnings }):equals({ name, policy, policy == "block" and 1 or 0,
          policy == "warn" and 1 or 0 })
        local text = v.blockers[1] or v.warnings[1]
        if text then
          expect(text):equals(v.results[name].findings[1])
        end
      end
    end
  end)

  it("keeps commit and tag apart when their policies differ", function()
    local v = gates.evaluate(busy_record(), TASK, { commit = "block", tag = "warn", push = "allow",
      avoided_files = "allow", scope = "allow", read_only_changes = "allow", outside_changes = "allow",
      symlinks_out = "allow" })
    expect(v.blockers):equals({ 'made 1 commit (abc1234 "msg")' })
    expect(v.warnings):equals({ "created tag v9.9" })
  end)

  it("names branches, resets, HEAD switches and many commits", function()
    local r = { status = "review", sandbox = "workspace-write", changed_files = {}, git = {
      head_before = "1111111", head_after = "2222222", head_branch_before = "main", head_branch_after = "feature",
      commits = {}, branches_created = { { name = "feature", sha = "2222222" } }, branches_deleted = { { name = "old", sha = "3" } },
      branches_moved = { { name = "main", from = "4444444", to = "0000000" } }, tags_created = {},
      tags_deleted = { { name = "v1", sha = "5" } }, tags_moved = { { name = "v2", from = "6", to = "7" } }, push_attempts = {} } }
    local v = gates.evaluate(r, nil, nil)
    expect(v.blockers):equals({ "created branch feature, deleted branch old, moved branch main to 0000000 and "
      .. "deleted tag v1, moved tag v2" })
    r.git.branches_created, r.git.branches_deleted, r.git.branches_moved, r.git.tags_deleted, r.git.tags_moved = {}, {}, {}, {}, {}
    expect(gates.evaluate(r, nil, nil).blockers):equals({ "switched HEAD to branch feature" })
    r.git.head_branch_after = json.null
    expect(gates.evaluate(r, nil, nil).blockers):equals({ "detached HEAD at 2222222" })
    r.git.head_branch_after = "main"
    r.git.commits = {}
    for i = 1, 5 do
      r.git.commits[i] = { sha = ("%07d"):format(i), short = ("%07d"):format(i), subject = "c" .. i }
    end
    expect(gates.evaluate(r, nil, nil).blockers):equals({
      'made 5 commits (0000001 "c1", 0000002 "c2", 0000003 "c3" and 2 more)' })
    r.git.commits_more = true
    expect(gates.evaluate(r, nil, nil).blockers[1]:match("^made more than 5 commits")):exists()
  end)

  it("names a push refused by the push block when no command showed it", function()
    local r = { status = "review", sandbox = "workspace-write", changed_files = {}, git = { commits = {},
      push_attempts = { { source = "git", remote = "origin", url = "../remote.git" } } } }
    expect(gates.evaluate(r, nil, nil).blockers):equals({ "tried to push to origin ../remote.git" })
  end)

  it("skips gates that do not apply and says when facts are missing", function()
    local r = { status = "review", sandbox = "workspace-write", changed_files = { "a.txt" },
      git = { unavailable = "not a git repository", push_attempts = {} } }
    local v = gates.evaluate(r, { scope = { in_scope = { "the parser" } } }, nil)
    expect(#v.blockers):equals(0)
    local verdicts = {}
    for _, name in ipairs(gates.NAMES) do
      verdicts[#verdicts + 1] = v.results[name].verdict
    end
    expect(verdicts):equals({ "unknown", "unknown", "passed", "skipped", "skipped", "skipped", "skipped", "passed" })
    expect(v.results.outside_changes.note):equals("not watched")
    expect(v.results.commit.note):equals("git facts unavailable: not a git repository")
    expect(v.results.scope.note):equals("the task's scope names no paths")
    r.sandbox, r.changed_files = "read-only", nil
    v = gates.evaluate(r, TASK, nil)
    expect({ v.results.read_only_changes.verdict, v.results.avoided_files.verdict }):equals({ "unknown", "unknown" })
    r.changed_files = {}
    expect(gates.evaluate(r, TASK, nil).results.read_only_changes.verdict):equals("passed")
  end)

  it("names each link leading out of the repository, and says when the links are unread", function()
    local r = { status = "review", sandbox = "workspace-write", changed_files = { "a", "docs/b" }, git = {},
      symlinks_out = { { path = "a", target = "/etc/passwd" }, { path = "docs/b", target = "../../x" } } }
    local v = gates.evaluate(r, nil, nil)
    expect(v.results.symlinks_out.findings):equals({ "link a -> /etc/passwd leads out of the repository",
      "link docs/b -> ../../x leads out of the repository" })
    expect(table.concat(gates.lines(v), "\n")):contains("link a -> /etc/passwd leads out of the repository; link docs/b")
    r.symlinks_out, r.symlinks_unavailable = nil, "git ls-tree failed: x"
    v = gates.evaluate(r, nil, nil)
    expect({ v.results.symlinks_out.verdict, v.results.symlinks_out.note }):equals({ "unknown",
      "links unread: git ls-tree failed: x" })
  end)

  it("takes out_of_scope paths as outside the scope", function()
    local r = { status = "review", sandbox = "workspace-write", changed_files = { "src/a.c", "src/gen/b.c" }, git = {} }
    local v = gates.evaluate(r, { scope = { out_of_scope = { "src/gen/", "the docs" } } }, nil)
    expect(v.blockers):equals({ "changed src/gen/b.c, outside the task's scope" })
  end)

  it("refuses a policy that is not block, warn or allow", function()
    expect(function() gates.evaluate(busy_record(), nil, { commit = "deny" }) end)
        :raises('gates.commit: expected "block", "warn" or "allow", got deny')
  end)
end)

describe("gates.apply", function()
  it("blocks a run waiting for review, adding each blocker once", function()
    local r = busy_record()
    r.blockers = { "tried to push (git push origin HEAD)" }
    local v = gates.evaluate(r, nil, nil)
    expect(gates.apply(r, v)):is_true()
    expect(r.status):equals("blocked")
    expect(r.gates.agent_status):equals("review")
    expect(r.blockers):equals({ "tried to push (git push origin HEAD)", 'made 1 commit (abc1234 "msg") and created tag v9.9',
      "changed config/secrets.yml, src/a.c and docs/x/y.md during a read-only run", "created refs/notes/commits",
      "link evil -> /etc/passwd leads out of the repository" })
    gates.apply(r, v)
    expect(#r.blockers):equals(5)
    expect(gates.blocked(r)):is_true()
  end)

  it("leaves a failed run failed, and a warned run in review", function()
    local r = busy_record()
    r.status = "failed"
    gates.apply(r, gates.evaluate(r, nil, nil))
    expect(r.status):equals("failed")
    r = busy_record()
    expect(gates.apply(r, gates.evaluate(r, TASK, all("warn")))):is_false()
    expect(r.status):equals("review")
    expect(#r.gates.warnings):equals(7)
    expect(gates.blocked(r)):is_false()
  end)

  it("is never auto-approved, even all green", function()
    local r = busy_record()
    gates.apply(r, gates.evaluate(r, nil, nil))
    local green = { { kind = "test", command = "true", ok = true, exit_code = 0 } }
    local cfg = { review = { auto_approve_on_all_green = true } }
    local d = review.auto(r, green, cfg)
    expect(d.approve):is_false()
    expect(d.reason):contains("a gate blocked the run (made 1 commit")
    r.status = "review" -- even if something put it back in review
    expect(review.auto(r, green, cfg).approve):is_false()
    local warned = busy_record()
    gates.apply(warned, gates.evaluate(warned, nil, all("warn")))
    expect(review.auto(warned, green, cfg).approve):is_true()
  end)
end)

describe("gates.lines", function()
  it("lists every gate with its verdict and what it found", function()
    local r = busy_record()
    gates.apply(r, gates.evaluate(r, TASK, { tag = "warn", scope = "allow" }))
    local text = table.concat(gates.lines(r.gates), "\n")
    expect(text):contains('  commit             blocked   made 1 commit (abc1234 "msg")')
    expect(text):contains("  tag                warned    created tag v9.9")
    expect(text):contains("  scope              allowed   changed config/secrets.yml and docs/x/y.md, outside")
    expect(gates.lines(nil)):equals({})
  end)
end)
