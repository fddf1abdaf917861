"""The bar chart is a real PNG whose bars have the heights of their values."""

import png
import pytest

from chalicelib.presentation.chart import (
    BAR,
    BAR_WIDTH,
    MARGIN,
    PLOT_HEIGHT,
    bar_chart_png,
    bar_heights,
    bar_left,
    chart_size,
)

pytestmark = pytest.mark.unit


def decoded(data: bytes) -> tuple[int, int, list[list[int]]]:
    width, height, rows, info = png.Reader(bytes=data).read()
    assert info["palette"]
    return width, height, [list(row) for row in rows]


def drawn_height(pixels: list[list[int]], index: int) -> int:
    """How many pixels of a bar's middle column are bar-coloured."""
    column = bar_left(index) + BAR_WIDTH // 2
    return sum(1 for row in pixels[MARGIN : MARGIN + PLOT_HEIGHT] if row[column] == BAR)


def test_a_day_of_hours_decodes_with_its_size_and_bar_heights() -> None:
    # Given conversations per hour: a peak of 10 at 10:00, 2 at 14:00, one at 23:00
    values = [0] * 24
    values[10], values[14], values[23] = 10, 2, 1

    # When
    width, height, pixels = decoded(bar_chart_png(values))

    # Then
    assert (width, height) == chart_size(24) == (246, 117)
    assert len(pixels) == height
    assert all(len(row) == width for row in pixels)
    assert drawn_height(pixels, 10) == PLOT_HEIGHT
    assert drawn_height(pixels, 14) == 20
    assert drawn_height(pixels, 23) == 10
    assert drawn_height(pixels, 0) == 0
    # Bars stand on the axis: the pixel just above it is filled, the one below is not.
    axis = MARGIN + PLOT_HEIGHT
    assert pixels[axis - 1][bar_left(14)] == BAR
    assert pixels[axis + 1][bar_left(14)] != BAR


def test_a_small_value_beside_a_large_one_still_shows() -> None:
    assert bar_heights([1000, 1, 0]) == [PLOT_HEIGHT, 1, 0]


def test_an_empty_day_draws_no_bars() -> None:
    _, _, pixels = decoded(bar_chart_png([0] * 24))

    assert all(drawn_height(pixels, index) == 0 for index in range(24))


def test_negative_values_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        bar_chart_png([1, -1])
