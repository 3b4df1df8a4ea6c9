#!/usr/bin/env python3
"""Reference-side test server for the echorpc interop suite.

Runs an ``echorpc.EchoServer`` (PyPI echorpc 1.0.0) on 127.0.0.1 so that the
Rust *client* can be tested against the reference implementation.  The full
contract (shared with the Rust test server) is in ``CONTRACT.md``; this
docstring is the short version.

Command line
------------
    py_server.py [--port 0] [--ping-ms 30000] [--pong-timeout-ms 5000]
                 [--request-timeout-ms 30000] [--token secret] [--tier gold]
                 [--no-auth] [--http-status S] [--log-frames] [--no-stdin]
                 [--max-lifetime-s 300] [--verbose]
                 [--tls-cert chain.pem --tls-key key.pem]

``--tls-cert``/``--tls-key`` (both or neither) serve ``wss://``: an
``ssl.SSLContext`` loaded from the PEM chain and key.  The reference has no TLS
option (``WsServer.start`` calls ``websockets.serve`` without ``ssl=``), so the
harness replaces that one method on its ``WsServer`` instance with the same
call plus ``ssl=context``; everything else (process_request, the handler) is
the reference's own code.  See CONTRACT.md.

``--port P`` binds that port (SO_REUSEADDR is on: asyncio's create_server sets
it on POSIX), so the harness can kill the server and restart it on the same
port to exercise the client's reconnect.

Stdout (one line each, flushed)
-------------------------------
First line, exactly:   ``listening PORT``
then one JSON object per line, each with an ``"event"`` key (observations) or a
``"reply"`` key (answers to stdin commands):

    {"event":"upgrade","path":"/?token=secret&role=web&client_id=C","status":S|null}
    {"event":"auth","params":{"token","role","client_id"},"accepted":bool}
    {"event":"connect","conn":N,"meta":{...}}
    {"event":"disconnect","conn":N,"meta":{...},"pings":P,"pongs":Q}
    {"event":"request","conn":N,"client_id":C,"method":M,"params":X}
    {"event":"chat","conn":N,"client_id":C,"data":X,"meta":{...}}
    {"event":"callback","conn":N,"method":"double","params":{"x":X},
     "ok":true,"result":R}                 (or "ok":false,"error":{...})
    {"event":"ping_ignored","conn":N}      (only while pongs are muted)
    {"event":"frame_in","conn":N,"text":RAW}   (only with frame logging on)
    {"event":"stopping"} / {"event":"stopped"} / {"event":"lifetime_exceeded"}

``conn`` is a serial number (1, 2, ...) given to each accepted connection.
``meta`` is the reference's connection metadata:
``{"token","role","client_id","tier":"gold","authenticated":true}``.

Stdin (one JSON object per line; each command runs as its own task)
--------------------------------------------------------------------
Every command may carry ``"tag"`` (any JSON), echoed in its reply.  Commands
aimed at one connection take ``"client_id": C`` or ``"conn": N``; with neither,
there must be exactly one open connection.

    {"cmd":"broadcast","event":E,"data":X,"role":R|null,"except_client_id":C|null}
        -> {"reply":"broadcast","ok":true,"targets":N}
    {"cmd":"publish","event":E,"data":X, <target>}   -> {"reply":"publish","ok":true}
    {"cmd":"call","method":M,"params":X,"timeout_ms":T?, <target>}
        -> {"reply":"call","ok":true,"result":R} | {"reply":"call","ok":false,"error":{code,message,data?}}
    {"cmd":"batch","calls":[[M,X],...],"timeout_ms":T?, <target>}
        -> {"reply":"batch","ok":true,"slots":[{"ok":true,"result":R}|{"ok":false,"error":{...}}]}
           (or "ok":false,"error":{...} when the whole batch failed, e.g. -32002)
    {"cmd":"raw","text":S, <target>}   sends S as one text frame -> {"reply":"raw","ok":true}
    {"cmd":"kick", <target>}           closes that connection   -> {"reply":"kick","ok":true}
    {"cmd":"connections","role":R?}    -> {"reply":"connections","ok":true,"connections":[
                                            {"conn":N,"meta":{...},"open":bool,"pings":P,"pongs":Q}]}
    {"cmd":"mute_pongs","on":bool}     stop/resume answering single-frame pings
    {"cmd":"log_frames","on":bool}     print every incoming frame as "frame_in"
    {"cmd":"dispatch","on":bool}       off: incoming frames are only counted/logged,
                                       never handled (probe a client's raw replies
                                       with "raw" + "log_frames"; pings go unanswered)
    {"cmd":"http_status","status":S|null}  answer upgrades with HTTP S (e.g. 503)
                                       instead of accepting; null: accept again
    {"cmd":"stop"}                     graceful stop, exit 0

A failing command replies ``{"reply":CMD,"ok":false,"error":{...}}`` (RpcError)
or ``{"reply":CMD,"ok":false,"exception":{"type","message"}}``.

End of stdin (the harness dropped its pipe or died) stops the server too, so
no orphan survives a crashed test; pass ``--no-stdin`` to ignore stdin.
SIGTERM/SIGINT also stop gracefully.  ``--max-lifetime-s`` bounds the run
(exit status 3).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import ssl
import sys
import threading
from typing import Any

import websockets
from echorpc import EchoServer, RpcConnection, RpcError

# ── Output ──────────────────────────────────────────────────────────────────


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


def error_obj(exc: RpcError) -> dict:
    """The wire shape of an RpcError (data only when present)."""
    return exc.to_dict()


def failure_fields(exc: BaseException) -> dict:
    """Reply fields describing a failure."""
    if isinstance(exc, RpcError):
        return {"ok": False, "error": error_obj(exc)}
    return {"ok": False, "exception": {"type": type(exc).__name__, "message": str(exc)}}


def slot(value: Any) -> dict:
    """One batch slot: a result or a failure."""
    if isinstance(value, BaseException):
        return failure_fields(value)
    return {"ok": True, "result": value}


def count_method(raw: str, method: str) -> int:
    """How many messages in a raw frame are notifications named ``method``."""
    try:
        msg = json.loads(raw)
    except ValueError:
        return 0
    items = msg if isinstance(msg, list) else [msg]
    return sum(1 for m in items if isinstance(m, dict) and m.get("method") == method)


def is_single_ping(raw: str) -> bool:
    try:
        msg = json.loads(raw)
    except ValueError:
        return False
    return isinstance(msg, dict) and msg.get("method") == "ping"


# ── The server under test ───────────────────────────────────────────────────


class Harness:
    """An EchoServer with the interop command set and the stdin control channel."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.mute_pongs = False
        self.log_frames = args.log_frames
        self.dispatch = True
        self.serial: dict[RpcConnection, int] = {}
        self.stats: dict[RpcConnection, dict[str, int]] = {}
        self.next_serial = 1
        self.done = asyncio.Event()
        self.exit_code = 0
        self.server = EchoServer(
            "127.0.0.1",
            args.port,
            auth_handler=None if args.no_auth else self.auth,
            ping_interval=args.ping_ms / 1000,
            pong_timeout=args.pong_timeout_ms / 1000,
            timeout=args.request_timeout_ms / 1000,
        )
        self.http_status: int | None = args.http_status
        if args.tls_cert:
            self.serve_tls(args.tls_cert, args.tls_key)
        self.wrap_upgrade()
        self.register_all()

    # ── auth and lifecycle hooks ───────────────────────────────────────────

    def auth(self, params: dict) -> dict | bool:
        accepted = params.get("token") == self.args.token
        out({"event": "auth", "params": params, "accepted": accepted})
        return {"tier": self.args.tier} if accepted else False

    def serve_tls(self, cert: str, key: str) -> None:
        """Serve wss:// with the PEM chain ``cert`` and key ``key``.

        The reference's ``WsServer.start`` is ``websockets.serve(handler, host,
        port, process_request=...)`` with no way to pass ``ssl=``; this instance
        gets the same call with ``ssl=context`` added, nothing else changed.
        """
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        ws = self.server.ws

        async def start_tls() -> None:
            ws._server = await websockets.serve(
                ws._handle_connection,
                ws.host,
                ws.port,
                process_request=ws._process_request if ws.auth_handler else None,
                ssl=context,
            )

        ws.start = start_tls  # type: ignore[method-assign]

    def wrap_upgrade(self) -> None:
        """Print each upgrade's request path; optionally refuse it outright.

        WsServer only installs its process_request hook when there is an
        auth handler, so with --no-auth neither the "upgrade" line nor
        --http-status is available.
        """
        ws = self.server.ws
        original = ws._process_request

        async def process_request(connection: Any, request: Any) -> Any:
            out({"event": "upgrade", "path": request.path, "status": self.http_status})
            if self.http_status is not None:
                return connection.respond(self.http_status, "Refused by py_server\n")
            return await original(connection, request)

        ws._process_request = process_request  # type: ignore[method-assign]

    def on_connect(self, conn: RpcConnection) -> None:
        n = self.next_serial
        self.next_serial += 1
        self.serial[conn] = n
        self.stats[conn] = {"pings": 0, "pongs": 0}
        self.wrap_incoming(conn)
        out({"event": "connect", "conn": n, "meta": conn.meta})

    def on_disconnect(self, conn: RpcConnection) -> None:
        out({"event": "disconnect", "conn": self.serial.get(conn), "meta": conn.meta,
             **self.stats.get(conn, {})})

    def wrap_incoming(self, conn: RpcConnection) -> None:
        """Sniff incoming frames: count pings/pongs, log, optionally drop
        pings or everything (dispatch off).

        RpcConnection.serve() (called after on_connect) wires
        ``transport.on_message = self._on_message``; an instance attribute
        shadows the method, so this wrapper sees every frame first.
        """
        original = conn._on_message
        stats = self.stats[conn]
        n = self.serial[conn]

        def on_message(raw: str) -> Any:
            if self.log_frames:
                out({"event": "frame_in", "conn": n, "text": raw})
            stats["pings"] += count_method(raw, "ping")
            stats["pongs"] += count_method(raw, "pong")
            if not self.dispatch:
                return None
            if self.mute_pongs and is_single_ping(raw):
                out({"event": "ping_ignored", "conn": n})
                return None
            return original(raw)

        conn._on_message = on_message  # type: ignore[method-assign]

    # ── commands (server handlers take (params, conn)) ─────────────────────

    def register_all(self) -> None:
        s = self.server
        s.on_connect(self.on_connect)
        s.on_disconnect(self.on_disconnect)
        for name in ("add", "double", "whoami", "fail", "boom", "ask_double",
                     "announce", "emit", "sleep"):
            s.register(name, self.traced(name, getattr(self, "cmd_" + name)))
        s.subscribe("chat", self.on_chat)

    def traced(self, name: str, fn):
        """Wrap a handler so every invocation is printed as a "request" event."""

        async def handler(params: Any, conn: RpcConnection) -> Any:
            out({"event": "request", "conn": self.serial.get(conn),
                 "client_id": conn.meta.get("client_id"), "method": name, "params": params})
            result = fn(params, conn)
            if asyncio.iscoroutine(result):
                result = await result
            return result

        return handler

    def cmd_add(self, params: Any, conn: RpcConnection) -> dict:
        return {"sum": params["a"] + params["b"]}

    def cmd_double(self, params: Any, conn: RpcConnection) -> Any:
        return params["x"] * 2

    def cmd_whoami(self, params: Any, conn: RpcConnection) -> dict:
        meta = conn.meta
        return {"role": meta.get("role"), "client_id": meta.get("client_id"),
                "tier": meta.get("tier")}

    def cmd_fail(self, params: Any, conn: RpcConnection) -> Any:
        raise RpcError(params["code"], params["message"], params.get("data"))

    def cmd_boom(self, params: Any, conn: RpcConnection) -> Any:
        raise Exception("boom")

    async def cmd_ask_double(self, params: Any, conn: RpcConnection) -> Any:
        call = {"x": params["x"]}
        record = {"event": "callback", "conn": self.serial.get(conn), "method": "double",
                  "params": call}
        try:
            result = await conn.request("double", call)
        except Exception as exc:
            out({**record, **failure_fields(exc)})
            raise
        out({**record, "ok": True, "result": result})
        return result

    async def cmd_announce(self, params: Any, conn: RpcConnection) -> None:
        data = {"text": params["text"]}
        if params.get("except_me"):
            await self.server.broadcast_except("chat", data, exclude=conn)
        elif params.get("role") is not None:
            await self.server.broadcast("chat", data, role=params["role"])
        else:
            await self.server.broadcast("chat", data)
        return None

    async def cmd_emit(self, params: Any, conn: RpcConnection) -> None:
        await conn.publish(params["event"], params.get("data"))
        return None

    async def cmd_sleep(self, params: Any, conn: RpcConnection) -> str:
        await asyncio.sleep(params["ms"] / 1000)
        return "slept"

    async def on_chat(self, data: Any, conn: RpcConnection) -> None:
        out({"event": "chat", "conn": self.serial.get(conn),
             "client_id": conn.meta.get("client_id"), "data": data, "meta": conn.meta})
        await self.server.broadcast_except("chat", data, exclude=conn)

    # ── stdin control channel ──────────────────────────────────────────────

    def target(self, cmd: dict) -> RpcConnection:
        """The connection a command is aimed at."""
        conns = [c for c in self.server.get_connections() if c.is_open]
        if cmd.get("conn") is not None:
            conns = [c for c in conns if self.serial.get(c) == cmd["conn"]]
        elif cmd.get("client_id") is not None:
            conns = [c for c in conns if c.meta.get("client_id") == cmd["client_id"]]
        if len(conns) != 1:
            raise LookupError(f"expected exactly one matching open connection, found {len(conns)}")
        return conns[0]

    async def run_command(self, cmd: dict) -> None:
        name = cmd.get("cmd")
        reply: dict[str, Any] = {"reply": name}
        if "tag" in cmd:
            reply["tag"] = cmd["tag"]
        try:
            handler = getattr(self, "ctl_" + str(name), None)
            if handler is None:
                raise ValueError(f"unknown command: {name!r}")
            fields = await handler(cmd)
            out({**reply, "ok": True, **(fields or {})})
        except Exception as exc:  # a failed command is an observation, not a crash
            out({**reply, **failure_fields(exc)})

    def timeout_of(self, cmd: dict) -> float | None:
        ms = cmd.get("timeout_ms")
        return None if ms is None else ms / 1000

    async def ctl_broadcast(self, cmd: dict) -> dict:
        event, data = cmd["event"], cmd.get("data")
        if cmd.get("except_client_id") is not None:
            exclude = self.target({"client_id": cmd["except_client_id"]})
            targets = [c for c in self.server.get_connections() if c is not exclude and c.is_open]
            await self.server.broadcast_except(event, data, exclude=exclude)
        else:
            role = cmd.get("role")
            targets = [c for c in self.server.get_connections(role) if c.is_open]
            await self.server.broadcast(event, data, role=role)
        return {"targets": len(targets)}

    async def ctl_publish(self, cmd: dict) -> None:
        await self.target(cmd).publish(cmd["event"], cmd.get("data"))

    async def ctl_call(self, cmd: dict) -> dict:
        conn = self.target(cmd)
        result = await conn.request(cmd["method"], cmd.get("params"), timeout=self.timeout_of(cmd))
        return {"result": result}

    async def ctl_batch(self, cmd: dict) -> dict:
        conn = self.target(cmd)
        calls = [(m, p) for m, p in cmd["calls"]]
        results = await conn.batch_request(calls, timeout=self.timeout_of(cmd))
        return {"slots": [slot(r) for r in results]}

    async def ctl_raw(self, cmd: dict) -> None:
        await self.target(cmd).transport.send(cmd["text"])

    async def ctl_kick(self, cmd: dict) -> None:
        await self.target(cmd).close()

    async def ctl_connections(self, cmd: dict) -> dict:
        conns = self.server.get_connections(cmd.get("role"))
        rows = [{"conn": self.serial.get(c), "meta": c.meta, "open": c.is_open,
                 **self.stats.get(c, {})} for c in conns]
        rows.sort(key=lambda r: r["conn"] or 0)
        return {"connections": rows}

    async def ctl_mute_pongs(self, cmd: dict) -> None:
        self.mute_pongs = bool(cmd.get("on", True))

    async def ctl_log_frames(self, cmd: dict) -> None:
        self.log_frames = bool(cmd.get("on", True))

    async def ctl_dispatch(self, cmd: dict) -> None:
        self.dispatch = bool(cmd.get("on", True))

    async def ctl_http_status(self, cmd: dict) -> None:
        self.http_status = cmd.get("status")

    async def ctl_stop(self, cmd: dict) -> None:
        self.finish(0)

    def finish(self, code: int) -> None:
        self.exit_code = code
        self.done.set()

    # ── run ────────────────────────────────────────────────────────────────

    async def run(self) -> int:
        await self.server.start()
        port = self.server.address[1]
        sys.stdout.write(f"listening {port}\n")
        sys.stdout.flush()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.finish, 0)
        if not self.args.no_stdin:
            start_stdin_reader(loop, self)
        try:
            await asyncio.wait_for(self.done.wait(), self.args.max_lifetime_s)
        except asyncio.TimeoutError:
            out({"event": "lifetime_exceeded"})
            self.exit_code = 3
        out({"event": "stopping"})
        try:
            await asyncio.wait_for(self.server.stop(), 3)
        except Exception as exc:  # bounded: never hang on a stuck peer
            print(f"py_server: stop: {type(exc).__name__}: {exc}", file=sys.stderr)
        out({"event": "stopped"})
        return self.exit_code


