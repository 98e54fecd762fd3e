"""Resolving the Hub target returns a value; huggingface_hub settings change only around a call."""

import os

import huggingface_hub.constants as constants

from publisher.hub.client import HubTarget, resolve_target


def test_resolving_a_local_endpoint_changes_no_global_state(monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", False)
    monkeypatch.delenv("HF_HUB_DISABLE_XET", raising=False)
    monkeypatch.setenv("NO_PROXY", "example.org")
    target = resolve_target("http://127.0.0.1:8999", "t0ken")
    assert target.is_local and target.endpoint == "http://127.0.0.1:8999"
    assert constants.HF_HUB_DISABLE_XET is False
    assert "HF_HUB_DISABLE_XET" not in os.environ and os.environ["NO_PROXY"] == "example.org"
    assert target.environment == {"HF_ENDPOINT": "http://127.0.0.1:8999", "HF_HUB_DISABLE_XET": "1",
                                  "NO_PROXY": "example.org,127.0.0.1,localhost,::1"}
    assert "t0ken" not in repr(target) and "t0ken" not in str(target.environment)


def test_client_settings_apply_around_one_operation_and_are_restored(monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.setenv("NO_PROXY", "example.org")
    local = HubTarget(endpoint="http://127.0.0.1:8999", kind="local")
    with local.client_settings():
        assert constants.HF_HUB_DISABLE_XET is True
        assert os.environ["NO_PROXY"].split(",") == ["example.org", "127.0.0.1", "localhost", "::1"]
        assert "127.0.0.1" in os.environ["no_proxy"]
    assert constants.HF_HUB_DISABLE_XET is False
    assert os.environ["NO_PROXY"] == "example.org" and "no_proxy" not in os.environ


def test_other_hubs_change_nothing(monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", False)
    remote = HubTarget(endpoint="https://huggingface.co", kind="huggingface", token="x")
    with remote.client_settings():
        assert constants.HF_HUB_DISABLE_XET is False
    assert remote.environment == {"HF_ENDPOINT": "https://huggingface.co"}


def test_a_hub_started_for_the_run_says_where_it_is_and_how_to_stop_it(monkeypatch, tmp_path):
    from publisher.hub.local import find_local_hub, stop_hub_at

    for name in ("HF_TOKEN", "HF_ENDPOINT", "CI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "no-tokens"), raising=False)
    root = tmp_path / "hub"
    try:
        target = resolve_target(None, None, local_root=root)
        running = find_local_hub(root.resolve())
        assert target.is_local and running is not None
        assert f"at {target.endpoint}" in target.notice and str(root.resolve()) in target.notice
        assert f"pid {running.pid}" in target.notice and "publisher hub stop --root" in target.notice
        again = resolve_target(None, None, local_root=root)
        assert again.endpoint == target.endpoint and again.notice.startswith("Using the local hub")
    finally:
        stop_hub_at(root.resolve())
    assert find_local_hub(root.resolve()) is None
