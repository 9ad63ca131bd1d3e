"""Metric labels stay within small known sets, whatever events say."""

from __future__ import annotations

from contracts.settings import load_settings
from monitoring.labels import OTHER, Bounded, Labels


def test_known_values_pass_and_unknown_ones_become_other() -> None:
    """A closed set maps anything else to `other`."""
    label = Bounded(frozenset({"chat", "version"}))
    assert label("chat") == "chat"
    assert label("made-up-tool") == OTHER
    assert label(None) == OTHER


def test_an_open_label_admits_a_bounded_number_of_new_values() -> None:
    """New well-formed values are kept up to the limit, then `other`."""
    label = Bounded(limit=2)
    assert [label("a"), label("b"), label("c"), label("a")] == ["a", "b", OTHER, "a"]


def test_ids_prompts_and_odd_characters_never_become_labels() -> None:
    """Values with spaces, quotes or excessive length are refused outright."""
    label = Bounded(limit=10)
    assert label("say hello to the model") == OTHER
    assert label('x"y') == OTHER
    assert label("a" * 200) == OTHER


def test_models_and_tools_are_the_configured_ones() -> None:
    """Model labels come from the configured model lists, tool labels from the tool specs."""
    labels = Labels(load_settings())
    assert labels.model("kimi-k2.6") == "kimi-k2.6"
    assert labels.model("some-model-from-a-proxy") == OTHER
    assert labels.tool("chat") == "chat"
    assert labels.method("tools/call") == "tools/call"
    assert labels.method("resources/list") == "resources/list"  # served since issue 11
    assert labels.method("sampling/createMessage") == OTHER  # a client method: never one of ours


def test_the_tools_of_every_pack_are_tool_labels() -> None:
    """A pack's tools are counted under their own names, like the built-in ones."""
    labels = Labels(load_settings(exai_tool_packs="tests.conformance.fixture_pack"))
    assert labels.tool("greet") == "greet" and labels.tool("chat") == "chat"
    assert Labels(load_settings()).tool("greet") == OTHER