def start_stdin_reader(loop: asyncio.AbstractEventLoop, harness: Harness) -> None:
    """Read JSON commands from stdin in a thread; EOF stops the server."""

    def submit(line: str) -> None:
        try:
            cmd = json.loads(line)
            if not isinstance(cmd, dict):
                raise ValueError("a command must be a JSON object")
        except ValueError as exc:
            out({"reply": None, "ok": False,
                 "exception": {"type": "BadCommand", "message": f"{exc}: {line!r}"}})
            return
        asyncio.ensure_future(harness.run_command(cmd))

    def reader() -> None:
        for line in sys.stdin:
            if line.strip():
                loop.call_soon_threadsafe(submit, line)
        loop.call_soon_threadsafe(harness.finish, 0)

    threading.Thread(target=reader, name="stdin", daemon=True).start()


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--ping-ms", type=float, default=30000)
    p.add_argument("--pong-timeout-ms", type=float, default=5000)
    p.add_argument("--request-timeout-ms", type=float, default=30000)
    p.add_argument("--token", default="secret")
    p.add_argument("--tier", default="gold")
    p.add_argument("--no-auth", action="store_true", help="run without an auth handler")
    p.add_argument("--http-status", type=int, default=None,
                   help="answer every upgrade with this HTTP status (e.g. 503)")
    p.add_argument("--log-frames", action="store_true")
    p.add_argument("--no-stdin", action="store_true", help="ignore stdin (EOF does not stop)")
    p.add_argument("--max-lifetime-s", type=float, default=300)
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--tls-cert", default=None, help="PEM chain: serve wss:// (needs --tls-key)")
    p.add_argument("--tls-key", default=None, help="PEM private key of --tls-cert")
    args = p.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    return args


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        stream=sys.stderr, format="py_server %(levelname)s %(name)s: %(message)s")

    async def amain() -> int:
        return await Harness(args).run()

    code = asyncio.run(amain())
    sys.stdout.flush()
    os._exit(code)  # the stdin thread may still be blocked in read()


if __name__ == "__main__":
    main()
