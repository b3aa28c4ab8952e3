"""Activity photos on disk: check that an upload is a JPEG or PNG within the size limit, decode
it and write a fresh encoding (and a thumbnail) under the private root, so that what a phone
put in the file — EXIF with the camera and the GPS location, text chunks — never reaches the
disk. Names are random; nothing a person typed is in a path.

The files live under ``settings.PRIVATE_MEDIA_ROOT/activities`` (not a static directory) and are
read only by ``activities.views.photo`` after the access check."""

from __future__ import annotations

import io
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps, UnidentifiedImageError

from xinlian.lib.actions import Invalid

FORMATS = {"JPEG": ("image/jpeg", ".jpg"), "PNG": ("image/png", ".png")}
LONG_EDGE = 2560      # larger photos are scaled down: enough for a report, small on disk
THUMB_EDGE = 360
MAX_PIXELS = 50_000_000  # a decoded image larger than this is refused (a decompression bomb)


def max_bytes() -> int:
    return int(float(settings.ACTIVITY_PHOTO_MAX_MB) * 1024 * 1024)


def root() -> Path:
    return Path(settings.PRIVATE_MEDIA_ROOT) / "activities"


@dataclass
class Clean:
    data: bytes
    thumb: bytes
    content_type: str
    suffix: str
    width: int
    height: int


def _refuse(message: object) -> Invalid:
    return Invalid(errors={"photo": [message]})


def clean(upload: object, filename: str = "") -> Clean:
    """The re-encoded photo and its thumbnail; Invalid (field ``photo``) for anything else."""
    size = getattr(upload, "size", None)
    limit = max_bytes()
    if size is not None and size > limit:
        raise _refuse(_("%(name)s is larger than %(mb)s MB: choose a smaller photo.")
                      % {"name": filename or _("The photo"), "mb": f"{settings.ACTIVITY_PHOTO_MAX_MB:g}"})
    raw = upload.read(limit + 1) if hasattr(upload, "read") else bytes(upload)  # type: ignore[arg-type]
    if len(raw) > limit:
        raise _refuse(_("%(name)s is larger than %(mb)s MB: choose a smaller photo.")
                      % {"name": filename or _("The photo"), "mb": f"{settings.ACTIVITY_PHOTO_MAX_MB:g}"})
    not_image = _refuse(_("%(name)s is not a JPEG or PNG photo.") % {"name": filename or _("The file")})
    try:
        with Image.open(io.BytesIO(raw)) as probe:
            fmt = probe.format
            if fmt not in FORMATS:
                raise not_image
            if probe.width * probe.height > MAX_PIXELS:
                raise _refuse(_("%(name)s has too many pixels.") % {"name": filename or _("The photo")})
            probe.verify()
        with Image.open(io.BytesIO(raw)) as image:
            image.load()
            image = ImageOps.exif_transpose(image)  # keep the photo upright, then drop the EXIF
    except Invalid:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise not_image from None
    content_type, suffix = FORMATS[fmt]
    image.info = {}
    if fmt == "JPEG":
        image = image.convert("RGB")
    elif image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA")
    image.thumbnail((LONG_EDGE, LONG_EDGE))
    out = io.BytesIO()
    if fmt == "JPEG":
        image.save(out, "JPEG", quality=85, optimize=True)
    else:
        image.save(out, "PNG", optimize=True)
    thumb = image.convert("RGB")
    thumb.thumbnail((THUMB_EDGE, THUMB_EDGE))
    tout = io.BytesIO()
    thumb.save(tout, "JPEG", quality=80)
    return Clean(out.getvalue(), tout.getvalue(), content_type, suffix, image.width, image.height)


def new_name(suffix: str) -> str:
    return secrets.token_hex(16) + suffix


def thumb_name(name: str) -> str:
    return name.rsplit(".", 1)[0] + "_t.jpg"


def write(name: str, photo: Clean) -> None:
    """Both files, each written to a temporary file and renamed into place."""
    folder = root()
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        for target, data in ((folder / name, photo.data), (folder / thumb_name(name), photo.thumb)):
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".up-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
            written.append(target)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise


def delete(name: str) -> None:
    for path in (root() / name, root() / thumb_name(name)):
        path.unlink(missing_ok=True)


def path_of(name: str, thumb: bool = False) -> Path:
    return root() / (thumb_name(name) if thumb else name)
