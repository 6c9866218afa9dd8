"""Drives `seecret mcp` with the official MCP Python SDK as the client, for
tests/tests/integrations/mcp.rs.

Usage: client.py SEECRET_BIN WORKDIR. The environment carries what the server process gets
(SEECRET_SERVER, SEECRET_TOKEN, XDG_CONFIG_HOME, the MCP_* variables it may share) and
INLINE_SECRET, the value this client passes as `content`. It runs two sessions:

1. `seecret mcp --files-under WORKDIR/shared --env-prefix MCP_`: lists the tools, shares from an
   environment variable and from a file, is refused inline content and what lies outside the
   restrictions, requests a secret; prints the results as one JSON line, then waits for a line on
   standard input (the test reveals the links meanwhile); then status, list, burn and bad input.
2. `seecret mcp --allow-inline`: shares inline content.

Every message the client received from the server is recorded (parsed by the SDK, or the
exception it raised for a line it could not parse) and printed in the last JSON line, with every
result; each server's standard error goes to WORKDIR/stderr-<session>.log.
"""

import json
import os
import sys

import anyio
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from mcp.shared.message import SessionMessage

SEECRET, WORKDIR = sys.argv[1], sys.argv[2]
RECEIVED: list = []


def dump(value):
    if isinstance(value, SessionMessage):
        return types.jsonrpc_message_adapter.dump_python(value.message, mode="json", by_alias=True)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", by_alias=True)
    return {"exception": repr(value)}


async def call(session, name, arguments):
    try:
        return dump(await session.call_tool(name, arguments))
    except Exception as e:  # a protocol error: recorded, the test decides
        return {"exception": repr(e)}


async def with_session(label, args, body):
    env = {k: v for k, v in os.environ.items() if k.startswith(("SEECRET_", "MCP_", "XDG_"))}
    params = StdioServerParameters(command=SEECRET, args=["mcp", *args], env=env)
    with open(os.path.join(WORKDIR, f"stderr-{label}.log"), "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            # Every message passes through this tap on its way to the session.
            tap_send, tap_recv = anyio.create_memory_object_stream(100)

            async def tap():
                async with tap_send:
                    async for message in read:
                        RECEIVED.append({"session": label, "message": dump(message)})
                        await tap_send.send(message)

            async with anyio.create_task_group() as tg:
                tg.start_soon(tap)
                async with ClientSession(tap_recv, write) as session:
                    await session.initialize()
                    result = await body(session)
                tg.cancel_scope.cancel()
            return result


def emit(obj):
    print(json.dumps(obj), flush=True)


async def restricted(session):
    r = {"tools": dump(await session.list_tools())}
    shared = os.path.join(WORKDIR, "shared")
    r["share_env"] = await call(session, "share_secret", {
        "from_env": "MCP_DB_PASSWORD", "expiration": "1h", "views": 2, "label": "db password",
        "passphrase_from_env": "MCP_PASSPHRASE"})
    r["share_file"] = await call(session, "share_secret", {
        "from_file": os.path.join(shared, "creds.env"), "views": 1})
    r["share_to_burn"] = await call(session, "share_secret", {
        "from_env": "MCP_DB_PASSWORD", "label": "to burn"})
    r["inline_refused"] = await call(session, "share_secret", {"content": os.environ["INLINE_SECRET"]})
    r["env_outside_prefix"] = await call(session, "share_secret", {"from_env": "SEECRET_TOKEN"})
    r["file_outside_dir"] = await call(session, "share_secret", {
        "from_file": os.path.join(shared, "..", "outside.txt")})
    r["link_outside_dir"] = await call(session, "share_secret", {
        "from_file": os.path.join(shared, "sneaky-link")})
    r["two_sources"] = await call(session, "share_secret", {
        "from_env": "MCP_DB_PASSWORD", "from_file": os.path.join(shared, "creds.env")})
    r["missing_env"] = await call(session, "share_secret", {"from_env": "MCP_NOT_SET"})
    r["bad_expiration"] = await call(session, "share_secret", {
        "from_env": "MCP_DB_PASSWORD", "expiration": "soon"})
    r["request"] = await call(session, "request_secret", {
        "note": "staging DB password", "expiration": "1h"})
    emit({"phase": 1, "results": r})
    await anyio.to_thread.run_sync(sys.stdin.readline)
    r["status"] = await call(session, "secret_status", {"id": r["share_env"]["structuredContent"]["link"]})
    r["list"] = await call(session, "list_secrets", {"status": "active", "limit": 10})
    r["burn"] = await call(session, "burn_secret", {"id": r["share_to_burn"]["structuredContent"]["id"]})
    r["status_burned"] = await call(session, "secret_status", {"id": r["share_to_burn"]["structuredContent"]["id"]})
    r["status_bad_id"] = await call(session, "secret_status", {"id": "not-an-id"})
    r["list_bad_status"] = await call(session, "list_secrets", {"status": "bogus"})
    return r


async def inline(session):
    return {"inline_accepted": await call(session, "share_secret", {
        "content": os.environ["INLINE_SECRET"], "views": 1})}


async def main():
    results = await with_session("restricted", [
        "--files-under", os.path.join(WORKDIR, "shared"), "--env-prefix", "MCP_"], restricted)
    results.update(await with_session("inline", ["--allow-inline"], inline))
    emit({"phase": 2, "results": results, "received": RECEIVED})


anyio.run(main)
