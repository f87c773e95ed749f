"""Shards: 2,000 sources fit Airflow's map limit, and a host's sources stay in one shard."""

from __future__ import annotations

from pipeline.planning import MAX_SHARDS, plan_shards
from pipeline.settings import Source

MAX_MAP_LENGTH = 1024  # Airflow's default [core] max_map_length


def sources(count: int, hosts: int) -> list[Source]:
    return [
        Source(name=f"s{i:04d}", feeds=(f"https://host{i % hosts}.example/feed-{i}.xml",))
        for i in range(count)
    ]


def test_two_thousand_sources_plan_within_the_map_length() -> None:
    configured = sources(2000, hosts=2000)
    shards = plan_shards(configured, shard_size=1)
    assert len(shards) <= MAX_SHARDS < MAX_MAP_LENGTH
    assert sorted(name for shard in shards for name in shard) == [s.name for s in configured]


def test_sources_sharing_a_host_share_a_shard() -> None:
    configured = sources(300, hosts=40)
    # One source also lists a URL on another source's host: the two groups become one.
    bridge = Source(
        name="bridge",
        feeds=("https://host1.example/x.xml",),
        urls=("https://host2.example/page",),
    )
    shards = plan_shards([*configured, bridge], shard_size=5)
    shard_of = {name: index for index, shard in enumerate(shards) for name in shard}
    for host in range(40):
        members = {
            shard_of[s.name] for s in configured if s.feeds[0].startswith(f"https://host{host}.")
        }
        assert len(members) == 1, host
    assert shard_of["bridge"] == shard_of["s0001"] == shard_of["s0002"]


def test_shard_size_packs_small_groups() -> None:
    shards = plan_shards(sources(10, hosts=10), shard_size=4)
    assert [len(shard) for shard in shards] == [4, 4, 2]
