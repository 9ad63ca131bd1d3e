"""Legacy Streamable HTTP sessions (``Mcp-Session-Id``): where their per-connection state is kept.

A session's state is one :class:`~gateway.core.peer.Peer` (JSON), behind the :class:`SessionStore`
port. :class:`LocalSessions` keeps them in this process; a Redis store (one key per session with
the idle TTL, refreshed on use) is a drop-in replacement, so any gateway process could serve any
request of any session. What is not in the Peer belongs to the process holding a stream: the
requests a session waits to answer and its GET stream (:class:`LiveSession`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from gateway.core.peer import Channel, Peer, Sink


class SessionStore(Protocol):
    def get(self, session_id: str) -> Peer | None: ...

    def put(self, session_id: str, peer: Peer) -> None: ...

    def delete(self, session_id: str) -> None: ...

    def of(self, identity: str) -> Iterator[str]:
        """The ids of ``identity``'s sessions."""


class LocalSessions:
    """Sessions kept in this process."""

    def __init__(self) -> None:
        self._peers: dict[str, Peer] = {}

    def get(self, session_id: str) -> Peer | None:
        return self._peers.get(session_id)

    def put(self, session_id: str, peer: Peer) -> None:
        self._peers[session_id] = peer

    def delete(self, session_id: str) -> None:
        self._peers.pop(session_id, None)

    def of(self, identity: str) -> Iterator[str]:
        return (sid for sid, peer in list(self._peers.items()) if peer.identity == identity)

    def __len__(self) -> int:
        return len(self._peers)


class LiveSession:
    """A legacy session's process-local side: its channel, its GET stream, its open POSTs."""

    def __init__(self, session_id: str, peer: Peer, ip: str) -> None:
        self.id = session_id
        self.ip = ip
        self.channel = Channel(peer, None)
        self.stream: Sink | None = None
        self.posts = 0

    @property
    def identity(self) -> str:
        return self.channel.peer.identity

    @property
    def last_used(self) -> float:
        return self.channel.peer.last_used

    @property
    def used(self) -> bool:
        return self.channel.peer.used

    def busy(self) -> bool:
        return self.posts > 0 or bool(self.channel.pending) or self.stream is not None
