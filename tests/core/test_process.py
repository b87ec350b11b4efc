"""core.process: what start-up made is frozen out of the collector's way, in the web
process (rightsdesk.wsgi) and in every worker pool process."""

import gc
import os
import subprocess
import sys
from pathlib import Path

from rightsdesk.core.process import (
    WEB_YOUNG_THRESHOLD,
    collect_young_less_often,
    freeze_what_startup_made,
)

ROOT = Path(__file__).resolve().parents[2]


def test_freezing_moves_the_live_objects_out_of_the_collected_generations():
    try:
        frozen = freeze_what_startup_made()
        # What it froze (pytest and Django alone are more than 10,000 objects); a frozen
        # object another thread of the session frees meanwhile leaves the count, so the
        # count read here may be a few lower, never higher (one CI run: 845,661 of 845,663).
        assert 10_000 < gc.get_freeze_count() <= frozen
        # A full collection now walks only what was made after the freeze.
        made_after = [[n] for n in range(1000)]
        assert len(gc.get_objects()) < frozen
        assert made_after[0] in gc.get_objects()
    finally:
        gc.unfreeze()


def test_the_wsgi_module_loads_every_view_then_freezes():
    # A process of its own: importing the WSGI module freezes that process.
    script = (
        "import gc, sys; import rightsdesk.wsgi; "
        "print(gc.get_freeze_count(), 'rightsdesk.renders.apis' in sys.modules, "
        "gc.get_threshold()[0])"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "rightsdesk.settings"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    frozen, views_loaded, young = result.stdout.split()
    assert int(frozen) > 50_000 and views_loaded == "True"
    assert int(young) == WEB_YOUNG_THRESHOLD  # and not CPython's 700


def test_the_youngest_generation_is_collected_less_often_and_the_older_ones_as_before():
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 7, 9)
        collect_young_less_often()
        assert gc.get_threshold() == (WEB_YOUNG_THRESHOLD, 7, 9)
        # What it means: a few thousand young containers alive at once no longer start
        # a collection (at 700 they start four), with room to spare for what other
        # threads allocate meanwhile.
        gc.collect()
        counts = []
        gc.callbacks.append(lambda phase, info: counts.append(info) if phase == "stop" else None)
        try:
            held = [[n] for n in range(3_000)]
        finally:
            gc.callbacks.pop()
        assert len(held) == 3_000 and counts == []
    finally:
        gc.set_threshold(*before)
