"""Sphinx configuration for shapebias."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.abspath(".."))

import shapebias

sys.path.insert(0, os.path.abspath("."))
from _layout import write_layout

write_layout(Path(__file__).resolve().parent / "layout.rst")

project = "shapebias"
author = "shapebias developers"
copyright = "2026, shapebias developers"
release = shapebias.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx_gallery.gen_gallery",
]

autosummary_generate = True
autodoc_typehints = "description"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_custom_sections = ["Shape", ("Warns", "raises_style")]

# Offline builds: no inventories are fetched; references to torch/numpy render as text.
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}
nitpicky = False

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"(reproduce_paper|cue_robustness_map|calibrate_dataset|_cue_experiment)\.py",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "within_subsection_order": "FileNameSortKey",
}

html_theme = "furo"
html_title = "shapebias"
html_static_path = ["_static"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
suppress_warnings = ["config.cache"]
