"""Start-up hygiene shared by the web processes and the workers."""

import gc


def freeze_what_startup_made() -> int:
    """Collect once, then move every object alive now into the collector's permanent
    generation (``gc.freeze``); returns how many that is.

    What start-up makes (modules, models, URL patterns, serializers; in a render worker,
    the pipeline) lives as long as the process, yet every full collection walked all of
    it. Measured here: a web process holds ~168,000 such objects and a full collection
    paused it for ~170 ms about every 500 submissions; a render worker holds ~490,000
    and paused 200-460 ms. Objects made later are collected as before. Call it once the
    process has loaded what it keeps, and never before something it loaded is replaced:
    a frozen object is never freed.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


# The youngest generation's threshold in a web process; CPython's default is 700.
WEB_YOUNG_THRESHOLD = 10_000


def collect_young_less_often(threshold: int = WEB_YOUNG_THRESHOLD) -> None:
    """Let ``threshold`` container objects accumulate, net, before the collector runs on
    the youngest generation (the older generations keep their thresholds).

    A request builds thousands of short-lived containers at a time (the gate's facts
    decoded from JSON, ORM rows, DRF's request and parsers) and refcounting frees nearly
    all of them, but at CPython's 700 the collector still ran mid-request on whatever was
    alive then, about once every two render submissions. Its cyclic garbage (Django's
    request and response cycles, the URL resolver's lists of patterns tried) is about 160
    objects a submission and is collected as before, in fewer, larger passes. Measured in
    process (``bench/submission_cpu.py --patch``, 32 alternated blocks of 100 submissions
    a side, startup frozen): the collector's time per submission 0.24 -> 0.10 ms, a
    submission's CPU 6.21 -> 6.09 ms (-1.9%), one pass of ~3 ms every ~30 submissions.
    Only the web process sets it (``rightsdesk.wsgi``): that is where it was measured.
    """
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(threshold, older, oldest)
