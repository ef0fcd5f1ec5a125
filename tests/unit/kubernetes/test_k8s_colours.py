"""Which colour a release takes, from the cluster's state alone (no cluster needed)."""

from __future__ import annotations

import pytest

from app.runtime.kubernetes.colours import ColourState, EnvironmentState, choose_colour
from app.runtime.kubernetes.spec import Colour
from app.runtime.kubernetes.spec import ReleaseSpec as KubeSpec
from app.runtime.protocol import ReleaseStartError


def _colour(
    colour: Colour, release: str, created: str, replaced: tuple[str, ...] = ()
) -> ColourState:
    spec = KubeSpec(
        project="shop",
        environment="production",
        release_id=release,
        colour=colour,
        image="",
        namespace="apps",
        host="shop-production.localhost",
        replaced_releases=replaced,
    )
    return ColourState(spec, {"metadata": {"creationTimestamp": created}})


def _state(*colours: ColourState, primary: Colour | None = None, canary: Colour | None = None):
    return EnvironmentState({c.spec.colour: c for c in colours}, primary, canary)


def test_first_release_takes_blue_and_the_next_the_colour_not_serving() -> None:
    assert choose_colour(_state(), "r1", 2) == ("blue", ())
    blue = _colour("blue", "r1", "2026-01-01T00:00:00Z")
    assert choose_colour(_state(blue, primary="blue"), "r2", 2) == ("green", ())
    # Starting a release again (a retry) applies to the colour that already holds it.
    assert choose_colour(_state(blue, primary="blue"), "r1", 2) == ("blue", ())


def test_a_third_release_replaces_the_colour_not_serving() -> None:
    blue = _colour("blue", "r1", "2026-01-01T00:00:00Z")
    green = _colour("green", "r2", "2026-01-02T00:00:00Z")
    assert choose_colour(_state(blue, green, primary="green"), "r3", 2) == ("blue", ("r1",))
    # Neither serving yet: the older colour goes.
    assert choose_colour(_state(blue, green), "r3", 2) == ("blue", ("r1",))


def test_replaced_releases_and_canaries_in_flight_are_refused() -> None:
    blue = _colour("blue", "r3", "2026-01-03T00:00:00Z", replaced=("r1",))
    green = _colour("green", "r2", "2026-01-02T00:00:00Z")
    with pytest.raises(ReleaseStartError, match="r1 was replaced by r3"):
        choose_colour(_state(blue, green, primary="green"), "r1", 2)
    with pytest.raises(ReleaseStartError, match="canary is in flight"):
        choose_colour(_state(blue, green, primary="green", canary="blue"), "r4", 2)
