"""qlearn.answers: a learner's typed number is read as meant, or refused with a message that says why."""
import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qlearn.answers import is_close, parse_number, precision_note


@pytest.mark.parametrize("text, value", [
    ("0.02", 0.02), ("-3", -3.0), ("+4", 4.0), (".5", 0.5), ("5.", 5.0), ("1.5e-5", 1.5e-5), ("2E3", 2000.0),
    ("  7 ", 7.0), ("\u22123", -3.0), ("2.54/127", 2.54 / 127), ("1 / 3", 1 / 3), ("-1/8", -0.125),
    ("1e308", 1e308),
])
def test_reads_what_a_person_means(text, value):
    assert parse_number(text) == value


@pytest.mark.parametrize("text, message", [
    ("", "Type a number first"), ("   ", "Type a number first"),
    ("0,02", "write 0.02, not 0,02"), ("-1,5", "write -1.5"),
    ("abc", "Could not read 'abc'"), ("2.54127x", "Could not read"), ("1.2.3", "Could not read"),
    ("1e999", "too large"), ("-1e999/1", "too large"), ("1e308/1e-308", "too large"),
    ("inf", "Could not read"), ("nan", "Could not read"), ("5%", "without the % sign"),
    ("1/0", "divides by zero"), ("1_000", "Could not read"), ("0x10", "Could not read"),
])
def test_refuses_with_a_message_saying_what_it_could_not_read(text, message):
    with pytest.raises(ValueError, match=message):
        parse_number(text)


def test_only_text_is_read():
    with pytest.raises(TypeError, match="text must be a str"):
        parse_number(0.5)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_finite_float_written_by_python_reads_back_exactly(x):
    assert parse_number(repr(x)) == x


@given(st.integers(-10**6, 10**6), st.integers(1, 10**6))
def test_a_fraction_reads_as_the_correctly_rounded_quotient_of_its_parts(a, b):
    # float(a) / float(b) is correctly rounded (IEEE division); the exact reference is Fraction
    assert parse_number(f"{a}/{b}") == float(Fraction(a, b))


def test_tolerances():
    assert is_close(1.57e-5, 1.5686e-5, rel_tolerance=0.01)
    assert not is_close(1.57e-5, 1.5686e-5, tolerance=1e-8)
    assert is_close(0.0201, 0.02, tolerance=1e-4) and not is_close(0.0202, 0.02, tolerance=1e-4)
    assert is_close(16, 16) and not is_close(16.5, 16)
    assert not is_close(math.inf, 1.0, tolerance=1e300) and not is_close(math.nan, 1.0, tolerance=1.0)
    for bad in (-1.0, math.nan, math.inf, "0.1"):
        with pytest.raises(ValueError, match="tolerance must be a finite number >= 0"):
            is_close(1.0, 1.0, tolerance=bad)
        with pytest.raises(ValueError, match="rel_tolerance must be a finite number >= 0"):
            is_close(1.0, 1.0, rel_tolerance=bad)


def test_precision_is_stated_in_words():
    assert precision_note(448, tolerance=0) == "(exact value)"
    assert precision_note(3.5, tolerance=0.01) == "(to within ±0.01)"
    assert precision_note(1.5686e-5, rel_tolerance=0.01) == "(to within 1%)"
    assert precision_note(100.0, tolerance=5, rel_tolerance=0.01) == "(to within ±5)"  # the looser one is stated
