#!/usr/bin/env bash
# End-to-end: `sidecar repl` with piped input (no terminal): results on stdout without prompts,
# errors on stderr, and the REPL goes on after an error. Usage: repl_test.sh path/to/sidecar
set -u
. "$(dirname "$0")/lib.sh" # S (absolute), here, root, $work; the shared helpers

stdin_text=$'1 + 1\n=2, "x"\nt = {1, 2, a = {b = 3}}\nt\nfunction f()\n  return 42\nend\nf()\nprint("printed")\n' \
  expect_run "expressions, =expr, continuation lines, inspect" 0 \
  '^2\n2\t"x"\n\{ 1, 2, a = \{ b = 3 \} \}\n42\nprinted\n$' '^$' -- "$S" repl

stdin_text=$'x = 1\nerror("boom")\nx + 1\n' \
  expect_run "an error does not stop the REPL; piped status 1" 1 '^2\n$' '^stdin:1: boom\nstack traceback:' -- "$S" repl

stdin_text=$'local = 1\nprint("after")\n' \
  expect_run "syntax error is reported and the REPL goes on" 1 '^after\n$' "^stdin:1: <name> expected near '='\n$" -- "$S" repl

stdin_text=$'for i = 1, 3 do\n' \
  expect_run "input ending inside a statement" 1 '^$' "'end' expected.*<eof>" -- "$S" repl

stdin_text=$'json = require("sidecar.core.json")\njson.decode("[]")\njson.decode("{}")\njson.null\n' \
  expect_run "JSON values print distinctly" 0 '^json\.array\(\)\njson\.object\(\)\njson\.null\n$' '' -- "$S" repl

stdin_text=$'print("no newline at end")' \
  expect_run "last line without a newline" 0 '^no newline at end\n$' '' -- "$S" repl

stdin_text='' expect_run "empty input" 0 '^$' '^$' -- "$S" repl

finish
