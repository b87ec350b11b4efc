"""The marks an output carries besides its manifest: the visible label and the XMP packet.

The label (EU AI Act art. 50(4); "Images virtuelles" under French loi n° 2023-451 for
commercial influence) is drawn inside the part of the image that every common centre
crop keeps: the intersection of the 1:1, 4:5 and 9:16 centre crops of the image, less a
margin. A feed that crops to any of them still shows it. It sits at the bottom of that
area, over a translucent band, in a font that covers the EEA languages' scripts.
"""

from dataclasses import dataclass
from functools import lru_cache
from xml.sax.saxutils import escape

from PIL import Image, ImageDraw, ImageFont

IPTC_TRAINED_ALGORITHMIC_MEDIA = (
    "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
)
PLUS_DMI_PROHIBITED = "http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED"
PLUS_DMI_PROHIBITED_AI_TRAINING = "http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING"

# (width, height) of the centre crops the label must survive.
SAFE_ASPECTS: tuple[tuple[int, int], ...] = ((1, 1), (4, 5), (9, 16))
MARGIN = 0.04  # of the safe area's smaller side
MAX_LABEL_LINES = 3
# DejaVu covers Latin, Greek and Cyrillic (bg, el); Pillow's bundled font is Latin only.
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
)


@dataclass(frozen=True)
class Box:
    left: int
    top: int
    right: int
    bottom: int

    def inside(self, other: "Box") -> bool:
        return (
            self.left >= other.left
            and self.top >= other.top
            and self.right <= other.right
            and self.bottom <= other.bottom
        )


def centre_crop(width: int, height: int, aspect: tuple[int, int]) -> Box:
    """The centre crop of a ``width`` x ``height`` image to ``aspect`` (w, h)."""
    aw, ah = aspect
    if width * ah > height * aw:  # wider than the aspect: crop the sides
        w, h = height * aw // ah, height
    else:
        w, h = width, width * ah // aw
    left, top = (width - w) // 2, (height - h) // 2
    return Box(left, top, left + w, top + h)


def safe_area(width: int, height: int) -> Box:
    crops = [centre_crop(width, height, aspect) for aspect in SAFE_ASPECTS]
    box = Box(
        max(c.left for c in crops),
        max(c.top for c in crops),
        min(c.right for c in crops),
        min(c.bottom for c in crops),
    )
    margin = int(min(box.right - box.left, box.bottom - box.top) * MARGIN)
    return Box(box.left + margin, box.top + margin, box.right - margin, box.bottom - margin)


@lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in FONT_CANDIDATES:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def label_lines(*, obligations: list, language: str) -> list[str]:
    """The label's lines: the AI Act wording in ``language`` first, then the obligation's
    other languages, at most MAX_LABEL_LINES in all; "Images virtuelles" when the French
    influence rule applies. Empty when no label is required."""
    lines: list[str] = []
    by_code = {obligation.code: obligation for obligation in obligations}
    label = by_code.get("visible_label")
    if label is not None:
        texts = dict(label.params.get("texts") or {})
        languages = [language, *label.params.get("languages", [])]
        for lang in languages:
            text = texts.get(lang)
            if text and text not in lines:
                lines.append(text)
        if not lines:
            lines.append(texts.get("en") or "AI-generated image")
    virtual = by_code.get("images_virtuelles")
    if virtual is not None:
        lines = lines[: MAX_LABEL_LINES - 1]
        lines.append(virtual.params.get("text") or "Images virtuelles")
    return lines[:MAX_LABEL_LINES]


def draw_label(image: Image.Image, lines: list[str]) -> tuple[Image.Image, Box | None]:
    """``image`` with ``lines`` drawn at the bottom of its safe area; and the label's box."""
    if not lines:
        return image, None
    overlay, area, box = _label_overlay(tuple(lines), *image.size)
    # Only the band's surroundings are composited: the rest of the image is untouched, and
    # compositing all of it cost several times more at 1024 px.
    corners = (area.left, area.top, area.right, area.bottom)
    patch = Image.alpha_composite(image.crop(corners).convert("RGBA"), overlay)
    labelled = image.copy()
    labelled.paste(patch if image.mode == "RGBA" else patch.convert(image.mode), corners[:2])
    return labelled, box


@lru_cache(maxsize=32)
def _label_overlay(lines: tuple[str, ...], width: int, height: int) -> tuple[Image.Image, Box, Box]:
    """The band and its text on a transparent patch, the area of the image it covers, and
    the band's box. Kept per wording and size: drawing the text costs a millisecond or two,
    and a worker labels every draft of a campaign alike. Callers must not change it."""
    safe = safe_area(width, height)
    safe_w = safe.right - safe.left
    size = max(10, round(min(width, height) * 0.028))
    while True:
        font = _font(size)
        boxes = [font.getbbox(line) for line in lines]
        text_w = max(b[2] - b[0] for b in boxes)
        line_h = max(b[3] for b in boxes) + size // 4
        pad = max(4, size // 2)
        if text_w + 2 * pad <= safe_w or size <= 8:
            break
        size -= 1
    band_w, band_h = text_w + 2 * pad, line_h * len(lines) + 2 * pad - size // 4
    left = safe.left + (safe_w - band_w) // 2
    top = safe.bottom - band_h
    box = Box(left, top, left + band_w, top + band_h)
    # A margin of one pad around the band takes any glyph pixel drawn past its measured box.
    area = Box(
        max(0, left - pad),
        max(0, top - pad),
        min(width, box.right + pad),
        min(height, box.bottom + pad),
    )
    overlay = Image.new("RGBA", (area.right - area.left, area.bottom - area.top), (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    x0, y0 = left - area.left, top - area.top
    draw.rounded_rectangle(
        (x0, y0, x0 + band_w - 1, y0 + band_h - 1), radius=pad, fill=(0, 0, 0, 160)
    )
    for index, line in enumerate(lines):
        line_w = boxes[index][2] - boxes[index][0]
        x = x0 + (band_w - line_w) // 2 - boxes[index][0]
        draw.text((x, y0 + pad + index * line_h), line, font=font, fill=(255, 255, 255, 255))
    return overlay, area, box


def xmp_packet(*, inference_allowed: bool) -> str:
    """IPTC DigitalSourceType trainedAlgorithmicMedia and the PLUS data-mining prohibition
    (all mining, or AI/ML training only where the agreement allows inference)."""
    mining = PLUS_DMI_PROHIBITED_AI_TRAINING if inference_allowed else PLUS_DMI_PROHIBITED
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about=""'
        ' xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"'
        ' xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/"'
        f' Iptc4xmpExt:DigitalSourceType="{escape(IPTC_TRAINED_ALGORITHMIC_MEDIA)}">'
        f'<plus:DataMining rdf:resource="{escape(mining)}"/>'
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    )
