# Adds the offload benchmark's content to the end-to-end Plone site: run by
#   zconsole run etc/zope.conf plone_content.py
# (the server stopped). OFFLOAD_PAGES published Documents in folders of 100 under /Plone/library
# (section-NN/page-NNNN), OFFLOAD_IMAGES Images and OFFLOAD_FILES Files under /Plone/media; the
# text of each page is deterministic. Skips what exists.
import io
import os
import random
import struct
import zlib

import transaction
from AccessControl.SecurityManagement import newSecurityManager
from Testing.makerequest import makerequest
from zope.component.hooks import setSite

app = makerequest(app)  # noqa: F821 - zconsole provides `app`
admin = app.acl_users.getUserById("admin")
newSecurityManager(None, admin.__of__(app.acl_users))
site = app.Plone
setSite(site)

from plone import api  # noqa: E402
from plone.app.textfield.value import RichTextValue  # noqa: E402
from plone.namedfile.file import NamedBlobFile, NamedBlobImage  # noqa: E402

pages = int(os.environ.get("OFFLOAD_PAGES", "2000"))
images = int(os.environ.get("OFFLOAD_IMAGES", "40"))
files = int(os.environ.get("OFFLOAD_FILES", "40"))
rng = random.Random(30)
WORDS = "cache edge purge origin visitor member page folder news event image file site content view".split()


def published(container, type_, id_, **kw):
    if id_ in container.objectIds():
        return container[id_], False
    obj = api.content.create(container=container, type=type_, id=id_, **kw)
    if type_ not in ("Image", "File"):  # these have no workflow: they show as their folder does
        api.content.transition(obj=obj, transition="publish")
    return obj, True


def png(width, height, seed):
    """A valid PNG of noisy stripes (so it does not compress to nothing)."""
    r = random.Random(seed)
    raw = b"".join(b"\x00" + bytes(r.randrange(256) if (x // 8) % 2 else (x * 3 + y) % 256 for x in range(width * 3)) for y in range(height))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


library, _ = published(site, "Folder", "library", title="Library")
made = 0
for i in range(pages):
    section_id = f"section-{i // 100:02d}"
    section, _ = published(library, "Folder", section_id, title=f"Section {i // 100}")
    words = " ".join(rng.choice(WORDS) for _ in range(120 + rng.randrange(400)))
    _, new = published(
        section, "Document", f"page-{i:04d}", title=f"Page {i}",
        text=RichTextValue(f"<p>Page {i}: {words}</p>", "text/html", "text/x-html-safe"),
    )
    made += new
    if made and made % 200 == 0:
        transaction.commit()

media, _ = published(site, "Folder", "media", title="Media")
for i in range(images):
    published(media, "Image", f"image-{i:03d}.png", title=f"Image {i}",
              image=NamedBlobImage(png(160 + (i % 5) * 40, 120, i), filename=f"image-{i:03d}.png"))
for i in range(files):
    body = (f"%PDF-1.4\n% offload file {i}\n".encode() + bytes(rng.randrange(256) for _ in range(8000 + 4000 * (i % 6))))
    published(media, "File", f"file-{i:03d}.pdf", title=f"File {i}",
              file=NamedBlobFile(body, contentType="application/pdf", filename=f"file-{i:03d}.pdf"))
transaction.commit()
print(f"offload content: {pages} pages ({made} new), {images} images, {files} files")
