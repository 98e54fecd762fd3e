"""The docs install this project by its own distribution name, never by a stranger's."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).parent.parent
DOCS = [ROOT / "README.md", ROOT / "SECURITY.md", *sorted((ROOT / "docs").glob("*.md")),
        *sorted(ROOT.glob("*/README.md"))]
# Packages the docs may install besides the project itself.
THIRD_PARTY = {"torch", "torchvision"}
INSTALL = re.compile(r"pip install((?:[ \t]+(?:-\S+|\"[^\"]+\"|'[^']+'|[^\s#`]+))+)")


def _distribution() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]


def test_the_distribution_is_not_the_taken_name():
    # "publisher" on PyPI is an unrelated package (0.11, 2015).
    assert _distribution() == "ov-publisher"


def test_every_install_line_names_the_project_by_its_distribution():
    found = []
    for doc in DOCS:
        for match in INSTALL.finditer(doc.read_text()):
            words = [w.strip("\"'") for w in match.group(1).split() if not w.startswith("-")]
            for word in words:
                name = re.split(r"[=<>\[ ]", word)[0]
                if name in THIRD_PARTY or word.startswith((".", "/")) or name.startswith("http"):
                    continue
                found.append((doc.name, name))
                assert name == _distribution(), f"{doc.name} installs {word!r}"
    assert (("ci.md", "ov-publisher") in found), "docs/ci.md must show the install line"
