"""An installed Sidecar from Python, with ctypes alone: the same as embed.cpp, and a preset run
with parameters (a preset and a runner of REPO's own, which a Host with trust "all" runs).
    python3 embed.py LIBSIDECAR REPO"""
import ctypes
import json
import os
import sys
import threading
import time

lib = ctypes.CDLL(sys.argv[1])
repo = sys.argv[2]
lib.sidecar_host_new.restype = ctypes.c_void_p
lib.sidecar_host_new.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
lib.sidecar_eval.restype = ctypes.c_void_p  # freed with sidecar_free, so not c_char_p
lib.sidecar_eval.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
lib.sidecar_call.restype = ctypes.c_void_p
lib.sidecar_call.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p]
lib.sidecar_free.argtypes = [ctypes.c_void_p]
lib.sidecar_interrupt.argtypes = [ctypes.c_void_p]
lib.sidecar_host_free.argtypes = [ctypes.c_void_p]
EVENT_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p)
NATIVE_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p)
lib.sidecar_on_event.argtypes = [ctypes.c_void_p, EVENT_FN, ctypes.c_void_p]
lib.sidecar_register_function.argtypes = [ctypes.c_void_p, ctypes.c_char_p, NATIVE_FN, ctypes.c_void_p]
lib.sidecar_reply_value.argtypes = [ctypes.c_void_p, ctypes.c_char_p]

failures = 0
started = threading.Event()


def expect(what, ok, detail):
    global failures
    print(("ok " if ok else "FAIL ") + what + ("" if ok else ": " + str(detail)), flush=True)
    failures += 0 if ok else 1


def reply(raw):
    text = ctypes.string_at(raw).decode()
    lib.sidecar_free(raw)
    return json.loads(text)


def evaluate(host, code):
    return reply(lib.sidecar_eval(host, code.encode()))


def call(host, module, function, *args):
    return reply(lib.sidecar_call(host, module.encode(), function.encode(), json.dumps(args).encode()))


# The repository's own preset and runner: code of the repository, run only because the host below
# is made with trust "all" (this program made the repository itself).
PRESET = """local preset = require("sidecar.preset.define")
return preset.define({
  name = "greet",
  summary = "An agent greets someone",
  params = { who = { type = "string", default = "world", doc = "whom to greet" } },
  run = function(ctx, p)
    local run = ctx:agent({ kind = "scan", prompt = "Greet " .. p.who .. "." })
    return { text = p.who .. ": " .. tostring(run.output), data = { who = p.who, status = run.status } }
  end,
})
"""
CONFIG = """return { runners = { greeter = { command = { "sh", "-c", "echo hello from the greeter" } } } }
"""


def run_preset():
    os.makedirs(os.path.join(repo, ".agent", "presets"), exist_ok=True)
    with open(os.path.join(repo, ".agent", "presets", "greet.lua"), "w") as f:
        f.write(PRESET)
    with open(os.path.join(repo, ".agent", "config.lua"), "w") as f:
        f.write(CONFIG)
    err = ctypes.c_void_p()
    vetted = lib.sidecar_host_new(json.dumps({"trust": "all"}).encode(), ctypes.byref(err))
    assert vetted, ctypes.string_at(err).decode()
    r = call(vetted, "sidecar.service.preset_run", "run",
             {"name": "greet", "repo": repo, "runner": "greeter", "params": ["who=Ada"]})
    lib.sidecar_host_free(vetted)
    value = r.get("value") or {}
    expect("preset with parameters", r["ok"] and value.get("ok") and value["data"]["result"] ==
           {"who": "Ada", "status": "review"} and value["text"] == "Ada: hello from the greeter\n", r)


@EVENT_FN
def on_event(_, event):
    e = json.loads(event)
    print("event", e["kind"], flush=True)
    if e["kind"] == "run.started":
        started.set()


@NATIVE_FN
def greet(_, args, reply):
    lib.sidecar_reply_value(reply, json.dumps({"text": "hello", "args": json.loads(args)}).encode())
    return 0


error = ctypes.c_void_p()
host = lib.sidecar_host_new(None, ctypes.byref(error))
assert host, ctypes.string_at(error).decode()
lib.sidecar_on_event(host, on_event, None)
lib.sidecar_register_function(host, b"app.greet", greet, None)
r = evaluate(host, "local g = require('app').greet('world') return g.text .. ' ' .. g.args[1]")
expect("native function", r == {"ok": True, "value": "hello world"}, r)
agent = ("return assert(require('sidecar.agent.run').execute({ runner = 'command', prompt = 'hi', repo = '%s', "
         "command = { %s } })).output")
r = evaluate(host, agent % (repo, "'sh', '-c', 'echo from-the-agent'"))
expect("agent output", r == {"ok": True, "value": "from-the-agent\n"}, r)
started.clear()


def stop():
    started.wait(60)
    time.sleep(0.5)
    lib.sidecar_interrupt(host)


stopper = threading.Thread(target=stop)
stopper.start()
r = evaluate(host, agent % (repo, "'sleep', '60'"))
stopper.join()
expect("cancelled", not r["ok"] and r["error"]["kind"] == "interrupted", r)
lib.sidecar_host_free(host)
run_preset()
sys.exit(0 if failures == 0 else 1)
