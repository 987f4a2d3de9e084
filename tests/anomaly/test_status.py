"""Meter status, transitions, online share and completeness on hand-computed cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from anomaly.status import MeterStatus, Observed, changes, completeness, judge, observed_share, online_share

NOW = datetime(2026, 9, 30, 12, tzinfo=UTC)
INSTALLED = datetime(2026, 1, 1, tzinfo=UTC)
QUARTER = timedelta(minutes=15)


def test_never_reported_online_and_offline_after_twice_the_interval() -> None:
    assert judge(NOW, INSTALLED, QUARTER, None, None).status is MeterStatus.NEVER_REPORTED
    online = judge(NOW, INSTALLED, QUARTER, NOW - timedelta(minutes=30), None)
    assert (online.status, online.since) == (MeterStatus.ONLINE, NOW - timedelta(minutes=30))
    silent = judge(NOW, INSTALLED, QUARTER, NOW - timedelta(minutes=30, seconds=1), None)
    assert (silent.status, silent.since, silent.reason) == (
        MeterStatus.OFFLINE,
        NOW - timedelta(minutes=30, seconds=1),
        "silence",
    )


def test_a_last_will_marks_the_link_lost_at_once() -> None:
    will = judge(NOW, INSTALLED, QUARTER, NOW - timedelta(minutes=5), NOW - timedelta(minutes=1))
    assert (will.status, will.since, will.reason) == (
        MeterStatus.OFFLINE,
        NOW - timedelta(minutes=1),
        "last_will",
    )
    back = judge(NOW, INSTALLED, QUARTER, NOW - timedelta(seconds=10), NOW - timedelta(minutes=1))
    assert back.status is MeterStatus.ONLINE  # a reading after the will: back online


def test_only_real_transitions_are_recorded() -> None:
    observed = {
        "M1": Observed(MeterStatus.ONLINE, NOW, "reading"),
        "M2": Observed(MeterStatus.OFFLINE, NOW, "silence"),
    }
    assert [c.meter_id for c in changes({"M1": MeterStatus.ONLINE, "M2": MeterStatus.ONLINE}, observed)] == [
        "M2"
    ]
    assert changes({"M1": MeterStatus.ONLINE, "M2": MeterStatus.OFFLINE}, observed) == []


def test_online_share_of_a_day() -> None:
    day = datetime(2026, 9, 30, tzinfo=UTC)
    # online before the day, offline 06:00-12:00, online again: 18 of 24 hours
    transitions = [
        (day - timedelta(days=2), MeterStatus.ONLINE),
        (day + timedelta(hours=6), MeterStatus.OFFLINE),
        (day + timedelta(hours=12), MeterStatus.ONLINE),
    ]
    assert online_share(transitions, day, day + timedelta(days=1)) == 0.75


def test_time_the_status_machine_did_not_watch_has_no_share() -> None:
    """Before a meter's first recorded status the service did not watch it: not "offline all day" but
    unknown. A day it began watching at noon has the share of the half it watched."""
    day = datetime(2026, 9, 30, tzinfo=UTC)
    assert online_share([], day, day + timedelta(days=1)) is None
    later = [(day + timedelta(days=3), MeterStatus.ONLINE)]
    assert online_share(later, day, day + timedelta(days=1)) is None
    from_noon = [
        (day + timedelta(hours=12), MeterStatus.ONLINE),
        (day + timedelta(hours=18), MeterStatus.OFFLINE),
    ]
    assert online_share(from_noon, day, day + timedelta(days=1)) == 0.5
    assert observed_share(from_noon, day, day + timedelta(days=1)) == 0.5


def test_completeness() -> None:
    assert completeness(96, QUARTER) == 1.0
    assert completeness(72, QUARTER) == 0.75
    assert completeness(200, QUARTER) == 1.0
    # a day not over yet: readings against the part of it that has passed
    assert completeness(36, QUARTER, timedelta(hours=9)) == 1.0
    assert completeness(0, QUARTER, timedelta(0)) is None
