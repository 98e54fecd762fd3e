"""publisher: release a trained, compressed transformer checkpoint as a verified OpenVINO model."""

__version__ = "0.1.0"
