"""The local Hugging Face Hub-compatible server (``publisher hub serve``).

Importing this package is cheap: the web stack is imported by ``runner`` and ``app`` only, so
``publisher.hub.local`` can read ``layout`` without pulling in uvicorn. The package never imports
torch, openvino or transformers.
"""
