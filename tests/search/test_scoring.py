"""The score's parts on their own: words, labels, the caps and the threshold."""

from __future__ import annotations

from warroom.search.related import THRESHOLD, Signature, score, words


def sig(
    service: str | None = None,
    alertname: str | None = None,
    labels: dict[str, str] | None = None,
    text: str = "",
) -> Signature:
    """Return a signature from plain values."""
    return Signature(
        service=service,
        alertname=alertname,
        labels=frozenset((labels or {}).items()),
        words=words(text),
    )


def test_words_are_lower_case_significant_and_not_numbers() -> None:
    found = words("The Checkout API is DOWN again: 502 errors on api-gw", None, "an incident")
    assert found == {"checkout", "api", "errors", "api-gw"}  # "again", "down": stop words


def test_reasons_come_in_order_and_caps_hold() -> None:
    labels = {f"l{n}": "x" for n in range(5)}
    text = "alpha beta gamma delta epsilon"
    points, reasons = score(
        sig("checkout", "HighCPU", labels, text), sig("checkout", "HighCPU", labels, text)
    )
    assert points == 3 + 3 + 3 + 3  # five labels and five words count three each
    assert reasons == [
        "same service",
        "same alertname (HighCPU)",
        "5 shared labels (l0=x, l1=x, l2=x)",
        "5 shared words (alpha, beta, delta, epsilon, gamma)",
    ]


def test_one_shared_word_is_not_enough_and_nothing_is_nothing() -> None:
    points, reasons = score(sig(text="checkout latency"), sig(text="checkout errors"))
    assert (points, reasons) == (1, ["1 shared word (checkout)"])
    assert points < THRESHOLD
    assert score(sig(), sig()) == (0, [])  # no service on either side is not "the same"
    assert score(sig("a", labels={"env": "prod"}), sig("b", labels={"env": "dev"})) == (0, [])
