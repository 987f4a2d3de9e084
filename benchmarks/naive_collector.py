"""The baseline: what one writes in an afternoon with paho and psycopg. Not part of the product.

Acks each message on receipt (paho's default), decodes it, and INSERTs each reading on its own in
autocommit mode. Used by the benchmarks to show what the shipped collector is compared with.

    python -m benchmarks.naive_collector DATABASE_URL MQTT_HOST MQTT_PORT CLIENT_ID
"""

from __future__ import annotations

import sys

import orjson
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

INSERT = """INSERT INTO readings (meter_id, ts, total_m3, flow_m3h) VALUES (%s, %s, %s, %s)
            ON CONFLICT (meter_id, ts) DO NOTHING"""


def main() -> None:
    url, host, port, client_id = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    conn = psycopg.connect(url, autocommit=True)

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        meter = msg.topic.split("/")[1]
        data = orjson.loads(msg.payload)
        for item in data if isinstance(data, list) else [data]:
            conn.execute(INSERT, (meter, item["ts"], item["total_m3"], item.get("flow_m3h")))

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.on_message = on_message
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    client.connect(host, port, clean_start=False, properties=props)
    client.subscribe("meters/+/readings", qos=1)
    client.loop_forever()


if __name__ == "__main__":
    main()
