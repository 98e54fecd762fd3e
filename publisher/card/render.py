"""Render a card: canonical front matter plus a Jinja body, strictly.

A template renders the body only; the front matter always comes from ``build_card_metadata`` so
that no template can produce metadata the Hub would misread. Rendering is strict: an undefined
variable, a misspelt attribute or a syntax error stops with the template's name and line.

Templates mark the parts publisher owns with ``{% call section("name") %}...{% endcall %}``;
the output of each is fenced by managed-section markers and dropped when it renders blank. Files
in a sections folder (``NAME.md.j2`` or ``NAME.md``) replace the section of that name (the
default text is available to them as ``default_section``); files that match no section are added
after the last one, in file-name order.
"""

from __future__ import annotations

import json
import math
import re
import types
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import jinja2.sandbox

from publisher.card import sections
from publisher.card.context import build_context
from publisher.card.metadata import build_card_metadata, compose
from publisher.errors import BadInputError
from publisher.results import Report

DEFAULT_TEMPLATE = "openvino.md.j2"
SECTION_SUFFIXES = (".md.j2", ".md")
USER_SECTIONS = "user-sections"  # loader prefix under which a sections folder is visible
BUNDLED = "publisher"  # loader prefix that always names a bundled template ("publisher/base.md.j2")


def bundled_templates_dir() -> Path:
    """``templates/`` of the source checkout this module is in, else the installed ``publisher._templates``."""
    # An editable install maps publisher._templates to the checkout it was installed from; code run from
    # another checkout (a git worktree on PYTHONPATH) must read its own templates.
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "templates" / DEFAULT_TEMPLATE).is_file():
        return checkout / "templates"
    try:
        root = resources.files("publisher._templates")
        path = Path(str(root))
        if (path / DEFAULT_TEMPLATE).is_file():
            return path
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parents[2] / "templates"


@dataclass(frozen=True)
class TemplateRef:
    folder: Path  # the loader root: templates may include or extend only what lies under it
    name: str
    user: bool  # a user's file (rendered in the sandbox)

    @property
    def path(self) -> Path:
        return self.folder / self.name


def default_template(task: str | None) -> str:
    """The bundled template of ``task`` (``publisher.tasks``), the classifier card when unknown.

    Reports written before tasks existed carry no task and are classifiers; the task registry is the
    one place that names each task's card.
    """
    from publisher.tasks import TASKS

    spec = TASKS.get(task or "")
    return spec.template if spec is not None else DEFAULT_TEMPLATE


def resolve_template(template: str | Path | None, task: str | None = None) -> TemplateRef:
    """A template path, a bundled template's name, or None for the default card of ``task``."""
    bundled = bundled_templates_dir()
    if template is None:
        return TemplateRef(bundled, default_template(task), user=False)
    path = Path(template).expanduser()
    if path.is_file():
        path = path.resolve()
        return TemplateRef(path.parent, path.name, user=True)
    if str(template).endswith(".j2") and "/" not in str(template) and (bundled / str(template)).is_file():
        return TemplateRef(bundled, str(template), user=False)
    raise BadInputError(
        f"The card template {str(template)!r} does not exist",
        f"Pass the path of a Jinja template file, or leave --template out to use the default "
        f"({DEFAULT_TEMPLATE})",
    )


def section_files(sections_dir: Path | None) -> dict[str, str]:
    """Section name -> file name in ``sections_dir`` (``notes.md.j2`` gives "notes")."""
    if sections_dir is None:
        return {}
    folder = Path(sections_dir)
    if not folder.is_dir():
        raise BadInputError(
            f"The card sections folder {str(folder)!r} does not exist",
            "Pass a folder holding NAME.md.j2 (or NAME.md) files, one per section to add or replace",
        )
    found: dict[str, str] = {}
    for entry in sorted(folder.iterdir()):
        for suffix in SECTION_SUFFIXES:
            if entry.is_file() and entry.name.endswith(suffix):
                name = entry.name[: -len(suffix)]
                if name in found:
                    raise BadInputError(
                        f"The sections folder has two files for section {name!r}",
                        f"Keep either {name}.md.j2 or {name}.md",
                    )
                if not sections.SECTION_NAME.match(name):
                    raise BadInputError(
                        f"Section file {entry.name!r} has a name publisher cannot use as a section",
                        "Name section files with lower-case letters, digits, '-' and '_'",
                    )
                found[name] = entry.name
                break
    return found


