"""The release set: the files a release holds (IR, config, tokenizer, README.md, report.json and the
training files the card names), written and copied without following a planted symlink, and
checked before a push (regular files inside the output folder, no hidden file, no secret)."""

from __future__ import annotations

import os
from pathlib import Path

from publisher.errors import BadInputError
from publisher.results import Report
from publisher.tasks.run import CACHE_DIR

RELEASE_REPORT = "report.json"
CARD = "README.md"


def _write_text(path: Path, text: str) -> None:
    """Write through a temporary file and rename: never through a symlink planted at ``path``."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _copy_training_files(report: Report, out: Path) -> None:
    """The training files the card lists (``training/NAME``) are part of the release folder."""
    import shutil

    from publisher.stages.training_metadata import training_files

    for rel, source in training_files(report).items():
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)  # never write through a symlink planted there
        shutil.copyfile(source, target)


# Never part of a release, whatever a cache record says: secrets and files useless to users.
_NEVER_PUSHED = ("training_args.bin", "optimizer.pt", "scheduler.pt")


def _release_set(out: Path, paths: dict[str, Path]) -> dict[str, Path]:
    """Check the files about to be pushed: regular files inside ``out``, no symlink, no secret."""
    root = out.resolve()
    for rel, local in paths.items():
        parts = rel.split("/")
        name = parts[-1]
        problem = None
        if rel.startswith("/") or "\\" in rel or any(p in ("", ".", "..") for p in parts):
            problem = "is not a plain relative path inside the output folder"
        elif any(p.startswith(".") for p in parts):
            problem = "is a hidden file"
        elif (name in _NEVER_PUSHED or name.endswith(".pem") or
              (name.startswith("rng_state") and name.endswith(".pth"))):
            problem = "may hold secrets (training state or a key)"
        else:
            node = local
            while node != out and node != node.parent:
                if node.is_symlink():
                    problem = f"goes through the symbolic link {node}"
                    break
                node = node.parent
            if problem is None:
                resolved = local.resolve()
                if root != resolved and root not in resolved.parents:
                    problem = "lies outside the output folder"
                elif not resolved.is_file():
                    problem = "is not a regular file"
        if problem:
            raise BadInputError(
                f"Refusing to push {rel!r} from {out}: it {problem}. Nothing was pushed",
                f"publisher pushes only the regular files its export wrote into the output folder; "
                f"remove {local} (or delete {out / CACHE_DIR} to start afresh) and re-run",
            )
    return paths
