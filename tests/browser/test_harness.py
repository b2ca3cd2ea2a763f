"""The harness on its own: a plain ipywidgets widget renders in both front ends.

If these fail, the ad widget tests cannot tell anything: the server, kernel,
widget manager or browser set-up is broken, not kontext_widget.
"""

from __future__ import annotations

import pytest

from .notebooks import write_notebook

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("ui", ["lab", "notebook7"])
def test_ipywidgets_slider_renders(ui, notebook_spec, open_notebook):
    write_notebook(
        notebook_spec.path,
        [
            """
            import ipywidgets, sys
            slider = ipywidgets.IntSlider(value=7, description="harness")
            slider
            """,
            "print('kernel', sys.executable)",
        ],
    )
    notebook = open_notebook(notebook_spec.name, ui)
    notebook.run_cell(0)
    slider = notebook.output_area(0).locator(".widget-slider")
    slider.wait_for(state="visible")
    assert notebook.output_area(0).locator(".widget-readout").inner_text() == "7"
    outputs = notebook.run_cell(1)
    import sys

    assert outputs[0]["text"].strip() == f"kernel {sys.executable}"
