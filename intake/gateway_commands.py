"""`intake gateway szy206` runs the RTU gateway."""

from __future__ import annotations

import argparse

from ingest import logs
from ingest.gateway import Gateway
from ingest.metrics import Metrics
from ingest.settings import GatewaySettings
from intake.settings import load_settings


def cmd_gateway_szy206(_args: argparse.Namespace) -> int:
    settings = load_settings(GatewaySettings)
    return Gateway(settings, logs.setup(settings.collector_log_format), Metrics()).run()


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    gateway = commands.add_parser("gateway", help="gateways for meters that do not speak MQTT: szy206")
    kinds = gateway.add_subparsers(dest="gateway_command", metavar="PROTOCOL", required=True)
    szy = kinds.add_parser(
        "szy206",
        help="RTUs speaking SZY 206-2016 / SL/T 427-2021 over TCP (settings: INTAKE_GATEWAY_*)",
        description="Listen for RTUs (遥测终端) on INTAKE_GATEWAY_HOST:INTAKE_GATEWAY_PORT (default "
        "0.0.0.0:6206), cut each stream into frames, store flow reports through the collector's pipeline "
        "and confirm each only after it is committed; answer link checks; an RTU is online while it is "
        "connected. Every frame that cannot be stored is kept with its reason (rejected_messages, source "
        "szy206). SZY 206 has no uplink password: set INTAKE_GATEWAY_ALLOWED_NETWORKS to the networks RTUs "
        "connect from (the carrier's APN, a VPN). Refuses to start on a schema other than the code's. Stops "
        "cleanly on SIGTERM or Ctrl-C: takes nothing new, commits and confirms what it holds. "
        "See docs/SZY206.md.",
    )
    szy.set_defaults(handler=cmd_gateway_szy206)
