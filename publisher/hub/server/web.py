"""A read-only web view: the repository list, and per repository its card, files and history.

The card is shown the way the Hub shows it: its Markdown rendered with tables and fenced code,
raw HTML allowed but sanitised by an allowlist (nh3, i.e. ammonia: no scripts, styles, event
handlers or ``javascript:`` URLs), HTML comments dropped (publisher's section markers are HTML
comments), relative links and images resolved against the repository at the shown revision.
Beside it, the metadata the Hub shows: license, base model, tags, datasets, and the model-index
results as an "Evaluation results" table. Pages are Jinja2 templates with autoescape (pages.py);
no JavaScript is served.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit

import markdown
from markupsafe import Markup
from starlette.responses import HTMLResponse, Response

from publisher.hub.server import pages
from publisher.hub.server.api import repo_key
from publisher.hub.server.cards import card_data, split_front_matter
from publisher.hub.server.errors import RepoNotFound
from publisher.hub.server.storage import DEFAULT_BRANCH, Entry, Repository
from publisher.hub.server.wire import Call

try:  # the sanitiser; without it raw HTML in a card is shown as text, never passed through
    import nh3
except ImportError:  # pragma: no cover - nh3 is a dependency of the local hub's web view
    nh3 = None

_URL_SCHEMES = {"http", "https", "mailto"}
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def _resolve_url(base: str, value: str) -> str | None:
    """A link or image URL as the page may use it: absolute http(s)/mailto, an anchor, a site
    path, or a path relative to the repository (made to point at its files); None to drop it."""
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme:
        return value if parts.scheme.lower() in _URL_SCHEMES else None
    if value.startswith(("#", "/")) or not value:
        return value or None  # an anchor, a path on this server, or "//host/...": kept as is
    path = parts.path.lstrip("./")
    return f"{base}/{quote(path)}" + (f"#{parts.fragment}" if parts.fragment else "")


def render_markdown(text: str, base: str = "") -> str:
    """Card Markdown to safe HTML, as the Hub renders it. ``base``: where relative URLs point."""
    md = markdown.Markdown(extensions=["tables", "fenced_code", "sane_lists"])
    body = md.convert(text)
    if nh3 is None:
        md = markdown.Markdown(extensions=["tables", "fenced_code", "sane_lists"])
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        return md.convert(_COMMENT.sub("", text))

    def keep(tag: str, attribute: str, value: str) -> str | None:
        if attribute in ("href", "src"):
            return _resolve_url(base, value)
        return value

    attributes = {tag: set(names) for tag, names in nh3.ALLOWED_ATTRIBUTES.items()}
    attributes["*"] = {"title"}
    return nh3.clean(body, attributes=attributes, url_schemes=_URL_SCHEMES, strip_comments=True,
                     attribute_filter=keep, link_rel="noopener noreferrer nofollow")


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, (str, int, float))]
    return []


def _results(model_index: Any) -> list[dict[str, str]]:
    """The model-index results as rows (task, dataset, metric, value), as the Hub tabulates them."""
    rows = []
    for model in model_index if isinstance(model_index, list) else []:
        for result in (model.get("results") if isinstance(model, dict) else None) or []:
            if not isinstance(result, dict):
                continue
            task = result.get("task") if isinstance(result.get("task"), dict) else {}
            dataset = result.get("dataset") if isinstance(result.get("dataset"), dict) else {}
            described = _text(dataset.get("name") or dataset.get("type"))
            details = [f"{k} {dataset[k]}" for k in ("config", "split") if dataset.get(k)]
            if details:
                described += f" ({', '.join(map(str, details))})"
            for metric in result.get("metrics") or []:
                if isinstance(metric, dict):
                    rows.append({"task": _text(task.get("name") or task.get("type")),
                                 "dataset": described,
                                 "metric": _text(metric.get("name") or metric.get("type")),
                                 "value": _text(metric.get("value"))})
    return rows


def card_metadata(data: dict[str, Any] | None, key_prefix: str = "") -> dict[str, Any]:
    data = data or {}
    bases = _strings(data.get("base_model"))
    return {
        "license": _text(data.get("license_name") or data.get("license")),
        "base_models": [{"id": b, "href": f"/{quote(b)}"} for b in bases],
        "tags": _strings(data.get("tags")),
        "datasets": _strings(data.get("datasets")),
        "results": _results(data.get("model-index")),
        "errors": "",
    }


def _page(html_text: str, status: int = 200, code: str | None = None) -> Response:
    return HTMLResponse(html_text, status_code=status,
                        headers={"X-Error-Code": code} if code else None)


def index(call: Call) -> Response:
    rows = []
    for key in call.state.storage.list():
        repo = call.state.storage.get(key)
        private = repo.meta().private
        if private and call.caller is None:
            continue
        record = repo.commit_record(repo.resolve(DEFAULT_BRANCH))
        rows.append({"href": f"/{quote(key.url_prefix + key.id)}", "id": key.id, "type": key.type,
                     "private": private, "title": record.title,
                     "date": f"{record.date:%Y-%m-%d %H:%M}"})
    return _page(pages.render("index.html", rows=rows))


def _files(repo: Repository, revision: str, files: list[Entry]) -> list[dict[str, Any]]:
    base = f"/{quote(repo.key.url_prefix + repo.key.id)}/resolve/{quote(revision, safe='')}"
    return [{"href": f"{base}/{quote(entry.path)}", "path": entry.path, "lfs": entry.lfs is not None,
             "size": _size(entry.size)} for entry in files]


def repo_page(call: Call) -> Response:
    try:
        repo = call.readable(repo_key(call))
    except RepoNotFound as exc:
        return _page(pages.render("not_found.html", message=exc.message), 404, "RepoNotFound")
    revision = call.params.get("revision") or call.query("revision") or DEFAULT_BRANCH
    sha = repo.resolve(revision)
    files = repo.files(sha)
    readme = next((f for f in files if f.path == "README.md" and not f.lfs), None)
    card, data = None, None
    if readme is not None:
        text = repo.read_blob(readme.oid).decode("utf-8", "replace")
        _, body = split_front_matter(text)
        base = f"/{quote(repo.key.url_prefix + repo.key.id)}/resolve/{quote(sha)}"
        card = Markup(render_markdown(body, base))  # sanitised above: the one unescaped value
        data = card_data(text)
    history = [{"short": r.id[:10], "title": r.title, "author": r.author,
                "date": f"{r.date:%Y-%m-%d %H:%M}"} for _, r in zip(range(20), repo.log(sha))]
    return _page(pages.render(
        "repo.html", repo_id=repo.key.id, private=repo.meta().private, repo_type=repo.key.type,
        revision=revision, sha=sha, refs=[*repo.branches(), *repo.tags()], card=card,
        files=_files(repo, revision, files), history=history, meta=card_metadata(data)))
