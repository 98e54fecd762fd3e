"""The wheel holds the whole package: every module folder, the bundled data and the templates.

An editable install finds any folder of publisher/, so a folder missing from pyproject's explicit
package list only breaks a real `pip install ov-publisher`; this builds the wheel and looks.
"""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_holds_every_file_of_the_package(tmp_path):
    # Built from a clean copy: a build/ folder left in the checkout would hide a missing package.
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "publisher", source / "publisher", ignore=ignore)
    shutil.copytree(ROOT / "templates", source / "templates", ignore=ignore)
    out = tmp_path / "wheel"
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
                             "-w", str(out), "-q"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    (wheel,) = out.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    package = ROOT / "publisher"
    expected = {f"publisher/{p.relative_to(package).as_posix()}" for p in package.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts}
    assert expected - names == set()
    templates = {f"publisher/_templates/{p.name}" for p in (ROOT / "templates").glob("*.j2")}
    assert templates and templates <= names
