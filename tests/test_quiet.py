"""A publish prints publisher's own progress and results; other libraries' output goes to the log."""

import re

from tests.fixtures_hub import hub_env
from tests.fixtures_models import run_cli
from tests.test_publish import RELAXED

# What torch, transformers, optimum, NNCF and OpenVINO print during an export and the passes.
NOISE = re.compile(r"warn|Warning|TracerWarning|CUDA|nncf|INFO|DEBUG|deprecat|Statistics|bitwidth|"
                   r"Traceback|site-packages", re.I)


def _publish(hub, checkpoint, out, *extra):
    return run_cli("publish", str(checkpoint), "--repo-id", "quiet/tiny", "--endpoint", hub.endpoint,
                   "--output", str(out), "--no-push", *RELAXED, *extra, env=hub_env(hub))


def test_stderr_carries_only_publishers_lines_and_the_rest_is_logged(hub_server, tiny_checkpoint, tmp_path):
    out = tmp_path / "out"
    result = _publish(hub_server, tiny_checkpoint, out)
    assert result.returncode == 0, result.stderr
    noise = [line for line in result.stderr.splitlines() if NOISE.search(line)]
    assert not noise, "\n".join(noise)
    assert "Exporting to OpenVINO IR" in result.stderr and "done in" in result.stderr
    log = (out / ".publisher" / "library.log").read_text()
    assert NOISE.search(log), "the libraries printed nothing: this test would not notice noise"


def test_verbose_shows_the_libraries_output(hub_server, tiny_checkpoint, tmp_path):
    result = _publish(hub_server, tiny_checkpoint, tmp_path / "out", "--verbose")
    assert result.returncode == 0, result.stderr
    shown = result.stderr + result.stdout
    assert any(NOISE.search(line) for line in shown.splitlines())
