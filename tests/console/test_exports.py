"""CSV exports: a text cell never starts a formula in a spreadsheet; the program's figures stay numbers."""

from decimal import Decimal

import pytest

from console.exports import csv_cell, csv_response


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("\u200b=1+1", "'\u200b=1+1"),
        ("\ufeff@SUM(A1)", "'\ufeff@SUM(A1)"),
        ("  =1+1", "'  =1+1"),
        ("\u3000\u00a0-2", "'\u3000\u00a0-2"),
        ("\n=1+1", "'\n=1+1"),
        ("＝1+1", "'＝1+1"),
        ("\u200b", "\u200b"),
        ("Chan =1", "Chan =1"),
        ("Chan Tai Man", "Chan Tai Man"),
        ("陳大文", "陳大文"),
        ("M100001", "M100001"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_a_text_cell_that_could_start_a_formula_gets_a_quote_mark(value, written):
    assert csv_cell(value) == written


@pytest.mark.parametrize("figure", [Decimal("-1234.50"), Decimal("135400.00"), -3, 0, 1.5])
def test_figures_stay_numbers(figure):
    assert csv_cell(figure) == figure


def test_nothing_is_an_empty_cell():
    assert csv_cell(None) is None


def test_text_is_quoted_and_numbers_are_bare():
    response = csv_response(
        "x.csv", ["Name", "Equity"], [["-2+3", Decimal("-1234.50")], ["@SUM(A1)", None], ["\tx", 7]]
    )

    assert response["Content-Disposition"] == 'attachment; filename="x.csv"'
    assert response.content.decode("utf-8-sig").splitlines() == [
        '"Name","Equity"',
        '"\'-2+3",-1234.50',
        '"\'@SUM(A1)",',
        '"\'\tx",7',
    ]
