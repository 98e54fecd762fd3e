"""A read-only web view: the repository list, and per repository its card, files and history.

Everything shown comes from uploaded content, so all of it is escaped: the card's markdown is
rendered with raw HTML switched off (it shows as text) and links limited to http(s), mailto,
anchors and relative paths. No JavaScript is served.
"""

from __future__ import annotations

import html
from urllib.parse import quote, urlsplit

import markdown
from markdown.treeprocessors import Treeprocessor
from starlette.responses import HTMLResponse, Response

from publisher.hub.server.api import repo_key
from publisher.hub.server.cards import split_front_matter
from publisher.hub.server.errors import RepoNotFound
from publisher.hub.server.storage import DEFAULT_BRANCH, Entry, Repository
from publisher.hub.server.wire import Call

_SAFE_SCHEMES = {"", "http", "https", "mailto"}
_STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
a{color:#0b57d0}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.25rem .5rem}
pre{background:#f6f8fa;padding:.75rem;overflow:auto}code{background:#f6f8fa}
.card{border:1px solid #ddd;border-radius:6px;padding:1rem 1.5rem;margin:1rem 0}
.muted{color:#666}.badge{border:1px solid #999;border-radius:4px;padding:0 .3rem;font-size:.8em}
"""


class _SafeLinks(Treeprocessor):
    def run(self, root):
        for element in root.iter():
            for attr in ("href", "src"):
                value = element.get(attr)
                if value is not None and urlsplit(value.strip()).scheme.lower() not in _SAFE_SCHEMES:
                    element.set(attr, "#")


def render_markdown(text: str) -> str:
    md = markdown.Markdown(extensions=["tables", "fenced_code"])
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    md.treeprocessors.register(_SafeLinks(md), "safe_links", 0)
    return md.convert(text)


def _page(title: str, body: str, status: int = 200, code: str | None = None) -> Response:
    document = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
                f"</title><style>{_STYLE}</style></head><body>{body}</body></html>")
    return HTMLResponse(document, status_code=status,
                        headers={"X-Error-Code": code} if code else None)


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def index(call: Call) -> Response:
    rows = []
    for key in call.state.storage.list():
        repo = call.state.storage.get(key)
        private = repo.meta().private
        if private and call.caller is None:
            continue
        record = repo.commit_record(repo.resolve(DEFAULT_BRANCH))
        badge = " <span class='badge'>private</span>" if private else ""
        rows.append(
            f"<tr><td><a href='/{quote(key.url_prefix + key.id)}'>{html.escape(key.id)}</a>{badge}"
            f"</td><td>{html.escape(key.type)}</td><td>{html.escape(record.title)}</td>"
            f"<td class='muted'>{record.date:%Y-%m-%d %H:%M} UTC</td></tr>")
    table = ("<table><tr><th>Repository</th><th>Type</th><th>Last commit</th><th>Date</th></tr>"
             + "".join(rows) + "</table>") if rows else "<p>No repositories yet.</p>"
    return _page("Local hub", f"<h1>Local hub</h1><p class='muted'>{len(rows)} repositories</p>{table}")


def _file_rows(call: Call, repo: Repository, revision: str, files: list[Entry]) -> str:
    rows = []
    for entry in files:
        href = (f"/{quote(repo.key.url_prefix + repo.key.id)}/resolve/{quote(revision, safe='')}/"
                f"{quote(entry.path)}")
        lfs = " <span class='badge'>LFS</span>" if entry.lfs else ""
        rows.append(f"<tr><td><a href='{html.escape(href)}'>{html.escape(entry.path)}</a>{lfs}</td>"
                    f"<td>{_size(entry.size)}</td></tr>")
    return "<table><tr><th>File</th><th>Size</th></tr>" + "".join(rows) + "</table>"


def repo_page(call: Call) -> Response:
    try:
        repo = call.readable(repo_key(call))
    except RepoNotFound as exc:
        return _page("Not found", f"<h1>Not found</h1><p>{html.escape(exc.message)}</p>", 404,
                     code="RepoNotFound")
    revision = call.params.get("revision") or call.query("revision") or DEFAULT_BRANCH
    sha = repo.resolve(revision)
    files = repo.files(sha)
    readme = next((f for f in files if f.path == "README.md" and not f.lfs), None)
    if readme is not None:
        text = repo.read_blob(readme.oid).decode("utf-8", "replace")
        metadata, body = split_front_matter(text)
        card = render_markdown(body)
        if metadata:
            card = (f"<details><summary>Metadata</summary><pre>{html.escape(metadata)}</pre>"
                    f"</details>{card}")
    else:
        card = "<p class='muted'>No model card (README.md).</p>"
    history = "".join(
        f"<li><code>{record.id[:10]}</code> {html.escape(record.title)} "
        f"<span class='muted'>{html.escape(record.author)}, {record.date:%Y-%m-%d %H:%M} UTC</span></li>"
        for _, record in zip(range(20), repo.log(sha)))
    refs = ", ".join(html.escape(name) for name in [*repo.branches(), *repo.tags()])
    meta = repo.meta()
    badge = " <span class='badge'>private</span>" if meta.private else ""
    body = (f"<p><a href='/'>Local hub</a></p><h1>{html.escape(repo.key.id)}{badge}</h1>"
            f"<p class='muted'>{html.escape(repo.key.type)} · revision {html.escape(revision)} "
            f"(<code>{sha}</code>) · refs: {refs}</p>"
            f"<h2>Model card</h2><div class='card'>{card}</div>"
            f"<h2>Files</h2>{_file_rows(call, repo, revision, files)}"
            f"<h2>History</h2><ul>{history}</ul>")
    return _page(repo.key.id, body)
