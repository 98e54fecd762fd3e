"""HTML templates of the web view (Jinja2, autoescaped).

Kept as Python strings and loaded with a ``DictLoader`` so that they travel with the package in
every kind of install (the package data of ``publisher.hub.server`` declares no template files).
Every value is escaped by Jinja2's autoescape; the one exception is the card body, which is
already sanitised HTML and is passed in as ``Markup``.
"""

from __future__ import annotations

from jinja2 import DictLoader, Environment, StrictUndefined, select_autoescape

_BASE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block title %}Local hub{% endblock %}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#222}
a{color:#0b57d0}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left}
pre{background:#f6f8fa;padding:.75rem;overflow:auto}code{background:#f6f8fa}
img{max-width:100%}.layout{display:flex;gap:2rem;align-items:flex-start}.main{flex:1;min-width:0}
.side{width:18rem}.card{border:1px solid #ddd;border-radius:6px;padding:1rem 1.5rem;margin:1rem 0}
.muted{color:#666}.badge,.tag{border:1px solid #999;border-radius:4px;padding:0 .3rem;font-size:.8em;
display:inline-block;margin:0 .2rem .2rem 0}
</style></head>
<body><p><a href="/">Local hub</a></p>
{% block body %}{% endblock %}
</body></html>
"""

_INDEX = """{% extends "base.html" %}
{% block body %}<h1>Local hub</h1>
<p class="muted">{{ rows|length }} repositories</p>
{% if rows %}<table id="repositories">
<tr><th>Repository</th><th>Type</th><th>Last commit</th><th>Date</th></tr>
{% for row in rows %}<tr><td><a href="{{ row.href }}">{{ row.id }}</a>
{% if row.private %}<span class="badge">private</span>{% endif %}</td>
<td>{{ row.type }}</td><td>{{ row.title }}</td><td class="muted">{{ row.date }} UTC</td></tr>
{% endfor %}</table>
{% else %}<p>No repositories yet.</p>{% endif %}
{% endblock %}
"""

_REPO = """{% extends "base.html" %}
{% block title %}{{ repo_id }}{% endblock %}
{% block body %}<h1>{{ repo_id }}{% if private %} <span class="badge">private</span>{% endif %}</h1>
<p class="muted">{{ repo_type }} &middot; revision {{ revision }} (<code>{{ sha }}</code>)
&middot; refs: {{ refs|join(", ") }}</p>
<div class="layout"><div class="main">
<h2>Model card</h2>
<div class="card" id="model-card">{% if card %}{{ card }}{% else %}
<p class="muted">No model card (README.md).</p>{% endif %}</div>
<h2>Files</h2>
<table id="files"><tr><th>File</th><th>Size</th></tr>
{% for file in files %}<tr><td><a href="{{ file.href }}">{{ file.path }}</a>
{% if file.lfs %}<span class="badge">LFS</span>{% endif %}</td><td>{{ file.size }}</td></tr>
{% endfor %}</table>
<h2>History</h2>
<ul id="history">{% for commit in history %}<li><code>{{ commit.short }}</code> {{ commit.title }}
<span class="muted">{{ commit.author }}, {{ commit.date }} UTC</span></li>{% endfor %}</ul>
</div>
<aside class="side" id="metadata">
{% if meta.license %}<h3>License</h3><p id="license">{{ meta.license }}</p>{% endif %}
{% if meta.base_models %}<h3>Base model</h3><ul id="base-model">
{% for base in meta.base_models %}<li><a href="{{ base.href }}">{{ base.id }}</a></li>{% endfor %}
</ul>{% endif %}
{% if meta.tags %}<h3>Tags</h3><p id="tags">{% for tag in meta.tags %}<span class="tag">{{ tag }}</span>
{% endfor %}</p>{% endif %}
{% if meta.datasets %}<h3>Datasets</h3><ul>{% for d in meta.datasets %}<li>{{ d }}</li>{% endfor %}</ul>{% endif %}
{% if meta.results %}<h3>Evaluation results</h3>
<table id="evaluation-results"><tr><th>Task</th><th>Dataset</th><th>Metric</th><th>Value</th></tr>
{% for r in meta.results %}<tr><td>{{ r.task }}</td><td>{{ r.dataset }}</td><td>{{ r.metric }}</td>
<td>{{ r.value }}</td></tr>{% endfor %}</table>
<p class="muted">self-reported (from the card's model-index)</p>{% endif %}
{% if meta.errors %}<p class="muted">Metadata not shown: {{ meta.errors }}</p>{% endif %}
</aside></div>
{% endblock %}
"""

_NOT_FOUND = """{% extends "base.html" %}
{% block title %}Not found{% endblock %}
{% block body %}<h1>Not found</h1><p>{{ message }}</p>{% endblock %}
"""

ENV = Environment(
    loader=DictLoader({"base.html": _BASE, "index.html": _INDEX, "repo.html": _REPO,
                       "not_found.html": _NOT_FOUND}),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
)


def render(name: str, **context) -> str:
    return ENV.get_template(name).render(**context)
