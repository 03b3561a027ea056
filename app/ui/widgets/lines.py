"""A virtualised view of one-line rows: only the rows in the viewport are ever styled and drawn.

Diffs of ten thousand lines and chatty command output both go through here, so the cost of a
paint is the height of the screen, not the length of the text. Rows are built into `Content`
lazily (display-safety markers and syntax colours included) and cached as strips until the theme
or the rows change.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import ClassVar, Generic, TypeVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.binding import BindingType
from textual.content import Content
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.style import Style as VisualStyle
from textual.widget import Widget

from app.ui import bindings

RowT = TypeVar("RowT")

_CACHE_ROWS = 512


class LinesView(ScrollView, Generic[RowT], can_focus=True):
    """Subclasses say how a row looks (`row_content`) and how wide it is likely to be.

    A subclass that names a component class in `OVERFLOW_CLASS` gets a `›` at the right edge of
    a row that goes on beyond the view (and a `‹` once scrolled sideways) in that class's style:
    what is not on screen is never silently cut off.
    """

    OVERFLOW_CLASS: ClassVar[str | None] = None
    BINDINGS: ClassVar[list[BindingType]] = list(bindings.SCROLL)

    def __init__(
        self,
        *,
        max_rows: int = 0,
        follow: bool = False,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._rows: list[RowT] = []
        self._max_rows = max_rows
        self._follow = follow
        self._strips: OrderedDict[int, Strip] = OrderedDict()
        self._width = 0
        self._generation = 0
        self._line_style = Style()
        self._base_key: object = None
        self._base = VisualStyle()
        self._line_width = 0

    # ------------------------------------------------------------------ subclass hooks

    def row_content(self, row: RowT) -> Content:
        raise TypeError(f"{type(self).__name__} must say how its rows look")

    def row_width(self, row: RowT) -> int:
        """A quick estimate of the row's width (exact widths are learnt when rows are drawn)."""
        return 80

    def row_strip(self, index: int, content: Content) -> Strip:
        """The strip for row `index` (cached until the row, the theme or the width changes).
        Rows are single lines: the content's segments are rendered directly, no wrapping."""
        return Strip(content.render_segments(self._base_style()))

    @property
    def line_width(self) -> int:
        """The width rows are drawn at: the viewport's, as of the last paint."""
        return self._line_width or self.scrollable_content_region.width

    # ------------------------------------------------------------------ rows

    @property
    def rows(self) -> Sequence[RowT]:
        return self._rows

    def set_rows(self, rows: Sequence[RowT]) -> None:
        self._rows = list(rows)
        self._width = max((self.row_width(r) for r in self._rows), default=0)
        self._invalidate()
        self.scroll_to(0, 0, animate=False, immediate=True)

    def append_rows(self, rows: Sequence[RowT]) -> None:
        if not rows:
            return
        at_end = self.scroll_y >= self.max_scroll_y
        self._rows.extend(rows)
        self._width = max(self._width, max(self.row_width(r) for r in rows))
        dropped = 0
        if self._max_rows and len(self._rows) > self._max_rows:
            dropped = len(self._rows) - self._max_rows
            del self._rows[:dropped]
            self._strips.clear()
        self._update_size()
        if dropped:
            if not (self._follow and at_end):
                self.scroll_to(y=max(0, self.scroll_y - dropped), animate=False, immediate=True)
            self.refresh()
        if self._follow and at_end:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.refresh_rows(len(self._rows) - len(rows), len(self._rows))

    def replace_row(self, index: int, row: RowT) -> None:
        self._rows[index] = row
        self.redraw_row(index)

    def drawn_row(self, index: int) -> Strip | None:
        """Row `index` as last drawn, whole (before cropping to the viewport); None if not."""
        return self._strips.get(index)

    def redraw_row(self, index: int) -> None:
        """Draw row `index` again (its look depends on more than the row, e.g. a cursor)."""
        self._strips.pop(index, None)
        self.refresh_rows(index, index + 1)

    def refresh_rows(self, start: int, end: int) -> None:
        """Repaint rows [start, end) if any of them is in the viewport; nothing otherwise."""
        top = int(self.scroll_y)
        height = self.scrollable_content_region.height
        start, end = max(start, top), min(end, top + height)
        if start < end:
            width = self.scrollable_content_region.width
            self.refresh(Region(0, start - top, width, end - start))

    def _invalidate(self) -> None:
        self._strips.clear()
        self._generation += 1
        self._update_size()
        self.refresh()

    def _update_size(self) -> None:
        """Grow the scrollable area without a screen-wide layout: only a scrollbar appearing or
        going away changes the layout (Textual handles that itself); rows arriving do not."""
        size = Size(self._width, len(self._rows))
        if size == self.virtual_size:
            return
        self.set_reactive(Widget.virtual_size, size)
        self._scroll_update(size)

    def notify_style_update(self) -> None:
        # Theme or CSS changed: cached strips hold the old colours.
        super().notify_style_update()
        self._strips.clear()
        self._base_key = None

    def on_resize(self) -> None:
        # Rows drawn for the old width (a cut row, the cursor's full-width bar) are stale.
        self._strips.clear()
        self._line_width = 0
        self.refresh()

    # ------------------------------------------------------------------ drawing

    def _strip_for(self, index: int) -> Strip:
        strip = self._strips.get(index)
        if strip is not None:
            self._strips.move_to_end(index)
            return strip
        strip = self.row_strip(index, self.row_content(self._rows[index]))
        if strip.cell_length > self._width:
            self._width = strip.cell_length
            self.call_later(self._update_size)
        self._strips[index] = strip
        if len(self._strips) > _CACHE_ROWS:
            self._strips.popitem(last=False)
        return strip

    def _base_style(self) -> VisualStyle:
        key = self.styles._cache_key
        if key != self._base_key:
            self._base_key = key
            self._base = self.visual_style
        return self._base

    def render_lines(self, crop: Region) -> list[Strip]:
        # One style lookup per paint, not one per line.
        self._line_style = self.rich_style
        width = self.scrollable_content_region.width
        if self._line_width and width != self._line_width:
            # A scrollbar came or went: the widget kept its size (no resize event) but rows
            # drawn for the old width would be cut without their marker, or left short.
            self._strips.clear()
        self._line_width = width
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self._line_width
        style = self._line_style
        if index >= len(self._rows):
            return Strip.blank(width, style)
        strip = self._strip_for(index)
        shown = strip.crop_extend(scroll_x, scroll_x + width, style)
        right = strip.cell_length > scroll_x + width
        left = scroll_x > 0 and strip.cell_length > 0
        if self.OVERFLOW_CLASS is None or width < 4 or not (right or left):
            return shown.apply_offsets(scroll_x, index)
        marker = self.get_component_rich_style(self.OVERFLOW_CLASS)
        parts: list[Strip] = []
        if left:
            parts.append(Strip([Segment("‹", marker)], 1))
        parts.append(shown.crop(1 if left else 0, width - 1 if right else width))
        if right:
            parts.append(Strip([Segment("›", marker)], 1))
        return Strip.join(parts).apply_offsets(scroll_x, index)


def estimate_width(text: str, extra: int = 0) -> int:
    return cell_len(text) + extra
