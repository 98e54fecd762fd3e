import os

# Tests never touch the network or the user's Hugging Face login/cache.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_XET", "1")
os.environ.pop("HF_TOKEN", None)
os.environ.pop("HF_ENDPOINT", None)

pytest_plugins = ["tests.fixtures_hub", "tests.fixtures_models", "tests.fixtures_llm"]


def pytest_report_header(config):
    # CI logs carry the machine's CPU budget: a hang or a slow run is read against it.
    from publisher.cpus import describe

    return describe()
