#!/usr/bin/env python3
"""Passes Postgres connections through, recording every statement clients prepare with the
parameter types they declare (the extended protocol's Parse message), one JSON object a line:
{"query": "...", "types": [oid, ...]}. scripts/capture-release-sql.sh runs it in front of a
throwaway Postgres to capture the SQL a release runs, exactly as it is sent.

    pg-capture-proxy.py LISTEN_PORT POSTGRES_PORT OUTPUT
"""

import asyncio
import json
import struct
import sys

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def client_to_server(reader, writer, record):
    """Forwards the client's messages, reading each one's frame to find Parse messages."""
    try:
        # Untyped messages first: SSL or GSS requests (answered by the server), then startup.
        while True:
            head = await reader.readexactly(8)
            length, code = struct.unpack("!ii", head)
            rest = await reader.readexactly(length - 8)
            writer.write(head + rest)
            await writer.drain()
            if code not in (SSL_REQUEST, GSSENC_REQUEST):
                break
        while True:
            head = await reader.readexactly(5)
            kind = head[:1]
            (length,) = struct.unpack("!i", head[1:])
            body = await reader.readexactly(length - 4)
            if kind == b"P":
                _name, rest = body.split(b"\0", 1)
                query, rest = rest.split(b"\0", 1)
                (count,) = struct.unpack("!h", rest[:2])
                types = list(struct.unpack(f"!{count}I", rest[2 : 2 + 4 * count]))
                record(query.decode(), types)
            writer.write(head + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def main():
    listen, upstream, output = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    seen = set()
    out = open(output, "a", buffering=1)

    def record(query, types):
        key = (query, tuple(types))
        if query and key not in seen:
            seen.add(key)
            out.write(json.dumps({"query": query, "types": types}) + "\n")

    async def handle(client_reader, client_writer):
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", upstream)
        await asyncio.gather(
            client_to_server(client_reader, server_writer, record),
            pipe(server_reader, client_writer),
            return_exceptions=True,
        )

    async def serve():
        server = await asyncio.start_server(handle, "127.0.0.1", listen)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
