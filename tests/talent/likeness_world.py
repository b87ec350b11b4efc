"""Likeness fixtures: agency A's adult talent, identity verified, photographed in a capture
session (synthetic photos of coloured shapes, uploaded through the capture service under
the principal's capture consent), with a training consent on the current base model."""

import io
from dataclasses import dataclass

import pytest
from PIL import Image, ImageDraw

from generation.model_id import base_model_id
from rightsdesk.accounts.models import User
from rightsdesk.consent.models import CreationConsent
from rightsdesk.talent.capture import capture_image_upload, capture_notice_waive
from rightsdesk.talent.models import CaptureSession, Talent
from rightsdesk.talent.services import talent_verify_identity
from tests.talent.capture_world import give_capture_consent, give_train_consent, schedule
from tests.talent.conftest import World

SHAPES = (
    ((200, 60, 60), "ellipse", (96, 80)),
    ((60, 160, 90), "rectangle", (80, 96)),
    ((70, 90, 210), "ellipse", (64, 64)),
    ((230, 200, 60), "rectangle", (120, 90)),
)


def shape_photo(index: int) -> bytes:
    """A synthetic 'photo': a coloured shape on a plain ground, different per index."""
    colour, shape, size = SHAPES[index % len(SHAPES)]
    image = Image.new("RGB", size, (240 - 20 * index, 235, 225))
    box = (size[0] // 5, size[1] // 6, size[0] * 4 // 5, size[1] * 5 // 6)
    getattr(ImageDraw.Draw(image), shape)(box, fill=colour, outline=(20, 20, 20))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@dataclass
class LikenessWorld:
    world: World
    talent: Talent
    principal: User
    agent: User
    staff: User
    session: CaptureSession
    train_consent: CreationConsent | None
    base_model: str


def captured_talent(world: World, *, photos: int = 4, train_on: str | None = "") -> LikenessWorld:
    """The talent captured in ``photos`` images; a train consent on ``train_on`` (default
    the current base model; None gives none)."""
    staff, agent = world.users["staff"], world.users["agent"]
    talent = talent_verify_identity(talent=world.talent_a, method="document_check", actor=staff)
    give_capture_consent(talent=talent)
    session = schedule(talent=talent, actor=agent)
    session = capture_notice_waive(session=session, actor=talent.user)
    for index in range(photos):
        capture_image_upload(session=session, file=io.BytesIO(shape_photo(index)), actor=agent)
    current = base_model_id(None)
    consent = None
    if train_on is not None:
        consent = give_train_consent(talent=talent, base_model=train_on or current)
    return LikenessWorld(
        world=world,
        talent=talent,
        principal=talent.user,
        agent=agent,
        staff=staff,
        session=session,
        train_consent=consent,
        base_model=current,
    )


@pytest.fixture
def captured(world: World) -> LikenessWorld:
    return captured_talent(world)


@pytest.fixture
def small_samples(settings):
    # The tests train at 64 px; the samples need not be larger.
    settings.RIGHTSDESK_LIKENESS_SAMPLE_SIDE = 64


@pytest.fixture
def clean_pipeline():
    """The process's warm pipeline, left with no adapter in its UNet after the test."""
    from rightsdesk.core.worker import worker_pipeline

    loaded = worker_pipeline()
    yield loaded
    loaded.adapters.clear()
