"""Size limits of the local hub, in one place (docs/local-hub.md states them).

Every request body the server reads whole is bounded, so one request cannot make the server hold
gigabytes in memory or store a 30 MB commit title that every later page then carries. LFS uploads
are streamed to disk and bounded by the size their signed URL names instead.
"""

from __future__ import annotations

KIB = 1024
MIB = 1024 * KIB

# A commit's title and body, in UTF-8 bytes. The Hub shows the summary as a one-line title.
MAX_SUMMARY_BYTES = 4 * KIB
MAX_DESCRIPTION_BYTES = 64 * KIB

# One NDJSON line of a commit: a regular file travels inline, base64-encoded, and regular files
# are below the 10 MiB LFS threshold (base64 makes that 13.4 MiB), so 16 MiB holds any of them.
MAX_NDJSON_LINE_BYTES = 16 * MIB

# A whole commit body (many inline files), and every other JSON or form body.
MAX_COMMIT_BODY_BYTES = 256 * MIB
MAX_BODY_BYTES = 16 * MIB

# A header value the server sends, after sanitising (error texts are cut to this).
MAX_HEADER_VALUE_CHARS = 1000

# A path as the access log writes it; longer ones are cut and marked.
MAX_LOGGED_PATH_CHARS = 2000

# Request bodies in progress (docs/local-hub.md, "Time limits"). A body that stalls, no data
# for this many seconds, is answered 408 and its connection closed; ``--body-timeout`` changes it.
DEFAULT_BODY_TIMEOUT_S = 30.0
# At most this many bodies that did not arrive in one piece are received at once; one more is
# answered 503 with Retry-After. huggingface_hub uploads with at most 8 threads, so one client
# never meets it; ``--max-uploads`` changes it.
DEFAULT_MAX_UPLOADS = 16
