"""Drop inline <script> blocks that a page would carry twice.

sphinx-thebe and sphinx-togglebutton add inline scripts (``const THEBE_JS_URL = ...``,
``var togglebuttonSelector = ...``) from Sphinx events that fire after the HTML builder has copied
the registry's scripts, and Sphinx 7.4 keeps both copies of a script that has a body but no file
name. The second ``const`` declaration is a JavaScript SyntaxError on every page, which
``make check-browser`` reports. Keeping the first copy of each identical script fixes it without
touching the packages.
"""
from __future__ import annotations


def _key(script) -> tuple:
    attributes = getattr(script, "attributes", {}) or {}
    # the builder's copy has filename None, the registry's ''
    return (getattr(script, "filename", str(script)) or "", tuple(sorted(attributes.items())))


def dedupe(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def setup(app):
    app.connect("html-page-context", dedupe, priority=900)   # after the themes' own handlers
    return {"parallel_read_safe": True, "parallel_write_safe": True}
