"""Peers are counted by address, an IPv6 one by its /64, and forgotten after an hour."""

from __future__ import annotations

from hub.governance.limiter import RefusalLimiter
from hub.interfaces import peer_key


def test_ipv6_addresses_count_by_their_slash_64() -> None:
    """Two addresses of one /64 share a key; another /64, an IPv4 and an IPv4-mapped address do not."""
    assert peer_key("2001:db8:1:2::1") == peer_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert peer_key("2001:db8:1:3::1") != peer_key("2001:db8:1:2::1")
    assert peer_key("10.0.0.5") == "10.0.0.5"
    assert peer_key("::ffff:10.0.0.5") == "10.0.0.5"
    assert peer_key("not an address") == "not an address"


def test_a_whole_slash_64_spends_one_bucket() -> None:
    """Refusals from ten addresses of one /64 block all of it."""
    limiter = RefusalLimiter(per_minute=1, burst=10, clock=lambda: 0.0)
    for n in range(10):
        limiter.refused(f"2001:db8::{n + 1}")
    assert limiter.blocked("2001:db8::ffff")
    assert not limiter.blocked("2001:db8:0:1::1")


def test_buckets_of_peers_not_seen_for_an_hour_are_pruned() -> None:
    """A stream of new addresses does not grow the table: an hour later their buckets are gone."""
    now = [0.0]
    limiter = RefusalLimiter(per_minute=10, burst=10, clock=lambda: now[0])
    for n in range(1000):
        limiter.refused(f"10.1.{n // 250}.{n % 250}")
    assert len(limiter) == 1000
    now[0] = 3700.0
    limiter.refused("10.9.9.9")
    assert len(limiter) == 1
