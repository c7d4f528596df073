#!/usr/bin/env bash
# End-to-end: `sidecar completion bash|zsh|fish`. The scripts complete commands, subcommands and
# flags as a shell would ask for them, and every command's flags agree with its own --help (so the
# commands cli/main.cpp declares in C++ cannot drift from the completion's copy of them).
# zsh and fish are exercised when installed (scripts/setup installs both), else SKIP.
set -u
. "$(dirname "$0")/lib.sh"
cd "$work"
"$S" completion bash >sidecar.bash
"$S" completion zsh >sidecar.zsh
"$S" completion fish >sidecar.fish

# bash_complete WORD... : what the bash script offers for the last word (the one being completed).
bash_complete() {
  bash -c 'source ./sidecar.bash; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
    _sidecar sidecar "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"; echo "${COMPREPLY[*]}"' _ "$@"
}

eq "bash: a command" "run" "$(bash_complete sidecar ru)"
eq "bash: commands after -e CODE" "run" "$(bash_complete sidecar -e 'print(1)' ru)"
eq "bash: a subcommand" "show" "$(bash_complete sidecar run sh)"
eq "bash: a subcommand after a flag and its value" "show" "$(bash_complete sidecar run --root /x sh)"
eq "bash: a flag of a subcommand" "--json" "$(bash_complete sidecar run show --js)"
eq "bash: a flag's value is left to file names" "" "$(bash_complete sidecar run --runner '')"
eq "bash: a word that is a value, not a command, does not move the path" "--scenario" \
  "$(bash_complete sidecar model-server --log run --sc)"
eq "bash: the completion command itself" "completion" "$(bash_complete sidecar compl)"
expect_run "bash: the script is valid bash" 0 '' '^$' -- bash -n sidecar.bash
expect_run "an unknown shell is a usage error naming the three" 2 '^$' \
  "completion: unknown shell 'tcsh': give bash, zsh or fish" -- "$S" completion tcsh
expect_run "no shell: the parser says so" 2 '' 'shell is required' -- "$S" completion
expect_run "--json: the script in the envelope" 0 '"command": "completion".*"shell": "fish"' '' \
  -- "$S" completion fish --json

# Every command path the script knows, with its flags, against `sidecar PATH --help`.
"$S" -e 'local m = require("sidecar.cli.completion").model()
  for path, n in pairs(m) do if path ~= "" then print(path .. "|" .. table.concat(n.flags, " ")) end end' >paths
drift=0
while IFS='|' read -r path flags; do
  # shellcheck disable=SC2086
  want=$(printf '%s\n' $flags | sort -u)
  # Only the options section of --help counts (its other lines may name flags in their text).
  opts=$("$S" $path --help 2>&1 | sed -n '/^Options:/,/^[A-Z][a-z]*:$/p' | grep -oP '^\s+\K-[^ ]+' |
    tr ',' '\n' | sed 's/[:= ].*//' | sort -u)
  if [ "$want" != "$opts" ]; then
    drift=$((drift + 1))
    echo "FAIL flags of '$path': completion has [$(echo $want)], --help has [$(echo $opts)]"
  fi
done <paths
eq "every command's flags agree with its --help ($(wc -l <paths) commands)" 0 "$drift"

if command -v zsh >/dev/null; then
  got=$(zsh -fc 'autoload -U +X compinit && compinit -u; source ./sidecar.zsh
    COMP_WORDS=(sidecar run --root /x sh); COMP_CWORD=4; _sidecar sidecar sh /x; print -l -- $COMPREPLY')
  # zsh's compgen leaves the filtering by prefix to zsh's own matcher: the candidates are run's.
  eq "zsh: the subcommands of run are offered" "yes" "$(grep -qx show <<<"$got" && grep -qx discard <<<"$got" && echo yes)"
  expect_run "zsh: the script loads" 0 '' '^$' -- zsh -fc 'autoload -U +X compinit && compinit -u; source ./sidecar.zsh'
else
  echo "SKIP zsh: not installed"
fi

if command -v fish >/dev/null; then
  fish_complete() { fish -c "source ./sidecar.fish; complete -C '$1'" | cut -f1 | tr '\n' ' '; }
  eq "fish: a subcommand" "show " "$(fish_complete 'sidecar run sh')"
  eq "fish: a flag, after a flag with a value" "--json " "$(fish_complete 'sidecar run show --root /x --js')"
  eq "fish: a command" "run " "$(fish_complete 'sidecar ru')"
else
  echo "SKIP fish: not installed"
fi
finish
