#!/usr/bin/env bash
# Run huggingface_hub's own test suite against a fresh local hub and print "N passed of M".
#
#   bash scripts/conformance.sh HFH_CHECKOUT [SELECTION...]
#
# HFH_CHECKOUT is a copy of huggingface_hub at the tag matching the installed client (v1.21.0),
# for example from a clone: git --git-dir=<clone>/.git archive v1.21.0 tests | tar -x -C DIR.
# SELECTION defaults to the classes of tests/test_hf_api.py that cover repos, commits, files,
# branches, tags, pull requests, LFS, auth checks and privacy; pass pytest node ids to widen it
# (e.g. tests/test_commit_api.py tests/test_file_download.py).
#
# Nothing of the checkout is edited: a pytest plugin written by this script points the suite's
# own ENDPOINT_STAGING at the local hub before the suite imports it, and the hub is started with
# the suite's own users and tokens (testing_constants.py). Tests that patch the endpoint to
# production (with_production_testing, on the test or its setUp) or replay recorded production
# answers (vcr) need huggingface.co and are deselected and counted apart.
# The suite needs pytest-mock, which is installed into a scratch folder, not into .venv.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-$here/.venv/bin/python}"
if [[ $# -lt 1 || ! -f "$1/tests/test_hf_api.py" ]]; then
    echo "usage: $0 HFH_CHECKOUT [pytest node ids...]  (HFH_CHECKOUT/tests/test_hf_api.py must exist)" >&2
    exit 2
fi
hfh="$(cd "$1" && pwd)"
shift
classes=(CommitApiTest HfApiRepoFileExistsTest HfApiUploadEmptyFileTest HfApiDeleteFolderTest
         HfApiListFilesInfoTest HfApiListRepoTreeTest HfApiTagEndpointTest HfApiBranchEndpointTest
         HfApiDeleteFilesTest HfApiPrivateTest HfLargefilesTest TestHfApiAuthCheck)
selection=("$@")
if [[ ${#selection[@]} -eq 0 ]]; then
    for c in "${classes[@]}"; do selection+=("tests/test_hf_api.py::$c"); done
fi

work="$(mktemp -d /tmp/hub-conformance.XXXXXX)"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    [[ -n "${KEEP:-}" ]] || rm -rf "$work"
}
trap cleanup EXIT

"$python" -m pip install --quiet --disable-pip-version-check --target "$work/deps" \
    'pytest-mock>=3.14' >/dev/null

# The suite's users and tokens, read from its own constants.
eval "$(cd "$hfh" && "$python" - <<'EOF'
import importlib.util, shlex
spec = importlib.util.spec_from_file_location("c", "tests/testing_constants.py")
c = importlib.util.module_from_spec(spec); spec.loader.exec_module(c)
for k in ("USER", "TOKEN", "OTHER_USER", "OTHER_TOKEN"):
    print(f"{k}={shlex.quote(getattr(c, k))}")
EOF
)"

# The tokens travel in a file (mode 0600): on the command line, ps would show them.
(umask 077 && printf '%s=%s\n' "$USER" "$TOKEN" "$OTHER_USER" "$OTHER_TOKEN" >"$work/users")
PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" "$python" -m publisher.hub.server \
    --root "$work/root" --port 0 --users-file "$work/users" \
    >"$work/server.log" 2>&1 &
server_pid=$!
endpoint=""
for _ in $(seq 200); do
    endpoint="$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["endpoint"])' \
        "$work/root/server.json" 2>/dev/null || true)"
    [[ -n "$endpoint" ]] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 5; }
    sleep 0.1
done
[[ -n "$endpoint" ]] || { echo "the local hub did not start" >&2; cat "$work/server.log" >&2; exit 5; }

mkdir -p "$work/shim"
cat >"$work/shim/local_hub_shim.py" <<'EOF'
"""Point huggingface_hub's test suite at the local hub without editing it."""
import os

import tests.testing_constants as constants

constants.ENDPOINT_STAGING = os.environ["LOCAL_HUB_ENDPOINT"]


def _patched_to_production(function) -> bool:
    patchings = getattr(function, "patchings", None) or []
    return any(getattr(p, "new", None) == constants.ENDPOINT_PRODUCTION for p in patchings)


def _needs_production(item) -> bool:
    """The test, or its class's setUp, patches the endpoint to production; or it replays
    recorded production answers (pytest-vcr cassettes)."""
    cls = getattr(item, "cls", None)
    fixtures = [getattr(cls, name, None) for name in ("setUp", "setUpClass")] if cls else []
    return (_patched_to_production(getattr(item, "obj", None))
            or any(_patched_to_production(f) for f in fixtures)
            or item.get_closest_marker("vcr") is not None)


def pytest_collection_modifyitems(config, items):
    production = [item for item in items if _needs_production(item)]
    if production:
        config.hook.pytest_deselected(items=production)
        items[:] = [item for item in items if item not in production]
        with open(os.environ["LOCAL_HUB_PRODUCTION_LIST"], "w") as handle:
            handle.write("\n".join(item.nodeid for item in production))
EOF

echo "local hub: $endpoint (root $work/root); suite: $hfh"
set +e
(cd "$hfh" && env LOCAL_HUB_ENDPOINT="$endpoint" LOCAL_HUB_PRODUCTION_LIST="$work/production.txt" \
    HF_ENDPOINT="$endpoint" HF_HUB_DISABLE_XET=1 HF_HUB_DISABLE_TELEMETRY=1 \
    NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost \
    PYTHONPATH="$work/shim:$work/deps:$hfh" \
    "$python" -m pytest -p local_hub_shim -p no:cacheprovider -o addopts= -o timeout=300 \
    -q -rfE --junitxml="$work/junit.xml" "${selection[@]}" >"$work/pytest.log" 2>&1)
set -e
"$python" - "$work/junit.xml" "$work/production.txt" <<'EOF'
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

cases = ET.parse(sys.argv[1]).getroot().iter("testcase")
passed, failed, skipped = [], [], []
for case in cases:
    name = f"{case.get('classname')}.{case.get('name')}"
    outcome = {child.tag for child in case}
    if outcome & {"failure", "error"}:
        failed.append(name)
    elif "skipped" in outcome:
        skipped.append(name)
    else:
        passed.append(name)
production = Path(sys.argv[2])
n_production = len(production.read_text().split()) if production.exists() else 0
total = len(passed) + len(failed)
print(f"{len(passed)} passed of {total}"
      f" ({len(skipped)} skipped by the suite itself, {n_production} need production and were not run)")
EOF
status=0
if grep -qE '^(FAILED|ERROR) ' "$work/pytest.log"; then
    grep -E '^(FAILED|ERROR) ' "$work/pytest.log" | cut -c1-300
    status=1
fi
if [[ -n "${KEEP:-}" ]]; then echo "kept: $work (pytest.log, server.log, root)"; fi
exit $status
