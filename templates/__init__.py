"""Card templates, installed as ``publisher._templates`` (data only; see openvino.md.j2)."""
