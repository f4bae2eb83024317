"""行政执法公示: what the public may see before (事前) and after (事后) enforcement.

``models`` holds the versioned public content and the published decisions, ``redact`` the
personal-data scanner and name masking (pure functions), ``service`` the rules. The HTTP side
lives in ``server.api.disclosure`` (admin) and ``server.public.disclosure`` (public pages).
"""
