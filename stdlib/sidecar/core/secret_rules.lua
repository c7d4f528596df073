--- The secrets policy, as data: which credential shapes, variable names and files are secret.
--- The redactor and the denylist in host/ are only the matcher; what they look for is here.
---
--- `sidecar.core.secrets` hands this table to the host when it loads (host.set_policy); the host
--- also reads this same file, as text embedded at build time, for what it prints before any Lua
--- runs (a command line it cannot parse, the model server). So this file stays a plain literal
--- that a small reader without Lua can read: `return` one table of tables, strings and
--- integers, `--` comments, no expressions. A project's own rules (config.lua's `secrets`) come
--- on top of these and win over them.
---
--- patterns: token shapes in the form a project writes them, PREFIX[CLASS]{COUNT} (`{N,}` has no
---   upper bound), each with the kind its replacement names ([REDACTED:openai-key]). A shape
---   starts at a word's start. Where two share a start, the more precise comes first: on a tie,
---   the first found names the replacement. A shape of kind aws-access-key is a key id: the
---   matcher looks for an AWS secret key near it.
--- names: variables whose values are secret, as globs ('*' any run, '?' one byte), ASCII
---   case-insensitive, '-' and '.' read as '_' (an HTTP header or a YAML key is judged like a
---   variable). allow_names win over names: they say where or how big a secret is, or are keys
---   and tokens that are identifiers, not credentials.
--- files: secret files by their last component, each a glob or {glob, ..., rule = "how the
---   refusal names it"}; allow_files are exempt from `files` (templates committed on purpose,
---   the public half of a key pair) but not from the folders. folders: every file under them is
---   secret. folder_files: "folder/name" pairs that are credential stores anywhere in a path.
return {
  patterns = {
    { pattern = "sk-ant-[A-Za-z0-9_-]{32,}", kind = "anthropic-key" },
    { pattern = "sk-[A-Za-z0-9_-]{20,}", kind = "openai-key" }, -- also sk-proj-...
    { pattern = "sk_live_[A-Za-z0-9]{16,}", kind = "stripe-key" },
    { pattern = "rk_live_[A-Za-z0-9]{16,}", kind = "stripe-key" },
    { pattern = "ghp_[A-Za-z0-9]{30,}", kind = "github-token" },
    { pattern = "gho_[A-Za-z0-9]{30,}", kind = "github-token" },
    { pattern = "ghu_[A-Za-z0-9]{30,}", kind = "github-token" },
    { pattern = "ghs_[A-Za-z0-9]{30,}", kind = "github-token" },
    { pattern = "ghr_[A-Za-z0-9]{30,}", kind = "github-token" },
    { pattern = "github_pat_[A-Za-z0-9_]{40,}", kind = "github-token" },
    { pattern = "glpat-[A-Za-z0-9_-]{20,}", kind = "gitlab-token" },
    { pattern = "npm_[A-Za-z0-9]{36,}", kind = "npm-token" },
    { pattern = "hf_[A-Za-z0-9]{30,}", kind = "huggingface-token" },
    { pattern = "pypi-[A-Za-z0-9_-]{50,}", kind = "pypi-token" },
    { pattern = "AKIA[A-Z0-9]{16,}", kind = "aws-access-key" },
    { pattern = "ASIA[A-Z0-9]{16,}", kind = "aws-access-key" },
    { pattern = "AIza[A-Za-z0-9_-]{35,}", kind = "google-api-key" },
    { pattern = "GOCSPX-[A-Za-z0-9_-]{24,}", kind = "google-oauth-secret" },
    { pattern = "AGE-SECRET-KEY-1[A-Z0-9]{50,}", kind = "age-secret-key" },
    { pattern = "xoxa-[A-Za-z0-9-]{10,}", kind = "slack-token" },
    { pattern = "xoxb-[A-Za-z0-9-]{10,}", kind = "slack-token" },
    { pattern = "xoxp-[A-Za-z0-9-]{10,}", kind = "slack-token" },
    { pattern = "xoxr-[A-Za-z0-9-]{10,}", kind = "slack-token" },
    { pattern = "xoxs-[A-Za-z0-9-]{10,}", kind = "slack-token" },
    { pattern = "xapp-[A-Za-z0-9-]{10,}", kind = "slack-token" },
    { pattern = "https://hooks.slack.com/services/[A-Za-z0-9+/]{20,}", kind = "slack-webhook" },
    { pattern = "SG.[A-Za-z0-9_.-]{60,}", kind = "sendgrid-key" },
    { pattern = "SK[0-9A-Fa-f]{32,}", kind = "twilio-key" },
    { pattern = "dop_v1_[0-9A-Fa-f]{64,}", kind = "digitalocean-token" },
    -- A private key's whole PEM block, base64-encoded again (Kubernetes secrets, *_B64 variables):
    -- "-----BEGIN RSA PRIVATE KEY-----" and its kin, as base64.
    { pattern = "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVkt[A-Za-z0-9+/=]{40,}", kind = "private-key-base64" },
    { pattern = "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0t[A-Za-z0-9+/=]{40,}", kind = "private-key-base64" },
    { pattern = "LS0tLS1CRUdJTiBPUEVOU1NIIFBSSVZBVEUgS0VZLS0t[A-Za-z0-9+/=]{40,}", kind = "private-key-base64" },
    { pattern = "LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0t[A-Za-z0-9+/=]{40,}", kind = "private-key-base64" },
    { pattern = "LS0tLS1CRUdJTiBEU0EgUFJJVkFURSBLRVkt[A-Za-z0-9+/=]{40,}", kind = "private-key-base64" },
    { pattern = "LS0tLS1CRUdJTiBFTkNSWVBURUQgUFJJVkFURSBLRVkt[A-Za-z0-9+/=]{40,}", kind = "private-key-base64" },
    { pattern = "LS0tLS1CRUdJTiBQR1AgUFJJVkFURSBLRVkgQkxPQ0st[A-Za-z0-9+/=]{40,}", kind = "private-key-base64" },
  },

  names = {
    "TOKEN", "SECRET", "PASSWORD", "PASSWD", "APIKEY",
    "*_KEY", "*_TOKEN", "*_SECRET", "*_PASS", "*_PASSWD", "*_APIKEY", "*_CREDENTIALS", "*_PASSPHRASE",
    "*PASSWORD*", "*PASSWD*", "*_SECRET*", "*_ACCESS_KEY*",
    -- Azure connection strings and SAS tokens (AccountKey=…;SharedAccessKey=…;SharedAccessSignature=…).
    "ACCOUNTKEY", "SHAREDACCESSKEY", "SHAREDACCESSSIGNATURE",
  },

  allow_names = {
    -- Where a secret is, how it looks or whether it is needed, not what it is.
    "*_DIR", "*_FILE", "*_PATH", "*_URL", "*_URI", "*_HOST", "*_PORT", "*_USER", "*_USERNAME",
    "*_NAME", "*_LENGTH", "*_LEN", "*_SIZE", "*_COUNT", "*_MIN", "*_MAX", "*_POLICY", "*_PROMPT",
    "*_CMD", "*_COMMAND", "*_ENABLED", "*_REQUIRED", "*_TYPE", "*_FORMAT", "*_TTL", "*_EXPIRY",
    "*_EXPIRES", "*_HEADER", "*_FIELD", "*_PATTERN", "*_REGEX", "*_ARN",
    -- Keys that are identifiers in code and data, never credentials.
    "PUBLIC_KEY", "*_PUBLIC_KEY", "PUB_KEY", "*_PUB_KEY", "PRIMARY_KEY", "*_PRIMARY_KEY",
    "FOREIGN_KEY", "*_FOREIGN_KEY", "SORT_KEY", "*_SORT_KEY", "PARTITION_KEY", "*_PARTITION_KEY",
    "CACHE_KEY", "*_CACHE_KEY", "ROUTING_KEY", "*_ROUTING_KEY", "INDEX_KEY", "*_INDEX_KEY",
    "UNIQUE_KEY", "*_UNIQUE_KEY", "LOOKUP_KEY", "*_LOOKUP_KEY", "HASH_KEY", "*_HASH_KEY",
    "IDEMPOTENCY_KEY", "*_IDEMPOTENCY_KEY", "SHORTCUT_KEY", "*_SHORTCUT_KEY", "HOT_KEY", "*_HOT_KEY",
    "RANGE_KEY", "*_RANGE_KEY", "COMPOSITE_KEY", "*_COMPOSITE_KEY", "SHARD_KEY", "*_SHARD_KEY",
    "GROUP_KEY", "*_GROUP_KEY", "MAP_KEY", "*_MAP_KEY", "DICT_KEY", "*_DICT_KEY", "ROW_KEY", "*_ROW_KEY",
    "COLUMN_KEY", "*_COLUMN_KEY", "I18N_KEY", "*_I18N_KEY", "TRANSLATION_KEY", "*_TRANSLATION_KEY",
    "REGISTRY_KEY", "*_REGISTRY_KEY",
    -- Tokens that are positions and markers (pagination, a tokenizer's), not credentials.
    "NEXT_TOKEN", "*_NEXT_TOKEN", "PAGE_TOKEN", "*_PAGE_TOKEN", "CONTINUATION_TOKEN", "*_CONTINUATION_TOKEN",
    "CURSOR_TOKEN", "*_CURSOR_TOKEN", "MAX_TOKEN", "*_MAX_TOKEN", "MIN_TOKEN", "*_MIN_TOKEN",
    "EOS_TOKEN", "*_EOS_TOKEN", "BOS_TOKEN", "*_BOS_TOKEN", "PAD_TOKEN", "*_PAD_TOKEN",
    "UNK_TOKEN", "*_UNK_TOKEN", "SEP_TOKEN", "*_SEP_TOKEN", "CLS_TOKEN", "*_CLS_TOKEN",
    "MASK_TOKEN", "*_MASK_TOKEN", "START_TOKEN", "*_START_TOKEN", "END_TOKEN", "*_END_TOKEN",
    "STOP_TOKEN", "*_STOP_TOKEN", "SPECIAL_TOKEN", "*_SPECIAL_TOKEN", "BEGIN_TOKEN", "*_BEGIN_TOKEN",
  },

  files = {
    { ".env", ".env.*", ".envrc", rule = ".env*" },
    { "id_rsa*", rule = "SSH private key id_rsa*" },
    { "id_dsa*", rule = "SSH private key id_dsa*" },
    { "id_ecdsa*", rule = "SSH private key id_ecdsa*" },
    { "id_ed25519*", rule = "SSH private key id_ed25519*" },
    "*.pem", "*.key", "*.p12", "*.pfx", "*.keystore", "*.jks",
    ".npmrc", ".netrc", "_netrc", ".pypirc", ".git-credentials", "credentials", "credentials.json",
    ".htpasswd", "secrets.yml", "secrets.yaml", "secrets.json",
    { "*.tfstate", "*.tfstate.backup", rule = "Terraform state *.tfstate" },
    { "service-account*.json", rule = "cloud service-account key service-account*.json" },
    { "kubeconfig", rule = "Kubernetes kubeconfig" },
    { "*.kdbx", rule = "KeePass database *.kdbx" },
  },
  allow_files = { ".env.example", ".env.sample", ".env.template", "*.pub" },
  folders = { ".ssh", ".gnupg", ".aws" },
  folder_files = { ".docker/config.json", ".kube/config" },
}
