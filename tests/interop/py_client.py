#!/usr/bin/env python3
"""Reference-side test client for the echorpc interop suite.

Runs ``echorpc.EchoClient`` (PyPI echorpc 1.0.0) scenarios against a server on
127.0.0.1 — normally the Rust test server, which implements the command set of
``CONTRACT.md`` (the same as ``py_server.py``).  The script prints raw
observations; the Rust test decides what is right.

Command line
------------
    py_client.py SCENARIO --url ws://127.0.0.1:PORT [options]

Scenarios: auth_ok, auth_bad, calls, batch, events, callback, batch_callback,
timeouts, heartbeat, no_pong, reconnect, interactive (see ``SCENARIOS`` and
each ``scenario_*`` docstring; CONTRACT.md lists the exact lines).

Options (times in milliseconds unless noted):
    --token secret  --bad-token wrong  --role web  --client-id py-client
    --ping-ms / --pong-timeout-ms   (heartbeat defaults 200/200; others 30000/5000)
    --timeout-ms 5000               request timeout of the client
    --initial-reconnect-ms 100  --max-reconnect-ms 500  --no-reconnect
    --hold-ms                       how long heartbeat/no_pong stay connected
    --deadline-s 20                 overall bound (interactive: 120)
    --log-frames                    print every incoming frame
    --verbose                       echorpc logging on stderr
    --tls-ca root.pem               with a wss:// URL: the CA to trust (see below)

TLS: the reference's WsClient dials ``websockets.connect(url)`` with no ``ssl=``
argument; for ``wss://`` websockets then uses ``ssl.create_default_context()``,
which trusts OpenSSL's default verify paths.  ``--tls-ca PATH`` sets
``SSL_CERT_FILE=PATH`` in this process before anything dials, so that default
context trusts exactly that CA (names, including IP addresses, are verified as
usual).  The reference's code is not touched.

Stdout: one JSON object per line, every one with a ``"step"`` key:

    {"step":S,"client":L,"ok":true,"result":R,"ms":T}
    {"step":S,"client":L,"ok":false,"error":{"code":C,"message":M,"data":D?},"ms":T}
    {"step":S,"client":L,"ok":false,"exception":{"type":"TimeoutError","message":M},"ms":T}
    {"step":"batch","client":L,"ok":true,"slots":[{"ok":true,"result":R}|{"ok":false,"error":{...}}],"ms":T}
    {"step":"connected"|"reconnected","client":L,"n":K}       on_connect hook (K-th connect)
    {"step":"disconnected","client":L}                      on_disconnect after being connected
    {"step":"connect_attempt_failed","client":L}            on_disconnect for a failed dial
    {"step":"event","client":L,"event":E,"data":X}           a subscribed notification arrived
    {"step":"handled","client":L,"method":M,"params":X}      the server called one of our methods
    {"step":"frame_in","client":L,"text":RAW}                 (--log-frames only)
    ... scenario-specific summary lines (see the scenario docstrings) ...
    {"step":"done"}                                          last line of a scenario that ran

Exit status: 0 when the scenario ran to its end (whatever it observed);
2 when the overall deadline passed (a {"step":"deadline_exceeded"} line is
printed); 1 on an unexpected exception (traceback on stderr).

Interactive mode (scenario ``interactive``): the client connects (unless
--no-connect), then obeys JSON lines on stdin, each in its own task; every
command may carry "tag", echoed in its output line:

    {"cmd":"connect","timeout_ms":T?}            -> {"step":"connect",...}
    {"cmd":"request","method":M,"params":X?,"timeout_ms":T?} -> {"step":"request","method":M,...}
    {"cmd":"batch","calls":[[M,X],...],"timeout_ms":T?}      -> {"step":"batch",...}
    {"cmd":"publish","event":E,"data":X?}        -> {"step":"publish","ok":true,...}
    {"cmd":"subscribe","event":E}                -> {"step":"subscribe","ok":true}; later "event" lines
    {"cmd":"register","method":M,"handler":H?}   H in double|echo|fail|sleep (default: M)
    {"cmd":"unregister","method":M}
    {"cmd":"raw","text":S}                       send S as one text frame
    {"cmd":"ignore_pings","on":bool}             stop/resume answering single-frame pings
    {"cmd":"state"}       -> {"step":"state","connected":bool,"connects":K,"disconnects":D,
                              "pings_received":P,"pongs_received":Q,"pings_ignored":I}
    {"cmd":"disconnect"}                         intentional disconnect
    {"cmd":"exit"}                               prints {"step":"done"}, exit 0 (EOF does too)

Client-side methods available to ``register``: double {x} -> x*2,
echo X -> X, fail {code,message,data?} -> that error, sleep {ms} -> "slept".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import threading
import time
import traceback
from typing import Any, Awaitable, Callable

from echorpc import EchoClient, RpcError

# ── Output helpers ──────────────────────────────────────────────────────────


def out(obj: dict) -> None:
    """Print one JSON line on stdout and flush it.

    If the reader is gone (the harness died), exit at once: an orphan
    must not keep running.
    """
    try:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        os._exit(1)


def failure_fields(exc: BaseException) -> dict:
    if isinstance(exc, RpcError):
        return {"ok": False, "error": exc.to_dict()}
    return {"ok": False, "exception": {"type": type(exc).__name__, "message": str(exc)}}


def slot(value: Any) -> dict:
    if isinstance(value, BaseException):
        return failure_fields(value)
    return {"ok": True, "result": value}


# Failures that are observations (printed), not script bugs.
OBSERVED = (RpcError, asyncio.TimeoutError, TimeoutError, ConnectionError, OSError)


async def step(name: str, awaitable: Awaitable[Any], *, client: str = "main",
               batch: bool = False, **extra: Any) -> dict:
    """Await one operation and print its outcome as a step line."""
    t0 = time.monotonic()
    line: dict[str, Any] = {"step": name, "client": client, **extra}
    try:
        result = await awaitable
        line["ok"] = True
        if batch:
            line["slots"] = [slot(r) for r in result]
        else:
            line["result"] = result
    except OBSERVED as exc:
        line.update(failure_fields(exc))
    line["ms"] = round((time.monotonic() - t0) * 1000)
    out(line)
    return line


async def until(pred: Callable[[], bool], timeout: float, poll: float = 0.02) -> bool:
    """Wait until pred() is true or timeout seconds passed; return pred()."""
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() >= end:
            return False
        await asyncio.sleep(poll)
    return True


# ── Client-side methods the server may call ─────────────────────────────────


async def _sleep(params: Any) -> str:
    await asyncio.sleep(params["ms"] / 1000)
    return "slept"


def _fail(params: Any) -> Any:
    raise RpcError(params["code"], params["message"], params.get("data"))


CLIENT_METHODS: dict[str, Callable[[Any], Any]] = {
    "double": lambda p: p["x"] * 2,
    "echo": lambda p: p,
    "fail": _fail,
    "sleep": _sleep,
}


# ── An observed EchoClient ──────────────────────────────────────────────────


class Peer:
    """An EchoClient plus the hooks and counters the scenarios print."""

    def __init__(self, args: argparse.Namespace, label: str = "main", *,
                 token: str | None = None, role: str | None = None,
                 client_id: str | None = None, auto_reconnect: bool | None = None,
                 ping_ms: float | None = None, pong_timeout_ms: float | None = None) -> None:
        self.label = label
        self.log_frames = args.log_frames
        self.connects = 0
        self.disconnects = 0
        self.failed_dials = 0
        self.was_connected = False
        self.pings_received = 0
        self.pongs_received = 0
        self.pings_ignored = 0
        self.ignore_pings = False
        self.events: list[tuple[str, Any]] = []
        self.client = EchoClient(
            args.url,
            token=args.token if token is None else token,
            role=args.role if role is None else role,
            client_id=args.client_id if client_id is None else client_id,
            ping_interval=(ping_ms or args.ping_ms) / 1000,
            pong_timeout=(pong_timeout_ms or args.pong_timeout_ms) / 1000,
            initial_reconnect_delay=args.initial_reconnect_ms / 1000,
            max_reconnect_delay=args.max_reconnect_ms / 1000,
            auto_reconnect=(not args.no_reconnect) if auto_reconnect is None else auto_reconnect,
            timeout=args.timeout_ms / 1000,
        )
        # Reference hooks are called synchronously (a coroutine would never run).
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self._sniff_frames()

    # hooks
    def _on_connect(self) -> None:
        self.connects += 1
        self.was_connected = True
        name = "connected" if self.connects == 1 else "reconnected"
        out({"step": name, "client": self.label, "n": self.connects})

    def _on_disconnect(self) -> None:
        # The reference fires on_disconnect after every dial, also failed ones.
        if self.was_connected:
            self.was_connected = False
            self.disconnects += 1
            out({"step": "disconnected", "client": self.label})
        else:
            self.failed_dials += 1
            out({"step": "connect_attempt_failed", "client": self.label})

    def _sniff_frames(self) -> None:
        """Count/log incoming frames; optionally leave pings unanswered."""
        original = self.client.ws.on_message

        def on_message(raw: str) -> Any:
            if self.log_frames:
                out({"step": "frame_in", "client": self.label, "text": raw})
            try:
                msg = json.loads(raw)
            except ValueError:
                msg = None
            items = msg if isinstance(msg, list) else [msg]
            methods = [m.get("method") for m in items if isinstance(m, dict)]
            self.pings_received += methods.count("ping")
            self.pongs_received += methods.count("pong")
            if self.ignore_pings and isinstance(msg, dict) and msg.get("method") == "ping":
                self.pings_ignored += 1
                return None
            return original(raw)

        self.client.ws.on_message = on_message

    # helpers
    @property
    def connected(self) -> bool:
        return self.client.connected

    def register(self, method: str, handler_name: str | None = None) -> None:
        fn = CLIENT_METHODS[handler_name or method]

        async def handler(params: Any) -> Any:
            out({"step": "handled", "client": self.label, "method": method, "params": params})
            result = fn(params)
            if asyncio.iscoroutine(result):
                result = await result
            return result

        self.client.register(method, handler)

    def subscribe(self, event: str) -> None:
        def callback(data: Any) -> None:
            self.events.append((event, data))
            out({"step": "event", "client": self.label, "event": event, "data": data})

        self.client.subscribe(event, callback)

    def received(self, event: str) -> list[Any]:
        return [d for e, d in self.events if e == event]

    def counters(self) -> dict:
        return {"connected": self.connected, "connects": self.connects,
                "disconnects": self.disconnects, "failed_dials": self.failed_dials,
                "pings_received": self.pings_received, "pongs_received": self.pongs_received,
                "pings_ignored": self.pings_ignored}

    async def connect(self, name: str = "connect", timeout: float = 5.0) -> dict:
        return await step(name, self.client.connect(timeout=timeout), client=self.label)

    async def call(self, name: str, method: str, params: Any = None, **kw: Any) -> dict:
        return await step(name, self.client.request(method, params, **kw), client=self.label)

    async def batch(self, name: str, calls: list, **kw: Any) -> dict:
        return await step(name, self.client.batch_request(calls, **kw),
                          client=self.label, batch=True)

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.client.disconnect(), 3)
        except Exception:  # cleanup only
            pass


# ── Scenarios ───────────────────────────────────────────────────────────────


async def scenario_auth_ok(args: argparse.Namespace) -> None:
    """Token accepted: connect, then whoami reports role/client_id/tier."""
    p = Peer(args)
    await p.connect()
    await p.call("whoami", "whoami")
    out({"step": "state", "client": p.label, **p.counters()})
    await p.close()


async def scenario_auth_bad(args: argparse.Namespace) -> None:
    """Wrong token, then no token: connect fails (expect -32003), no retries.

    Extra line per attempt after 500 ms:
    {"step":"after_401","client":L,"connected":false,"failed_dials":N,...}
    """
    for label, token in (("wrong_token", args.bad_token), ("no_token", "")):
        p = Peer(args, label, token=token, auto_reconnect=True)
        await p.connect("connect")
        await asyncio.sleep(0.5)  # a retrying client would dial again in 100 ms
        out({"step": "after_401", "client": label, **p.counters()})
        await p.close()


async def scenario_calls(args: argparse.Namespace) -> None:
    """Single requests: results, unknown method, bad params, custom and internal errors."""
    p = Peer(args)
    await p.connect()
    await p.call("add", "add", {"a": 1, "b": 2})
    await p.call("double", "double", {"x": 21})
    await p.call("unknown_method", "no_such_method", {"a": 1})
    await p.call("add_bad_type", "add", {"a": "x", "b": 2})
    await p.call("add_missing_field", "add", {"a": 1})
    await p.call("add_no_params", "add")
    await p.call("fail", "fail", {"code": -32050, "message": "custom failure",
                                  "data": {"why": "because", "n": [1, 2]}})
    await p.call("fail_no_data", "fail", {"code": 4000, "message": "plain"})
    await p.call("boom", "boom")
    await p.call("whoami", "whoami")
    await p.close()


async def scenario_batch(args: argparse.Namespace) -> None:
    """batch_request: per-slot results in call order; failures stay in their slot."""
    p = Peer(args)
    await p.connect()
    await p.batch("batch", [
        ("add", {"a": 1, "b": 2}),
        ("fail", {"code": -32050, "message": "custom failure", "data": {"k": 1}}),
        ("no_such_method", {}),
        ("double", {"x": 5}),
        ("add", {"a": "x", "b": 2}),
        ("add", {"a": 10, "b": 20}),
    ])
    await p.batch("batch_order", [("sleep", {"ms": 200}), ("add", {"a": 1, "b": 1})])
    await p.batch("batch_single", [("double", {"x": 1})])
    await p.call("after_batch", "add", {"a": 2, "b": 2})
    await p.close()


async def scenario_events(args: argparse.Namespace) -> None:
    """Pub/sub with two clients: a (role web, id py-a) and b (role bot, id py-b).

    a publishes chat (server rebroadcasts to b only), then asks the server to
    announce to all / to role bot / to all but a, and to emit "news" to a.
    Each client finally emits itself a "sentinel" event and waits for it.
    Summary lines: {"step":"received","client":"a"|"b","chat":[...],"news":[...],
    "sentinel":bool}
    """
    a = Peer(args, "a", role="web", client_id="py-a")
    b = Peer(args, "b", role="bot", client_id="py-b")
    for peer in (a, b):
        peer.subscribe("chat")
        peer.subscribe("news")
        peer.subscribe("sentinel")
        await peer.connect()
    await step("publish_chat", a.client.publish("chat", {"text": "hello from a"}), client="a")
    await a.call("announce_all", "announce", {"text": "to all"})
    await a.call("announce_role", "announce", {"text": "to bots", "role": "bot"})
    await a.call("announce_except", "announce", {"text": "not to a", "except_me": True})
    await a.call("emit_news", "emit", {"event": "news", "data": {"n": 1}})
    for peer in (a, b):
        await peer.call("emit_sentinel", "emit", {"event": "sentinel", "data": peer.label})
    for peer in (a, b):
        got = await until(lambda peer=peer: bool(peer.received("sentinel")), 3.0)
        await asyncio.sleep(0.2)  # let stragglers arrive
        out({"step": "received", "client": peer.label, "chat": peer.received("chat"),
             "news": peer.received("news"), "sentinel": got})
    await a.close()
    await b.close()


async def scenario_callback(args: argparse.Namespace) -> None:
    """The server calls back into the client while the client's call is pending.

    ask_double {x} makes the server call our double {x}; also three at once, and
    once from a client that registered nothing (the callee's -32601 comes back).
    """
    p = Peer(args)
    p.register("double")
    await p.connect()
    await p.call("ask_double", "ask_double", {"x": 21})
    lines = await asyncio.gather(*(p.call(f"ask_double_{x}", "ask_double", {"x": x})
                                   for x in (1, 2, 3)))
    out({"step": "concurrent", "client": p.label,
         "results": [ln.get("result") for ln in lines]})
    bare = Peer(args, "bare", client_id="py-bare")
    await bare.connect()
    await bare.call("ask_double_unregistered", "ask_double", {"x": 1})
    await bare.close()
    await p.close()


async def scenario_batch_callback(args: argparse.Namespace) -> None:
    """A batch whose items make the server call back into our double.

    Works against a correct server (slots 2, 4, {"sum":3}); the reference
    Python server deadlocks until its request timeout (slots -32002) or our
    batch timeout (--timeout-ms; whole-batch -32002), see CONTRACT.md.
    """
    p = Peer(args)
    p.register("double")
    await p.connect()
    await p.batch("batch_callback", [("ask_double", {"x": 1}), ("ask_double", {"x": 2}),
                                     ("add", {"a": 1, "b": 2})])
    await p.call("after", "add", {"a": 2, "b": 2})
    out({"step": "state", "client": p.label, **p.counters()})
    await p.close()


async def scenario_timeouts(args: argparse.Namespace) -> None:
    """Out-of-order completion and a client-side timeout.

    Lines: slow/medium/fast in completion order, then
    {"step":"completion_order","order":[...]}, then "timeout" (sleep 1000 ms
    with a 200 ms timeout: -32002) and "after_timeout" (add still works).
    """
    p = Peer(args)
    await p.connect()
    order: list[str] = []

    async def tracked(name: str, method: str, params: Any) -> None:
        await p.call(name, method, params)
        order.append(name)

    await asyncio.gather(tracked("slow", "sleep", {"ms": 400}),
                         tracked("medium", "sleep", {"ms": 150}),
                         tracked("fast", "add", {"a": 1, "b": 2}))
    out({"step": "completion_order", "client": p.label, "order": order})
    await p.call("timeout", "sleep", {"ms": 1000}, timeout=0.2)
    await asyncio.sleep(1.0)  # the late response arrives and must be ignored
    await p.call("after_timeout", "add", {"a": 1, "b": 1})
    await p.close()


async def scenario_heartbeat(args: argparse.Namespace) -> None:
    """Stay connected --hold-ms with short client pings; count heartbeats.

    Summary: {"step":"heartbeat","client":L,"connected_before":bool,
    "connected_after":bool,"held_ms":T,"disconnects":D,"pings_received":P
    (server pings), "pongs_received":Q (answers to ours),...}, then "after"
    (add still works).
    """
    p = Peer(args, ping_ms=args.ping_ms_or(200), pong_timeout_ms=args.pong_timeout_ms_or(200))
    await p.connect()
    before = p.connected
    t0 = time.monotonic()
    await asyncio.sleep(args.hold_ms_or(1500) / 1000)
    out({"step": "heartbeat", "client": p.label, "connected_before": before,
         "connected_after": p.connected, "held_ms": round((time.monotonic() - t0) * 1000),
         **p.counters()})
    await p.call("after", "add", {"a": 1, "b": 2})
    await p.close()


async def scenario_no_pong(args: argparse.Namespace) -> None:
    """Never answer the server's pings: a correct server closes us after
    its ping interval + pong timeout.  Our own pings are off (long interval),
    and we do not reconnect.

    Summary: {"step":"no_pong","client":L,"closed":bool,"after_ms":T,
    "pings_ignored":N,...}
    """
    p = Peer(args, auto_reconnect=False, ping_ms=args.ping_ms_or(600_000),
             pong_timeout_ms=args.pong_timeout_ms_or(600_000))
    p.ignore_pings = True
    await p.connect()
    t0 = time.monotonic()
    closed = await until(lambda: not p.connected, args.hold_ms_or(5000) / 1000)
    out({"step": "no_pong", "client": p.label, "closed": closed,
         "after_ms": round((time.monotonic() - t0) * 1000), **p.counters()})
    await p.close()


async def scenario_reconnect(args: argparse.Namespace) -> None:
    """Survive a server restart (the harness kills and restarts the server on
    the same port after seeing {"step":"ready"}).

    Before "ready", a call sleep {ms:60000} is left in flight (own timeout
    --inflight-timeout-ms, default 3000).  After the reconnect: announce makes
    the server publish chat (our subscription must survive) and ask_double
    makes it call our double (our registration must survive).
    Lines: connected, ready, disconnected, [connect_attempt_failed...],
    reconnected, announce, {"step":"chat_after_reconnect","received":bool,
    "chat":[...]}, handled, ask_double, inflight (with "ms"), done.
    """
    p = Peer(args)
    p.subscribe("chat")
    p.register("double")
    await p.connect()
    inflight = asyncio.ensure_future(p.call(
        "inflight", "sleep", {"ms": 60_000}, timeout=args.inflight_timeout_ms / 1000))
    await asyncio.sleep(0.1)  # make sure the request is on the wire
    out({"step": "ready", "client": p.label})
    await until(lambda: p.disconnects >= 1, args.deadline_s)
    await until(lambda: p.connects >= 2 and p.connected, args.deadline_s)
    await p.call("announce", "announce", {"text": "after reconnect"})
    got = await until(lambda: {"text": "after reconnect"} in p.received("chat"), 3.0)
    out({"step": "chat_after_reconnect", "client": p.label, "received": got,
         "chat": p.received("chat")})
    await p.call("ask_double", "ask_double", {"x": 5})
    await inflight
    out({"step": "state", "client": p.label, **p.counters()})
    await p.close()


async def scenario_interactive(args: argparse.Namespace) -> None:
    """Obey JSON commands on stdin (see the module docstring)."""
    p = Peer(args)
    if not args.no_connect:
        await p.connect()
    queue: asyncio.Queue[dict | None] = asyncio.Queue()
    start_stdin_reader(asyncio.get_running_loop(), queue)
    tasks: set[asyncio.Task] = set()
    while True:
        cmd = await queue.get()
        if cmd is None or cmd.get("cmd") == "exit":
            break
        task = asyncio.ensure_future(run_command(p, cmd))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    for task in list(tasks):
        task.cancel()
    await p.close()


async def run_command(p: Peer, cmd: dict) -> None:
    """One interactive command; its outcome is printed as a step line."""
    name = cmd.get("cmd")
    extra = {"tag": cmd["tag"]} if "tag" in cmd else {}
    timeout = cmd["timeout_ms"] / 1000 if cmd.get("timeout_ms") is not None else None
    c = p.client
    try:
        if name == "connect":
            await step("connect", c.connect(timeout=timeout or 5.0), client=p.label, **extra)
        elif name == "request":
            await step("request", c.request(cmd["method"], cmd.get("params"), timeout=timeout),
                       client=p.label, method=cmd["method"], **extra)
        elif name == "batch":
            calls = [(m, x) for m, x in cmd["calls"]]
            await step("batch", c.batch_request(calls, timeout=timeout), client=p.label,
                       batch=True, **extra)
        elif name == "publish":
            await step("publish", c.publish(cmd["event"], cmd.get("data")), client=p.label,
                       event=cmd["event"], **extra)
        elif name == "subscribe":
            p.subscribe(cmd["event"])
            out({"step": "subscribe", "client": p.label, "ok": True, "event": cmd["event"], **extra})
        elif name == "register":
            p.register(cmd["method"], cmd.get("handler"))
            out({"step": "register", "client": p.label, "ok": True, "method": cmd["method"], **extra})
        elif name == "unregister":
            c.unregister(cmd["method"])
            out({"step": "unregister", "client": p.label, "ok": True, "method": cmd["method"], **extra})
        elif name == "raw":
            await step("raw", c.ws.send(cmd["text"]), client=p.label, **extra)
        elif name == "ignore_pings":
            p.ignore_pings = bool(cmd.get("on", True))
            out({"step": "ignore_pings", "client": p.label, "ok": True, "on": p.ignore_pings, **extra})
        elif name == "state":
            out({"step": "state", "client": p.label, **p.counters(), **extra})
        elif name == "disconnect":
            await step("disconnect", c.disconnect(), client=p.label, **extra)
        else:
            raise ValueError(f"unknown command: {name!r}")
    except (KeyError, ValueError, TypeError) as exc:
        out({"step": name, "client": p.label, "ok": False,
             "exception": {"type": "BadCommand", "message": f"{type(exc).__name__}: {exc}"},
             **extra})


def start_stdin_reader(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue) -> None:
    """Feed stdin JSON lines into queue from a thread; None marks EOF."""

    def submit(line: str) -> None:
        try:
            cmd = json.loads(line)
            if not isinstance(cmd, dict):
                raise ValueError("a command must be a JSON object")
        except ValueError as exc:
            out({"step": "bad_command", "ok": False,
                 "exception": {"type": "BadCommand", "message": f"{exc}: {line!r}"}})
            return
        queue.put_nowait(cmd)

    def reader() -> None:
        for line in sys.stdin:
            if line.strip():
                loop.call_soon_threadsafe(submit, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=reader, name="stdin", daemon=True).start()


SCENARIOS: dict[str, Callable[[argparse.Namespace], Awaitable[None]]] = {
    "auth_ok": scenario_auth_ok,
    "auth_bad": scenario_auth_bad,
    "calls": scenario_calls,
    "batch": scenario_batch,
    "events": scenario_events,
    "callback": scenario_callback,
    "batch_callback": scenario_batch_callback,
    "timeouts": scenario_timeouts,
    "heartbeat": scenario_heartbeat,
    "no_pong": scenario_no_pong,
    "reconnect": scenario_reconnect,
    "interactive": scenario_interactive,
}


# ── Entry point ─────────────────────────────────────────────────────────────


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("scenario", choices=sorted(SCENARIOS))
    p.add_argument("--url", required=True, help="ws://127.0.0.1:PORT or wss://127.0.0.1:PORT")
    p.add_argument("--token", default="secret")
    p.add_argument("--bad-token", default="wrong")
    p.add_argument("--role", default="web")
    p.add_argument("--client-id", default="py-client")
    p.add_argument("--ping-ms", type=float, default=None)
    p.add_argument("--pong-timeout-ms", type=float, default=None)
    p.add_argument("--timeout-ms", type=float, default=5000, help="request timeout")
    p.add_argument("--initial-reconnect-ms", type=float, default=100)
    p.add_argument("--max-reconnect-ms", type=float, default=500)
    p.add_argument("--no-reconnect", action="store_true")
    p.add_argument("--inflight-timeout-ms", type=float, default=3000)
    p.add_argument("--hold-ms", type=float, default=None)
    p.add_argument("--deadline-s", type=float, default=None)
    p.add_argument("--no-connect", action="store_true", help="interactive: do not connect at start")
    p.add_argument("--log-frames", action="store_true")
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--tls-ca", default=None,
                   help="wss:// only: PEM root certificate to trust (sets SSL_CERT_FILE)")
    args = p.parse_args()
    loopback = ("127.0.0.1:", "localhost:", "[::1]:")
    if not args.url.startswith(tuple(scheme + host for scheme in ("ws://", "wss://")
                                     for host in loopback)):
        p.error("--url must point at the loopback interface")
    if args.tls_ca:
        if not args.url.startswith("wss://"):
            p.error("--tls-ca needs a wss:// URL")
        if not os.path.isfile(args.tls_ca):
            p.error(f"--tls-ca {args.tls_ca}: no such file")
        # Read by ssl.create_default_context() (through OpenSSL) when websockets dials.
        os.environ["SSL_CERT_FILE"] = args.tls_ca
    # Per-scenario defaults for the optional timings (None = not given).
    given = {k: getattr(args, k) for k in ("ping_ms", "pong_timeout_ms", "hold_ms")}
    args.ping_ms_or = lambda d: given["ping_ms"] if given["ping_ms"] is not None else d
    args.pong_timeout_ms_or = lambda d: (given["pong_timeout_ms"]
                                         if given["pong_timeout_ms"] is not None else d)
    args.hold_ms_or = lambda d: given["hold_ms"] if given["hold_ms"] is not None else d
    args.ping_ms = args.ping_ms_or(30_000)
    args.pong_timeout_ms = args.pong_timeout_ms_or(5_000)
    if args.deadline_s is None:
        args.deadline_s = 120.0 if args.scenario == "interactive" else 20.0
    return args


async def run(args: argparse.Namespace) -> int:
    task = asyncio.ensure_future(SCENARIOS[args.scenario](args))
    done, _ = await asyncio.wait({task}, timeout=args.deadline_s)
    if not done:
        out({"step": "deadline_exceeded", "deadline_s": args.deadline_s})
        print(f"py_client: scenario {args.scenario} exceeded {args.deadline_s}s",
              file=sys.stderr)
        sys.stderr.flush()
        os._exit(2)  # do not wait for the stuck scenario to unwind
    task.result()  # re-raise an unexpected exception
    out({"step": "done"})
    return 0


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        stream=sys.stderr, format="py_client %(levelname)s %(name)s: %(message)s")
    try:
        code = asyncio.run(run(args))
    except Exception:
        traceback.print_exc()
        out({"step": "crashed"})
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # do not wait for the stdin thread or leftover reconnect loops


if __name__ == "__main__":
    main()
