"""The card page shows a card as the Hub does: Markdown with safe HTML, comments hidden, the
metadata beside it (license, base model, tags, evaluation results), the files and history.

These read the HTML the server sends; test_web_browser.py (slow) reads what Chromium shows.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi

from publisher.hub.server.web import render_markdown

CARD = """---
license: apache-2.0
base_model: sentence-transformers/all-MiniLM-L6-v2
tags:
- openvino
- text-classification
datasets:
- glue
model-index:
- name: minilm-sst2
  results:
  - task:
      type: text-classification
      name: Text Classification
    dataset:
      type: glue
      name: GLUE SST-2
      config: sst2
      split: validation
    metrics:
    - type: accuracy
      value: 0.8486
      name: Accuracy
---
<!-- publisher:begin title -->
# MiniLM SST-2 <em>sparse</em>
<!-- publisher:end title -->

Results <b onmouseover="alert(1)">measured</b> in the run.<script>alert("owned")</script>
<img src="plots/curve.png" alt="curve" onerror="alert(2)">
[docs](javascript:alert(3)) and [config](config.json) and [site](https://example.org/x)

| metric | torch | ir |
|---|---|---|
| accuracy | 0.8830 | 0.8486 |

```python
print("<script>not run</script>")
```
"""
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                    "0000000d4944415478da63f8cfc0f01f0005000201a2dd1f8b0000000049454e44ae426082")


@pytest.fixture(scope="module")
def card_repo(hub_server) -> str:
    api = HfApi(endpoint=hub_server.endpoint, token=hub_server.token)
    repo_id = f"tester/card-{uuid.uuid4().hex[:8]}"
    api.create_repo(repo_id)
    api.create_commit(repo_id, commit_message="Release with card", operations=[
        CommitOperationAdd("README.md", CARD.encode()), CommitOperationAdd("config.json", b"{}"),
        CommitOperationAdd("plots/curve.png", PNG)])
    return repo_id


@pytest.fixture(scope="module")
def page(hub_server, card_repo) -> str:
    response = httpx.get(f"{hub_server.endpoint}/{card_repo}", trust_env=False)
    assert response.status_code == 200
    return response.text


def test_html_comments_are_hidden(page):
    assert "publisher:begin" not in page and "publisher:end" not in page


def test_safe_html_stays_and_scripts_handlers_and_javascript_links_go(page):
    assert "<em>sparse</em>" in page and "<b>measured</b>" in page
    for banned in ("<script", "onmouseover", "onerror", "javascript:", 'alert("owned")'):
        assert banned not in page, banned
    assert 'print("&lt;script&gt;not run&lt;/script&gt;")' in page  # code is shown, not run


def test_tables_code_and_repo_relative_images_and_links(page, card_repo):
    assert "<td>0.8830</td>" in page and "<pre><code" in page
    assert f'src="/{card_repo}/resolve/' in page and '/plots/curve.png"' in page
    assert '/config.json"' in page and 'href="https://example.org/x"' in page


def test_metadata_is_shown_as_on_the_hub(page):
    assert 'id="license">apache-2.0<' in page
    assert 'href="/sentence-transformers/all-MiniLM-L6-v2"' in page
    assert '<span class="tag">openvino</span>' in page
    assert "<h3>Evaluation results</h3>" in page
    assert "<td>Text Classification</td><td>GLUE SST-2 (config sst2, split validation)</td>" \
        "<td>Accuracy</td>\n<td>0.8486</td>" in page


def test_every_value_on_the_page_is_escaped(hub_server):
    api = HfApi(endpoint=hub_server.endpoint, token=hub_server.token)
    repo_id = f"tester/escape-{uuid.uuid4().hex[:8]}"
    api.create_repo(repo_id)
    api.create_commit(repo_id, commit_message='<img src=x onerror="alert(1)">', operations=[
        CommitOperationAdd('<b>name</b>.txt', b"x"),
        CommitOperationAdd("README.md", b"---\nlicense: <script>x</script>\ntags:\n- '<i>t</i>'\n---\nbody\n")])
    page = httpx.get(f"{hub_server.endpoint}/{repo_id}", trust_env=False).text
    assert "<script>" not in page and "<i>t</i>" not in page and "<b>name</b>" not in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=" in page
    assert "&lt;b&gt;name&lt;/b&gt;.txt" in page


def test_render_markdown_without_a_repository_keeps_relative_paths_relative():
    assert '<img alt="a" src="/x/a.png">' in render_markdown("![a](a.png)", "/x")
    assert render_markdown("<!-- hidden -->\n\nshown") .strip() == "<p>shown</p>"
