"""The README's generated references match the code."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_cli_and_config_references_are_current():
    result = subprocess.run([sys.executable, "scripts/update_readme.py", "--check"], cwd=ROOT)
    assert result.returncode == 0, "README is stale: run python scripts/update_readme.py"


def test_readme_starts_with_the_two_fresh_machine_commands():
    text = (ROOT / "README.md").read_text()
    block = text.split("```bash\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert [line.split()[1] for line in block] == ["scripts/demo.sh", "scripts/test.sh"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "scripts/test.sh" in ci
