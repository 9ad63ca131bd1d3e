"""The local token file: made once, private to its user, refused when anyone else could read or swap it."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from contracts import local_token
from contracts.errors import ConfigError


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_ensure_creates_a_random_token_private_to_the_user(tmp_path: Path) -> None:
    """A missing file is made with 256 random bits, mode 0600, in a new directory of mode 0700."""
    path = tmp_path / "config" / "exai-mcp" / "ws-token"
    token = local_token.ensure(path)
    assert len(token) >= 43 and token.strip() == token
    assert mode(path) == 0o600 and mode(path.parent) == 0o700
    assert path.read_text().strip() == token
    assert local_token.ensure(tmp_path / "other" / "ws-token") != token
    assert [p.name for p in path.parent.iterdir()] == ["ws-token"]  # no temporary file left behind


def test_ensure_reuses_the_token_and_read_returns_it(tmp_path: Path) -> None:
    """The token survives restarts of the stack; clients read the same one."""
    path = tmp_path / "ws-token"
    assert local_token.read(path) is None
    token = local_token.ensure(path)
    assert local_token.ensure(path) == token
    assert local_token.read(path) == token


def test_a_file_holding_no_valid_token_is_replaced_by_ensure_and_ignored_by_read(tmp_path: Path) -> None:
    """An empty or too short file (a stray `touch`) does not become a weak token."""
    path = tmp_path / "ws-token"
    path.write_text("short\n")
    path.chmod(0o600)
    assert local_token.read(path) is None
    token = local_token.ensure(path)
    assert token != "short" and local_token.read(path) == token and mode(path) == 0o600


def test_a_token_written_by_hand_is_used(tmp_path: Path) -> None:
    """An operator may put a token of their own choosing in the file."""
    path = tmp_path / "ws-token"
    path.write_text("my-own-token-0123456789\n")
    path.chmod(0o600)
    assert local_token.ensure(path) == "my-own-token-0123456789"


def test_concurrent_ensures_agree_on_one_token(tmp_path: Path) -> None:
    """`exai up` and a gateway making the file at the same moment end with the same token."""
    path = tmp_path / "ws-token"
    with ThreadPoolExecutor(8) as pool:
        tokens = set(pool.map(lambda _: local_token.ensure(path), range(16)))
    assert tokens == {local_token.read(path)}


@pytest.mark.parametrize("bits", [0o644, 0o640, 0o604, 0o620, 0o660])
def test_a_file_open_to_other_users_is_refused(tmp_path: Path, bits: int) -> None:
    """Readable or writable by group or others: a clear error with the chmod to run, never the token."""
    path = tmp_path / "ws-token"
    path.write_text("visible-token-0123456789\n")
    path.chmod(bits)
    for call in (local_token.read, local_token.ensure):
        with pytest.raises(ConfigError) as refused:
            call(path)
        assert "EXAI_WS_TOKEN_FILE" in refused.value.message and "chmod 600" in refused.value.message
        assert "visible-token" not in refused.value.message


def test_a_symlink_is_refused_even_to_a_private_file(tmp_path: Path) -> None:
    """A link could point the service at a file someone else controls."""
    target = tmp_path / "real-token"
    local_token.ensure(target)
    link = tmp_path / "ws-token"
    link.symlink_to(target)
    for call in (local_token.read, local_token.ensure):
        with pytest.raises(ConfigError, match="symbolic link"):
            call(link)
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="symbolic link"):
        local_token.ensure(dangling)
    assert not (tmp_path / "nowhere").exists()  # nothing was written through the link


def test_a_fifo_or_a_directory_is_refused_without_blocking(tmp_path: Path) -> None:
    """Opening a FIFO for reading would wait for a writer forever; it is refused at once."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    folder = tmp_path / "folder"
    folder.mkdir(mode=0o700)
    with ThreadPoolExecutor(1) as pool:
        for path in (fifo, folder):
            attempt = pool.submit(local_token.read, path)
            with pytest.raises(ConfigError, match="not a regular file"):
                attempt.result(timeout=10)


@pytest.mark.skipif(os.getuid() != 0, reason="giving a file to another user needs root")
def test_a_file_of_another_user_is_refused(tmp_path: Path) -> None:
    """Someone else's file could hold a token they chose."""
    path = tmp_path / "ws-token"
    local_token.ensure(path)
    os.chown(path, 65534, 65534)
    with pytest.raises(ConfigError, match="another user"):
        local_token.read(path)


def test_a_directory_others_may_write_to_is_refused_unless_sticky(tmp_path: Path) -> None:
    """Anyone who can write to the directory could swap the file; /tmp-like sticky directories are fine."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(ConfigError, match="chmod go-w"):
        local_token.ensure(shared / "ws-token")
    assert not (shared / "ws-token").exists()
    shared.chmod(0o1777)
    assert local_token.read(shared / "ws-token") is None
    assert local_token.ensure(shared / "ws-token")


def test_a_directory_writable_by_the_users_own_group_is_accepted(tmp_path: Path) -> None:
    """With user private groups (umask 002) the group is the user alone; another group is not."""
    own = tmp_path / "own"
    own.mkdir()
    own.chmod(0o770)
    assert local_token.ensure(own / "ws-token")
    if os.getuid() == 0:  # giving the directory to another group needs root
        other = tmp_path / "other"
        other.mkdir()
        os.chown(other, -1, 65534)
        other.chmod(0o770)
        with pytest.raises(ConfigError, match="other users may write"):
            local_token.ensure(other / "ws-token")


def test_the_default_path_follows_xdg_config_home_else_dot_config(tmp_path: Path) -> None:
    """Under $XDG_CONFIG_HOME, else ~/.config, as exai-mcp/ws-token; a relative XDG value is ignored."""
    assert local_token.default_path({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "exai-mcp" / "ws-token"
    home = Path.home() / ".config" / "exai-mcp" / "ws-token"
    assert local_token.default_path({}) == home
    assert local_token.default_path({"XDG_CONFIG_HOME": "relative/dir"}) == home


def test_a_place_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    """A read-only file system (a container) gets a message saying what to set, not a traceback."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="set EXAI_WS_TOKEN"):
        local_token.ensure(blocker / "exai-mcp" / "ws-token")
