"""Sphinx configuration for ramcore's documentation (Markdown pages through myst-parser).

Build: python3 -m sphinx -W --keep-going -b html docs docs/_build/html
"""

project = "ramcore"
author = "the ramcore developers"
copyright = "ramcore developers"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",  # for the API reference, which comes with the restructured package
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3  # [text](page.md#heading-slug) for headings down to ###

html_theme = "furo"
html_title = "ramcore"