class ConfinedLoader(jinja2.FileSystemLoader):
    """A FileSystemLoader that refuses files resolving outside its folder (symlinks included).

    jinja2's loader rejects ``..`` in names but follows a symlink planted in the folder, which
    would let a template read any file the user can.
    """

    def __init__(self, folder: Path) -> None:
        super().__init__(str(folder))
        self.root = Path(folder).resolve()

    def get_source(self, environment, template):
        source, filename, uptodate = super().get_source(environment, template)
        if not Path(filename).resolve().is_relative_to(self.root):
            raise jinja2.TemplateNotFound(template)
        return source, filename, uptodate


def make_environment(ref: TemplateRef, sections_dir: Path | None) -> jinja2.Environment:
    """Strict Jinja environment; sandboxed whenever a user's file takes part."""
    roots: list[jinja2.BaseLoader] = [ConfinedLoader(ref.folder)]
    if ref.folder != bundled_templates_dir():
        roots.append(ConfinedLoader(bundled_templates_dir()))  # to extend the default
    loaders: list[jinja2.BaseLoader] = []
    if sections_dir is not None:
        loaders.append(jinja2.PrefixLoader({USER_SECTIONS: ConfinedLoader(sections_dir)}))
    # The bundled cards extend "publisher/base.md.j2": a file named base.md.j2 next to a user's
    # template (which is looked up first) must not stand in for it.
    loaders.append(jinja2.PrefixLoader({BUNDLED: ConfinedLoader(bundled_templates_dir())}))
    loaders.extend(roots)
    sandboxed = ref.user or sections_dir is not None
    cls = jinja2.sandbox.SandboxedEnvironment if sandboxed else jinja2.Environment
    env = cls(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # Markdown, not HTML
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(fixed=_fixed, sig=_sig, fence=_fence, join_words=_join_words, visible=_visible,
                       py_str=_py_str)
    return env


@dataclass
class _Sections:
    """The ``section`` global: fences each section and applies the user's section files."""

    env: jinja2.Environment
    files: dict[str, str]
    seen: list[str] = field(default_factory=list)

    def as_global(self) -> Any:
        @jinja2.pass_context
        def section(ctx: jinja2.runtime.Context, name: str, caller: Any = None) -> str:
            if caller is None:
                raise BadInputError(
                    f"section({name!r}) was used as an expression",
                    'Write {% call section("NAME") %}...{% endcall %} around the section text',
                )
            self.seen.append(name)
            default = caller()
            if name in self.files:
                return sections.wrap(name, self.render_file(name, ctx.get_all(), default))
            return sections.wrap(name, default)

        return section

    def render_file(self, name: str, variables: dict[str, Any], default: str = "") -> str:
        template = self.env.get_template(f"{USER_SECTIONS}/{self.files[name]}")
        return template.render({**variables, "default_section": default.strip("\n")})


def render_body(
    report: Report,
    *,
    template: str | Path | None = None,
    sections_dir: Path | None = None,
) -> str:
    """The card body (Markdown, no front matter) for ``report``; without ``template``, the bundled
    card of the report's task."""
    ref = resolve_template(template, report.task)
    files = section_files(sections_dir)
    env = make_environment(ref, sections_dir)
    manager = _Sections(env, files)
    env.globals["section"] = manager.as_global()
    context = build_context(report)
    try:
        text = env.get_template(ref.name).render(context)
        extras = [
            sections.wrap(name, manager.render_file(name, context))
            for name in files
            if name not in manager.seen
        ]
    except jinja2.TemplateError as exc:
        raise template_error(exc, ref) from exc
    return sections.normalize_blank_lines(text + "".join(extras))


def render_card(
    report: Report,
    *,
    template: str | Path | None = None,
    sections_dir: Path | None = None,
) -> str:
    """The full README.md for ``report``: canonical YAML front matter, then the rendered body."""
    body = render_body(report, template=template, sections_dir=sections_dir)
    body = _with_signature_section(body, report)
    _refuse_unledgered(body, report)
    return compose(build_card_metadata(report), body)


def _with_signature_section(body: str, report: Report) -> str:
    """A signed release's card says so, in a managed section of its own, after whatever the
    template wrote (the card is one of the signed files, so the fingerprint comes from the key)."""
    from publisher.card import sections

    signing = report.card.signing
    if signing is None:
        return body
    text = (
        "## Signature\n\n"
        f"The files of this commit are signed ({signing.method}): every file of the release, this card "
        f"and report.json included, is listed with its sha256 in `{signing.signature}`. The public key fingerprint "
        f"`sha256:{signing.fingerprint}` (sha256 of the DER public key) names the key that signed them.\n\n"
        "A valid signature shows these bytes were signed with that key, not who holds the key: get the "
        "public key from its owner through a channel you trust. Check it with "
        f"`publisher verify REPO --public-key key.pub`, or with `model_signing verify key . --signature "
        f"{signing.signature} --public_key key.pub` in a download of the repo.\n"
    )
    return body.rstrip("\n") + "\n\n" + sections.wrap("signature", text).strip("\n") + "\n"


def _refuse_unledgered(body: str, report: Report) -> None:
    """A figure or statement the claims ledger does not stand behind never reaches a card
    (`publisher verify` could not re-check it)."""
    from publisher.card.ledger import ledger_of
    from publisher.card.readback import unledgered

    loose = unledgered(body, ledger_of(report))
    if loose:
        shown = "; ".join(loose[:5])
        raise BadInputError(
            f"The card template prints figures or statements that are not measurements of this run "
            f"({shown}); every one on a card must come from the claims ledger in report.json",
            "Print only the figure variables `publisher card variables` lists, with the wording of the "
            "bundled templates (e.g. 'OpenVINO IR accuracy'), or write the number without bold list "
            "formatting if it is not a claim",
        )


def template_error(exc: jinja2.TemplateError, ref: "TemplateRef") -> BadInputError:
    """One-paragraph message (problem and fix) for any Jinja failure of a card template."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return BadInputError(
            f"Card template {exc.filename or exc.name or ref.name}, line {exc.lineno}: {exc.message}",
            "Fix the Jinja syntax at that line",
        )
    if isinstance(exc, jinja2.UndefinedError):
        return BadInputError(
            f"Card template {_template_location(exc) or ref.name} uses an undefined variable: "
            f"{exc.message}",
            "Fix the name (run `publisher card variables` to list what templates can use), or test "
            "optional values with {% if NAME %}",
        )
    if isinstance(exc, jinja2.TemplateNotFound):
        return BadInputError(
            f"Card template {ref.name} refers to {exc.name!r}, which is not in {ref.folder}",
            "Templates can include or extend only files in their own folder (or the bundled "
            "templates); copy the file next to the template",
        )
    if isinstance(exc, jinja2.sandbox.SecurityError):
        return BadInputError(
            f"Card template {ref.name} tried something the template sandbox forbids: {exc}",
            "Use only variables, filters and tests in card templates",
        )
    return BadInputError(f"Card template {ref.name} cannot be rendered: {exc}", "Fix the template")


def _template_location(exc: BaseException) -> str | None:
    """"file, line N" of the innermost template frame in a Jinja traceback."""
    found = None
    tb: types.TracebackType | None = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(SECTION_SUFFIXES) or filename == "<template>":
            found = f"{Path(filename).name}, line {tb.tb_lineno}"
        tb = tb.tb_next
    return found


def _fixed(value: Any, digits: int = 4) -> str:
    return f"{_number(value):.{int(digits)}f}"


def _sig(value: Any, digits: int = 3) -> str:
    return f"{_number(value):.{int(digits)}g}"


def _number(value: Any) -> float:
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    number = float(value)
    if not math.isfinite(number):
        raise BadInputError(
            f"A card figure is {number}, which cannot be published",
            "Re-run the measurement; the report holds a non-finite value",
        )
    return number


def _fence(text: Any) -> str:
    """A code fence longer than any backtick run inside ``text``."""
    longest, run = 0, 0
    for ch in str(text):
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def _join_words(items: Any) -> str:
    words = [str(i) for i in items]
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


# Characters that must not reach the card raw: C0/C1 controls (a vertical tab or form feed is a
# line break to Python's splitlines and to some Markdown renderers), line and paragraph separators,
# and unpaired surrogates. Newlines and tabs stay: they are part of a generated text's layout.
_INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def _visible(text: Any) -> str:
    """``text`` with each control character written as a ``\\uXXXX`` escape (model output shown
    as produced, without characters that would break or hide in the card)."""
    return _INVISIBLE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", str(text))


def _py_str(text: Any) -> str:
    """A Python string literal for ``text`` (JSON's escapes are Python's too)."""
    return json.dumps(str(text), ensure_ascii=False)
