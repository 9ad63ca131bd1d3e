"""Per-connection state: a JSON-serialisable Peer, and a Channel that cancels or abandons on close."""

from __future__ import annotations

from gateway.core.peer import LEGACY, Channel, Peer


class Entry:
    def __init__(self) -> None:
        self.how = ""

    def cancel(self) -> None:
        self.how = "cancelled"

    def abandon(self) -> None:
        self.how = "abandoned"


def test_a_peer_survives_a_round_trip_through_json() -> None:
    """What a session store keeps is exactly what comes back."""
    peer = Peer("alice", LEGACY, "2025-11-25", {"sampling": {}}, {"name": "c"}, "debug", True, 1.0, 2.0, True)
    assert Peer.load(peer.dump()) == peer


def test_closing_a_channel_cancels_or_abandons_every_pending_request_and_runs_its_closers() -> None:
    """Modern HTTP closes with cancel; everything else abandons; closers run once."""
    for cancel, expected in ((True, "cancelled"), (False, "abandoned")):
        channel = Channel(Peer("alice"), None)
        entry, ran = Entry(), []
        channel.pending[1] = entry
        channel.closers.add(lambda ran=ran: ran.append(1))  # type: ignore[misc]
        channel.close(cancel=cancel)
        channel.close(cancel=cancel)
        assert entry.how == expected and ran == [1] and channel.pending == {}
