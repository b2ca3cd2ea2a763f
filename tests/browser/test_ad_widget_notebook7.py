"""The core path of the ad widget in Notebook 7 (``/notebooks/<path>``).

Notebook 7 is built from JupyterLab components but is its own application with its
own shell and page layout, so the iframe mounting, the creative and the event relay
are checked there too.
"""

from __future__ import annotations

from typing import Any

import pytest

from .ad_checks import check_render_events_reached_python, render_and_check_mounted
from .notebooks import (
    NotebookSpec,
    write_first_turn,
)

pytestmark = pytest.mark.browser


def test_core_path_in_notebook7(
    notebook_spec: NotebookSpec, open_notebook: Any, ad_server: Any
) -> None:
    write_first_turn(
        notebook_spec,
        ad_server.url,
        "conv-notebook7",
        question="Any tips for a first marathon?",
        reply="Build mileage slowly and taper for two weeks.",
    )
    notebook = open_notebook(notebook_spec.name, "notebook7")
    assert "/notebooks/" in notebook.page.url
    notebook.run_cells([0, 1])
    ad = render_and_check_mounted(
        notebook, ad_server, notebook_spec, render_index=2, message_id="a1"
    )
    check_render_events_reached_python(notebook_spec, ad.bid_id)
