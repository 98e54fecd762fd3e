"""Fault injection for tests (filled in below); off unless PUBLISHER_HUB_FAULTS is set."""

from __future__ import annotations


def wrap_with_faults(app):
    return app
