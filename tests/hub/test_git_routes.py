"""The LFS batch and verify routes check the types of what they are sent, not just its presence."""

from __future__ import annotations

import hashlib
import uuid

import httpx
import pytest
from huggingface_hub import HfApi

OID = hashlib.sha256(b"abc").hexdigest()


@pytest.fixture
def client(hub_server):
    with httpx.Client(base_url=hub_server.endpoint, trust_env=False, timeout=30,
                      headers={"authorization": f"Bearer {hub_server.token}"}) as http:
        yield http


@pytest.fixture
def repo_id(hub_server) -> str:
    repo_id = f"tester/lfs-{uuid.uuid4().hex[:8]}"
    HfApi(endpoint=hub_server.endpoint, token=hub_server.token).create_repo(repo_id)
    return repo_id


def _batch(client, repo_id: str, objects: list) -> list[dict]:
    response = client.post(f"/{repo_id}.git/info/lfs/objects/batch",
                           json={"operation": "upload", "transfer": ["basic"], "objects": objects})
    assert response.status_code == 200, response.text
    return response.json()["objects"]


@pytest.mark.parametrize("size", [True, False, 3.0, "3", -1, None, [3], {"n": 3}])
def test_a_size_that_is_not_a_non_negative_integer_gets_no_upload_url(client, repo_id, size):
    # "size": true was signed as an upload URL (bool is an int in Python).
    (answer,) = _batch(client, repo_id, [{"oid": OID, "size": size}])
    assert "actions" not in answer
    assert answer["error"]["code"] == 422 and "size" in answer["error"]["message"]
    assert answer["size"] == 0


@pytest.mark.parametrize("oid", [OID + "\n", OID.upper(), OID[:-1], OID + "0", 7, None, True,
                                 [OID], "g" * 64])
def test_an_oid_that_is_not_64_lowercase_hex_digits_gets_no_upload_url(client, repo_id, oid):
    (answer,) = _batch(client, repo_id, [{"oid": oid, "size": 3}])
    assert "actions" not in answer
    assert answer["error"]["code"] == 422 and "oid" in answer["error"]["message"]
    assert isinstance(answer["oid"], str)


def test_a_valid_object_still_gets_a_signed_upload_url(client, repo_id):
    content = uuid.uuid4().bytes  # not stored yet, so the answer must carry an upload URL
    oid = hashlib.sha256(content).hexdigest()
    (answer,) = _batch(client, repo_id, [{"oid": oid, "size": len(content)}])
    href = answer["actions"]["upload"]["href"]
    assert "signature=" in href and f"size={len(content)}" in href
    assert client.put(href, content=content).status_code == 200
    assert _batch(client, repo_id, [{"oid": oid, "size": len(content)}]) == [
        {"oid": oid, "size": len(content)}]  # stored: nothing to send


@pytest.mark.parametrize("size", [True, 3.0, "3"])
def test_verify_refuses_a_size_of_the_wrong_type(client, repo_id, size):
    # True == 1 in Python: a stored 1-byte object "verified" with "size": true.
    one = hashlib.sha256(b"a").hexdigest()
    (answer,) = _batch(client, repo_id, [{"oid": one, "size": 1}])
    if "actions" in answer:  # the store is shared by the session: upload it once
        assert client.put(answer["actions"]["upload"]["href"], content=b"a").status_code == 200
    verify = f"/{repo_id}.git/info/lfs/objects/verify"
    assert client.post(verify, json={"oid": one, "size": 1}).status_code == 200
    response = client.post(verify, json={"oid": one, "size": size})
    assert response.status_code == 422 and "size" in response.json()["error"]
