"""Shards: the unit of work the DAG maps over, so that 10 sources and 5,000 both fit.

Airflow caps a mapped task at ``[core] max_map_length`` (1,024) task instances, and one task per
source costs a scheduler slot and a process start each. The day's enabled sources are therefore
grouped into shards of about ``shard_size`` sources, never more than ``max_shards``. Sources that
share a host are always in one shard: politeness (one connection per host, the delay) is kept
inside one fetch process, and two shards fetching from one host at once would double its load.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from math import ceil

from pipeline.fetch.urls import BadUrl, host_of
from pipeline.settings import Source

#: Well below Airflow's default [core] max_map_length of 1,024.
MAX_SHARDS = 512


def source_hosts(source: Source) -> set[str]:
    hosts = set()
    for url in (*source.feeds, *source.sitemaps, *source.urls):
        try:
            hosts.add(host_of(url))
        except (BadUrl, ValueError):
            continue  # validated at load; nothing to group by
    return hosts


def plan_shards(
    sources: Sequence[Source], shard_size: int, max_shards: int = MAX_SHARDS
) -> list[list[str]]:
    """The source names in shards: host groups kept whole, packed in config order."""
    if not sources:
        return []
    groups = _host_groups(sources)
    size = max(shard_size, ceil(len(sources) / max_shards))
    shards: list[list[str]] = []
    current: list[str] = []
    for group in groups:
        if current and len(current) + len(group) > size:
            shards.append(current)
            current = []
        current.extend(group)
    if current:
        shards.append(current)
    if len(shards) > max_shards:  # only when host groups are very uneven: merge the smallest
        shards.sort(key=len)
        while len(shards) > max_shards:
            smallest = shards.pop(0)
            shards[0].extend(smallest)
            shards.sort(key=len)
    return shards


def _host_groups(sources: Sequence[Source]) -> list[list[str]]:
    """Sources joined when they share a host (transitively), in the config's order."""
    parent = list(range(len(sources)))

    def find(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    owner: dict[str, int] = {}
    for index, source in enumerate(sources):
        for host in source_hosts(source):
            if host in owner:
                a, b = find(owner[host]), find(index)
                parent[max(a, b)] = min(a, b)
            else:
                owner[host] = index
    members: defaultdict[int, list[str]] = defaultdict(list)
    for index, source in enumerate(sources):
        members[find(index)].append(source.name)
    return [members[root] for root in sorted(members)]
