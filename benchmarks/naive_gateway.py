"""The baseline for `intake bench gateway`: an SZY 206 server written in an afternoon. Not the product.

One blocking connection at a time (the next RTU waits in the listen backlog until the current one
hangs up), the frame decoded with the same codec, the meter looked up and each reading INSERTed on
its own in autocommit mode, then the confirmation sent. No rollups, no state, no status: it does
less than the gateway, so the comparison flatters it.

    python -m benchmarks.naive_gateway DATABASE_URL PORT
"""

from __future__ import annotations

import contextlib
import socket
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

from devices.readings import Refused
from devices.szy206 import Afn, Cut, FlowReport, Framer, answer, decode_uplink, parse_frame

ZONE = ZoneInfo("Asia/Shanghai")
METER = "SELECT meter_id FROM meters WHERE rtu_address = %s AND rtu_channel = %s AND removed_on IS NULL"
INSERT = """INSERT INTO readings (meter_id, ts, total_m3, flow_m3h) VALUES (%s, %s, %s, %s)
            ON CONFLICT (meter_id, ts) DO NOTHING"""


def serve(conn: psycopg.Connection[tuple[object, ...]], client: socket.socket) -> None:
    framer = Framer()
    while data := client.recv(4096):
        for piece in framer.feed(data):
            if piece.cut is not Cut.FRAME:
                continue
            try:
                frame = parse_frame(piece.raw)
                said = decode_uplink(frame)
            except Refused:
                continue
            if isinstance(said, FlowReport):
                now = datetime.now(UTC)
                ts = said.label.moment(now, ZONE, timedelta(minutes=5)) if said.label else now
                for channel, value in enumerate(said.values, start=1):
                    row = conn.execute(METER, (str(frame.address), channel)).fetchone()
                    if row is not None and value.total_m3 is not None:
                        conn.execute(INSERT, (row[0], ts, value.total_m3, value.flow_m3h))
            if frame.afn in (Afn.LINK_CHECK, Afn.SELF_REPORT):
                client.sendall(answer(frame))


def main() -> None:
    url, port = sys.argv[1], int(sys.argv[2])
    conn = psycopg.connect(url, autocommit=True)
    with socket.create_server(("127.0.0.1", port), backlog=4096) as server:
        while True:
            client, _peer = server.accept()
            with client, contextlib.suppress(OSError):  # an RTU that hangs up mid-frame
                serve(conn, client)


if __name__ == "__main__":
    main()
