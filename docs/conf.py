"""Sphinx configuration for ramcore's documentation (Markdown pages through myst-parser).

Build: python3 -m sphinx -W --keep-going -b html docs docs/_build/html
"""

project = "ramcore"
author = "the ramcore developers"
copyright = "ramcore developers"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",  # the API reference (api/), generated from the docstrings
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# The API reference documents each object once, in the module that defines it: `ignore-module-all`
# makes `:members:` skip what a module merely imports, even when its `__all__` re-exports it (the
# packages `ramcore`, `ramcore.layers`, `ramcore.torch` and the old import paths re-export).
autodoc_default_options = {
    "members": True,
    "ignore-module-all": True,
    "member-order": "bysource",
}
# Signatures are shown without annotations: the docstrings say what the arguments are, and the
# annotations (PEP 563 strings, numpy typing aliases) would need resolving.
autodoc_typehints = "none"
# `name` in a docstring links to the object of that name where there is one (plain text otherwise;
# `nitpicky` stays off).
default_role = "py:obj"

myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3  # [text](page.md#heading-slug) for headings down to ###

html_theme = "furo"
html_title = "ramcore"
