#!/usr/bin/env python3
"""Python-against-Python self-test of the interop scripts.

Runs every py_client.py scenario against py_server.py (both the reference
echorpc 1.0.0) and checks the observations, including the reference's known
bugs (see CONTRACT.md, "Reference divergences").  This proves the scripts and
the contract before any Rust code exists; it is not part of the Rust suite.

    PY=$(tests/interop/setup_venv.sh | tail -n1)
    "$PY" tests/interop/selftest.py [-v] [-k NAME]

Prints one "PASS name" / "FAIL name: why" line per check and ends with
"N passed, N failed"; exit status 1 if anything failed.  Every child process
is bounded by a timeout and killed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
PY = sys.executable
VERBOSE = False


# ── Child processes ─────────────────────────────────────────────────────────


class Server:
    """py_server.py as a child process, with its stdout lines collected."""

    def __init__(self, *args: str, port: int = 0) -> None:
        cmd = [PY, str(HERE / "py_server.py"), "--port", str(port), "--max-lifetime-s", "120", *args]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        first = self.proc.stdout.readline()
        if not first.startswith("listening "):
            raise RuntimeError(f"server did not start: {first!r} {self.proc.stderr.read()}")
        self.port = int(first.split()[1])
        self.lines: list[dict] = []
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def _pump(self) -> None:
        for line in self.proc.stdout:
            if VERBOSE:
                print("   server>", line.rstrip())
            self.lines.append(json.loads(line))

    def send(self, cmd: dict) -> None:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def wait_line(self, pred: Callable[[dict], bool], timeout: float = 5.0) -> dict | None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for line in list(self.lines):
                if pred(line):
                    return line
            time.sleep(0.02)
        return None

    def events(self, name: str) -> list[dict]:
        return [ln for ln in self.lines if ln.get("event") == name]

    def stop(self) -> int:
        try:
            self.send({"cmd": "stop"})
            code = self.proc.wait(timeout=5)
        except Exception:
            self.proc.kill()
            code = self.proc.wait()
        self.thread.join(timeout=2)
        return code

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


class Client:
    """py_client.py SCENARIO as a child process."""

    def __init__(self, scenario: str, url: str, *args: str) -> None:
        cmd = [PY, str(HERE / "py_client.py"), scenario, "--url", url, *args]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        self.lines: list[dict] = []
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            if VERBOSE:
                print("   client>", line.rstrip())
            self.lines.append(json.loads(line))

    def wait_step(self, name: str, timeout: float = 10.0) -> dict | None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for line in list(self.lines):
                if line.get("step") == name:
                    return line
            time.sleep(0.02)
        return None

    def send(self, cmd: dict) -> None:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def finish(self, timeout: float = 30.0) -> int:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = -999
        self.thread.join(timeout=2)
        if code != 0 and VERBOSE:
            print(self.proc.stderr.read())
        return code

    def step(self, name: str, client: str | None = None) -> dict:
        for line in self.lines:
            if line.get("step") == name and (client is None or line.get("client") == client):
                return line
        raise AssertionError(f"no step {name!r} (client {client}) in {self.lines}")

    def steps(self, name: str) -> list[dict]:
        return [ln for ln in self.lines if ln.get("step") == name]


def run_scenario(scenario: str, *client_args: str, server_args: tuple = ()) -> tuple[Client, Server, int]:
    server = Server(*server_args)
    client = Client(scenario, server.url, *client_args)
    code = client.finish()
    time.sleep(0.1)
    server.stop()
    return client, server, code


def err(line: dict) -> int | None:
    return (line.get("error") or {}).get("code")


# ── Checks (each raises AssertionError on failure) ──────────────────────────


def check_auth_ok() -> None:
    c, s, code = run_scenario("auth_ok")
    assert code == 0, code
    assert c.step("whoami")["result"] == {"role": "web", "client_id": "py-client", "tier": "gold"}
    meta = s.events("connect")[0]["meta"]
    assert meta == {"token": "secret", "role": "web", "client_id": "py-client", "tier": "gold",
                    "authenticated": True}, meta


def check_auth_bad() -> None:
    c, s, code = run_scenario("auth_bad")
    assert code == 0, code
    for label in ("wrong_token", "no_token"):
        assert err(c.step("connect", label)) == -32003, c.step("connect", label)
        after = c.step("after_401", label)
        assert after["failed_dials"] == 1 and after["connects"] == 0, after
    assert [e["accepted"] for e in s.events("auth")] == [False, False]
    assert s.events("auth")[1]["params"]["token"] == ""


def check_calls() -> None:
    c, _, code = run_scenario("calls")
    assert code == 0, code
    assert c.step("add")["result"] == {"sum": 3}
    assert c.step("double")["result"] == 42
    assert err(c.step("unknown_method")) == -32601
    # Reference divergence: bad params are -32603 (Rust server: -32602).
    for name in ("add_bad_type", "add_missing_field", "add_no_params"):
        assert err(c.step(name)) == -32603, c.step(name)
    assert c.step("fail")["error"] == {"code": -32050, "message": "custom failure",
                                       "data": {"why": "because", "n": [1, 2]}}
    assert c.step("fail_no_data")["error"] == {"code": 4000, "message": "plain"}
    assert c.step("boom")["error"] == {"code": -32603, "message": "boom"}


def check_batch() -> None:
    c, _, code = run_scenario("batch")
    assert code == 0, code
    slots = c.step("batch")["slots"]
    assert slots[0] == {"ok": True, "result": {"sum": 3}}
    assert slots[1]["error"] == {"code": -32050, "message": "custom failure", "data": {"k": 1}}
    assert slots[2]["error"]["code"] == -32601
    assert slots[3] == {"ok": True, "result": 10}
    assert slots[4]["error"]["code"] == -32603
    assert slots[5] == {"ok": True, "result": {"sum": 30}}
    assert c.step("batch_order")["slots"] == [{"ok": True, "result": "slept"},
                                              {"ok": True, "result": {"sum": 2}}]
    assert c.step("batch_single")["slots"] == [{"ok": True, "result": 2}]
    assert c.step("after_batch")["result"] == {"sum": 4}


def check_events() -> None:
    c, s, code = run_scenario("events")
    assert code == 0, code
    a, b = c.step("received", "a"), c.step("received", "b")
    assert a["sentinel"] and b["sentinel"], (a, b)
    assert a["chat"] == [{"text": "to all"}], a
    assert a["news"] == [{"n": 1}], a
    assert b["chat"] == [{"text": "hello from a"}, {"text": "to all"}, {"text": "to bots"},
                         {"text": "not to a"}], b
    assert b["news"] == [], b
    chat = s.events("chat")
    assert len(chat) == 1 and chat[0]["data"] == {"text": "hello from a"}
    assert chat[0]["client_id"] == "py-a"


def check_callback() -> None:
    c, s, code = run_scenario("callback")
    assert code == 0, code
    assert c.step("ask_double")["result"] == 42
    assert c.step("concurrent")["results"] == [2, 4, 6]
    assert len(c.steps("handled")) == 4
    assert err(c.step("ask_double_unregistered")) == -32601
    cb = s.events("callback")
    assert sum(1 for e in cb if e["ok"]) == 4 and sum(1 for e in cb if not e["ok"]) == 1


def check_batch_callback_deadlocks_in_reference() -> None:
    """Reference bug: the Python server's read loop awaits the whole batch, so
    the client's answers to the server's double calls are not read until
    the server-side request times out (here 1 s): those slots are -32002."""
    c, s, code = run_scenario("batch_callback", "--timeout-ms", "4000",
                              server_args=("--request-timeout-ms", "1000"))
    assert code == 0, code
    line = c.step("batch_callback")
    slots = line["slots"]
    assert [err(x) for x in slots[:2]] == [-32002, -32002], slots
    assert slots[2] == {"ok": True, "result": {"sum": 3}}
    assert 900 <= line["ms"] < 3500, line["ms"]
    assert len(c.steps("handled")) == 2  # our double did run and answer...
    assert [e["ok"] for e in s.events("callback")] == [False, False]  # ...too late
    assert c.step("after")["result"] == {"sum": 4}  # connection survives


def check_batch_callback_client_timeout() -> None:
    """Same deadlock, client batch timeout shorter than the server's: the
    whole batch fails with -32002 "batch timeout"."""
    c, _, code = run_scenario("batch_callback", "--timeout-ms", "500",
                              server_args=("--request-timeout-ms", "1500"))
    assert code == 0, code
    assert c.step("batch_callback")["error"] == {"code": -32002, "message": "batch timeout"}


def check_timeouts() -> None:
    c, _, code = run_scenario("timeouts")
    assert code == 0, code
    assert c.step("completion_order")["order"] == ["fast", "medium", "slow"]
    assert c.step("timeout")["error"] == {"code": -32002, "message": "timeout"}
    assert c.step("after_timeout")["result"] == {"sum": 2}


def check_heartbeat() -> None:
    c, s, code = run_scenario("heartbeat", "--ping-ms", "200", "--pong-timeout-ms", "200",
                              server_args=("--ping-ms", "150", "--pong-timeout-ms", "200"))
    assert code == 0, code
    hb = c.step("heartbeat")
    assert hb["connected_before"] and hb["connected_after"] and hb["disconnects"] == 0, hb
    assert hb["pongs_received"] >= 5 and hb["pings_received"] >= 5, hb
    assert c.step("after")["result"] == {"sum": 3}
    d = s.events("disconnect")[0]
    assert d["pings"] >= 5 and d["pongs"] >= 5, d


def check_no_pong() -> None:
    c, _, code = run_scenario("no_pong", "--hold-ms", "3000",
                              server_args=("--ping-ms", "300", "--pong-timeout-ms", "300"))
    assert code == 0, code
    line = c.step("no_pong")
    assert line["closed"] and line["pings_ignored"] >= 1, line
    assert 400 <= line["after_ms"] <= 2500, line


def check_server_mute_pongs() -> None:
    """The server stops answering pings: the reference client closes after
    ping interval + pong timeout, then reconnects."""
    s = Server()
    s.send({"cmd": "mute_pongs", "on": True})
    s.wait_line(lambda ln: ln.get("reply") == "mute_pongs")
    c = Client("heartbeat", s.url, "--ping-ms", "200", "--pong-timeout-ms", "200",
               "--hold-ms", "1500")
    code = c.finish()
    s.stop()
    assert code == 0, code
    hb = c.step("heartbeat")
    assert hb["disconnects"] >= 1 and hb["connects"] >= 2, hb
    assert s.events("ping_ignored"), "server never saw a ping"


def check_reconnect(kill: bool = True) -> None:
    s = Server()
    port = s.port
    c = Client("reconnect", s.url)
    assert c.wait_step("ready"), c.lines
    if kill:
        s.kill()
    else:
        s.stop()
    time.sleep(0.3)
    s2 = Server(port=port)  # same port: must bind again at once
    try:
        code = c.finish()
    finally:
        s2.stop()
    assert code == 0, (code, c.lines)
    assert c.steps("disconnected") and c.steps("reconnected"), c.lines
    assert c.step("announce")["ok"]
    chat = c.step("chat_after_reconnect")
    assert chat["received"], chat
    assert c.step("ask_double")["result"] == 10
    # Reference divergence: the in-flight call is not failed on disconnect;
    # it waits for its own timeout (3 s) and reports -32002.
    inflight = c.step("inflight")
    assert err(inflight) == -32002 and inflight["ms"] >= 2900, inflight
    assert s2.events("callback")[0]["result"] == 10


def check_reconnect_graceful() -> None:
    check_reconnect(kill=False)


def check_kick() -> None:
    s = Server()
    c = Client("interactive", s.url)
    assert c.wait_step("connect")
    s.send({"cmd": "kick", "client_id": "py-client"})
    ok = c.wait_step("reconnected", 5)
    c.send({"cmd": "exit"})
    code = c.finish()
    s.stop()
    assert code == 0 and ok, c.lines


def check_interactive_and_control() -> None:
    s = Server("--request-timeout-ms", "2000")
    c = Client("interactive", s.url, "--client-id", "py-i")
    assert c.wait_step("connect")
    c.send({"cmd": "register", "method": "double"})
    c.send({"cmd": "register", "method": "echo"})
    c.send({"cmd": "subscribe", "event": "chat"})
    assert c.wait_step("subscribe")
    c.send({"cmd": "request", "method": "add", "params": {"a": 2, "b": 3}, "tag": 1})
    assert c.wait_step("request")["result"] == {"sum": 5}
    s.send({"cmd": "call", "client_id": "py-i", "method": "double", "params": {"x": 4}, "tag": "t"})
    r = s.wait_line(lambda ln: ln.get("reply") == "call")
    assert r == {"reply": "call", "tag": "t", "ok": True, "result": 8}, r
    s.send({"cmd": "call", "method": "nope", "params": {}})
    r = s.wait_line(lambda ln: ln.get("reply") == "call" and not ln["ok"])
    assert r["error"]["code"] == -32601, r
    s.send({"cmd": "batch", "calls": [["double", {"x": 1}], ["echo", [1, 2]], ["nope", None]]})
    r = s.wait_line(lambda ln: ln.get("reply") == "batch")
    assert r["slots"][0] == {"ok": True, "result": 2}, r
    assert r["slots"][1] == {"ok": True, "result": [1, 2]}, r
    assert r["slots"][2]["error"]["code"] == -32601, r
    s.send({"cmd": "broadcast", "event": "chat", "data": {"text": "from stdin"}, "role": "web"})
    r = s.wait_line(lambda ln: ln.get("reply") == "broadcast")
    assert r["targets"] == 1, r
    assert c.wait_step("event")["data"] == {"text": "from stdin"}
    s.send({"cmd": "connections"})
    r = s.wait_line(lambda ln: ln.get("reply") == "connections")
    assert r["connections"][0]["meta"]["client_id"] == "py-i", r
    s.send({"cmd": "call", "client_id": "nobody", "method": "double", "params": {"x": 1}})
    r = s.wait_line(lambda ln: ln.get("reply") == "call" and "exception" in ln)
    assert r["exception"]["type"] == "LookupError", r
    c.send({"cmd": "exit"})
    assert c.finish() == 0
    assert s.stop() == 0


def check_raw_frames() -> None:
    """What the reference client answers to hand-made frames (see CONTRACT.md).

    The server sends raw frames with dispatch off, so the client's replies
    are only logged (frame_in), not handled by the server's own router.
    """
    s = Server("--log-frames")
    c = Client("interactive", s.url, "--client-id", "py-r")
    assert c.wait_step("connect")
    s.send({"cmd": "dispatch", "on": False})
    assert s.wait_line(lambda ln: ln.get("reply") == "dispatch")

    def client_reply(text: str) -> list[Any]:
        n = len(s.events("frame_in"))
        s.send({"cmd": "raw", "client_id": "py-r", "text": text})
        time.sleep(0.3)
        return [json.loads(f["text"]) for f in s.events("frame_in")[n:]]

    invalid = {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "Invalid Request"}}
    pong = {"jsonrpc": "2.0", "method": "pong"}
    assert client_reply('{"jsonrpc":"2.0","method":"ping"}') == [pong]
    # A ping inside a batch is answered by a pong inside an array.
    assert client_reply('[{"jsonrpc":"2.0","method":"ping"}]') == [[pong]]
    got = client_reply('[{"jsonrpc":"2.0","method":"ping"},{"jsonrpc":"2.0","id":1,"method":"echo","params":5}]')
    assert got == [[pong, {"jsonrpc": "2.0", "id": 1,
                           "error": {"code": -32601, "message": "method not found: echo"}}]], got
    assert client_reply("not json") == []  # silence, no -32700
    assert client_reply("[]") == [invalid]  # single object, not an array
    assert client_reply("[1]") == [[invalid]]
    # A response-shaped item with an unknown id inside a batch is answered with -32600.
    got = client_reply('[{"jsonrpc":"2.0","id":"zz","result":1}]')
    assert got == [[{**invalid, "id": "zz"}]], got
    # ...and so is an error response with id null (what [1] produced above).
    assert client_reply(json.dumps([invalid])) == [[invalid]]
    # Single unknown response: silence.
    assert client_reply('{"jsonrpc":"2.0","id":"zz","result":1}') == []
    # Numeric id echoed as a number; jsonrpc member not checked.
    got = client_reply('{"jsonrpc":"2.0","id":7,"method":"nope"}')
    assert got == [{"jsonrpc": "2.0", "id": 7,
                    "error": {"code": -32601, "message": "method not found: nope"}}], got
    got = client_reply('{"id":8,"method":"nope"}')
    assert got and got[0]["error"]["code"] == -32601, got
    c.send({"cmd": "exit"})
    assert c.finish() == 0
    s.stop()


def check_two_references_loop_on_error_batches() -> None:
    """Reference bug: each side answers the other's batch of id-less error
    responses with another one, forever (here stopped by kicking)."""
    s = Server("--log-frames")
    c = Client("interactive", s.url, "--client-id", "py-l")
    assert c.wait_step("connect")
    s.send({"cmd": "raw", "client_id": "py-l", "text": "[1]"})
    time.sleep(0.5)
    n = len(s.events("frame_in"))
    s.send({"cmd": "kick", "client_id": "py-l"})
    c.send({"cmd": "exit"})
    c.finish()
    s.stop()
    assert n > 20, n


def check_non_object_frame_kills_connection() -> None:
    """Reference bug: a single frame that is valid JSON but not an object or
    array (e.g. 42) raises in the read loop and the connection closes."""
    s = Server()
    c = Client("interactive", s.url, "--no-reconnect")
    assert c.wait_step("connect")
    c.send({"cmd": "raw", "text": "42"})
    closed = s.wait_line(lambda ln: ln.get("event") == "disconnect", 3)
    c.send({"cmd": "exit"})
    c.finish()
    s.stop()
    assert closed, "connection survived a non-object frame"


def check_http_503() -> None:
    """Non-401 refusals: without reconnect, connect fails -32001 "connection
    failed"; with reconnect, connect() times out with a plain TimeoutError
    (not an RpcError) while the client keeps dialling in the background and
    connects once the server accepts again."""
    s = Server("--http-status", "503")
    c = Client("interactive", s.url, "--no-connect", "--no-reconnect")
    c.send({"cmd": "connect", "timeout_ms": 2000})
    line = c.wait_step("connect")
    c.send({"cmd": "exit"})
    c.finish()
    assert line["error"] == {"code": -32001, "message": "connection failed"}, line
    assert len(c.steps("connect_attempt_failed")) == 1, c.lines
    c = Client("interactive", s.url, "--no-connect")
    c.send({"cmd": "connect", "timeout_ms": 1000})
    line = c.wait_step("connect")
    assert line["exception"]["type"] == "TimeoutError", line
    assert len(c.steps("connect_attempt_failed")) >= 3, c.lines
    s.send({"cmd": "http_status", "status": None})
    ok = c.wait_step("connected", 3)
    c.send({"cmd": "exit"})
    c.finish()
    s.stop()
    assert ok, c.lines
    assert {e["status"] for e in s.events("upgrade")} == {503, None}


def check_connect_refused() -> None:
    """Nothing listening: -32001 without reconnect, TimeoutError with it."""
    s = Server()
    url = s.url
    s.stop()
    c = Client("interactive", url, "--no-connect", "--no-reconnect")
    c.send({"cmd": "connect", "timeout_ms": 2000})
    line = c.wait_step("connect")
    c.send({"cmd": "exit"})
    c.finish()
    assert line["error"] == {"code": -32001, "message": "connection failed"}, line
    c = Client("interactive", url, "--no-connect")
    c.send({"cmd": "connect", "timeout_ms": 700})
    line = c.wait_step("connect")
    c.send({"cmd": "exit"})
    c.finish()
    assert line["exception"]["type"] == "TimeoutError", line


def check_wire_format_of_reference_client() -> None:
    """Upgrade path, request ids (8 hex digits), params omitted when None."""
    import re
    s = Server("--log-frames")
    c = Client("interactive", s.url, "--role", "web", "--client-id", "a b&c")
    assert c.wait_step("connect")
    c.send({"cmd": "request", "method": "whoami"})
    c.send({"cmd": "batch", "calls": [["add", {"a": 1, "b": 2}], ["whoami", None]]})
    c.send({"cmd": "publish", "event": "chat", "data": {"text": "x"}})
    c.wait_step("batch")
    c.wait_step("publish")
    time.sleep(0.2)
    c.send({"cmd": "exit"})
    c.finish()
    s.stop()
    assert s.events("upgrade")[0]["path"] == "/?token=secret&role=web&client_id=a+b%26c"
    assert s.events("connect")[0]["meta"]["client_id"] == "a b&c"
    frames = [json.loads(f["text"]) for f in s.events("frame_in")]
    single = next(f for f in frames if isinstance(f, dict) and f.get("method") == "whoami")
    assert set(single) == {"jsonrpc", "id", "method"}, single
    assert re.fullmatch(r"[0-9a-f]{8}", single["id"]), single
    batch = next(f for f in frames if isinstance(f, list))
    assert [set(x) for x in batch] == [{"jsonrpc", "id", "method", "params"},
                                       {"jsonrpc", "id", "method"}], batch
    note = next(f for f in frames if isinstance(f, dict) and f.get("method") == "chat")
    assert note == {"jsonrpc": "2.0", "method": "chat", "params": {"text": "x"}}, note


def check_deadline() -> None:
    """A scenario that cannot finish exits 2 at its deadline."""
    s = Server()
    c = Client("reconnect", s.url, "--deadline-s", "2")  # nobody restarts the server
    code = c.finish(10)
    s.stop()
    assert code == 2 and c.lines[-1]["step"] == "deadline_exceeded", (code, c.lines[-1:])


def check_stdin_eof_stops_server() -> None:
    s = Server()
    s.proc.stdin.close()
    code = s.proc.wait(timeout=5)
    assert code == 0, code


CHECKS: dict[str, Callable[[], None]] = {
    name[len("check_"):]: fn for name, fn in globals().items()
    if name.startswith("check_") and callable(fn)
}


def main() -> int:
    global VERBOSE
    p = argparse.ArgumentParser()
    p.add_argument("-v", action="store_true")
    p.add_argument("-k", default="")
    args = p.parse_args()
    VERBOSE = args.v
    passed = failed = 0
    for name, fn in CHECKS.items():
        if args.k not in name:
            continue
        t0 = time.monotonic()
        try:
            fn()
            passed += 1
            print(f"PASS {name} ({time.monotonic() - t0:.1f}s)", flush=True)
        except Exception as exc:
            failed += 1
            print(f"FAIL {name}: {type(exc).__name__}: {exc}", flush=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
