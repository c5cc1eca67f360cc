"""Order of the examples within a gallery section (used by conf.py).

Examples named in ``FIRST`` come first, in that order; the others follow by
file name.
"""

from pathlib import Path

from sphinx_gallery.sorting import FileNameSortKey

FIRST = ["plot_quickstart.py", "plot_human_in_the_loop.py"]


class ExampleOrder(FileNameSortKey):
    """Sort key: the ``FIRST`` examples, then the rest by file name."""

    def __call__(self, filename):
        name = Path(super().__call__(filename)).name
        rank = FIRST.index(name) if name in FIRST else len(FIRST)
        return f"{rank:02d}_{name}"
