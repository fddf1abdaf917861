"""A small bar chart as PNG bytes, drawn pixel by pixel (pypng only writes the file):
the Lambda package has no room for a plotting library.

One bar per value, scaled so the tallest fills the plot; a bar of a non-zero value is at
least one pixel tall. Every third bar is labelled with its index in a 3x5 pixel font (for
conversations per hour: 0, 3, 6, ... 21).
"""

import io

import png

BAR_WIDTH = 8
BAR_GAP = 2
PLOT_HEIGHT = 100
MARGIN = 4
LABEL_EVERY = 3
GLYPH_WIDTH, GLYPH_HEIGHT = 3, 5
# Between the axis and the labels.
LABEL_GAP = 3

BACKGROUND, BAR, AXIS, INK = 0, 1, 2, 3
PALETTE = [(255, 255, 255), (29, 155, 209), (160, 160, 160), (60, 60, 60)]

# Each digit as five rows of three pixels, "#" inked.
_DIGITS = {
    "0": ("###", "#.#", "#.#", "#.#", "###"),
    "1": (".#.", "##.", ".#.", ".#.", "###"),
    "2": ("###", "..#", "###", "#..", "###"),
    "3": ("###", "..#", "###", "..#", "###"),
    "4": ("#.#", "#.#", "###", "..#", "..#"),
    "5": ("###", "#..", "###", "..#", "###"),
    "6": ("###", "#..", "###", "#.#", "###"),
    "7": ("###", "..#", ".#.", ".#.", ".#."),
    "8": ("###", "#.#", "###", "#.#", "###"),
    "9": ("###", "#.#", "###", "..#", "###"),
}


def chart_size(bars: int) -> tuple[int, int]:
    """(width, height) in pixels of a chart of `bars` bars."""
    width = 2 * MARGIN + bars * BAR_WIDTH + max(bars - 1, 0) * BAR_GAP
    height = MARGIN + PLOT_HEIGHT + 1 + LABEL_GAP + GLYPH_HEIGHT + MARGIN
    return width, height


def bar_heights(values: list[int]) -> list[int]:
    """Each bar's height in pixels."""
    tallest = max(values, default=0)
    if tallest <= 0:
        return [0] * len(values)
    return [max(1, round(v * PLOT_HEIGHT / tallest)) if v > 0 else 0 for v in values]


def bar_left(index: int) -> int:
    """The x of a bar's first column."""
    return MARGIN + index * (BAR_WIDTH + BAR_GAP)


def _draw_label(pixels: list[list[int]], text: str, center_x: int, top: int) -> None:
    width = len(text) * (GLYPH_WIDTH + 1) - 1
    left = center_x - width // 2
    for position, character in enumerate(text):
        for row, line in enumerate(_DIGITS[character]):
            for column, mark in enumerate(line):
                if mark == "#":
                    pixels[top + row][left + position * (GLYPH_WIDTH + 1) + column] = INK


def bar_chart_png(values: list[int]) -> bytes:
    """A PNG of one bar per value (counts, not negative)."""
    if any(v < 0 for v in values):
        raise ValueError("a bar chart of counts takes no negative values")
    width, height = chart_size(len(values))
    pixels = [[BACKGROUND] * width for _ in range(height)]
    axis_y = MARGIN + PLOT_HEIGHT
    for x in range(MARGIN, width - MARGIN):
        pixels[axis_y][x] = AXIS
    for index, bar in enumerate(bar_heights(values)):
        left = bar_left(index)
        for y in range(axis_y - bar, axis_y):
            pixels[y][left : left + BAR_WIDTH] = [BAR] * BAR_WIDTH
        if index % LABEL_EVERY == 0:
            _draw_label(pixels, str(index), left + BAR_WIDTH // 2, axis_y + 1 + LABEL_GAP)
    out = io.BytesIO()
    png.Writer(width, height, palette=PALETTE, bitdepth=2).write(out, pixels)
    return out.getvalue()
