import os

# Tests never touch the network or the user's Hugging Face login/cache.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_XET", "1")
os.environ.pop("HF_TOKEN", None)
os.environ.pop("HF_ENDPOINT", None)

pytest_plugins = ["tests.fixtures_hub", "tests.fixtures_models"]
