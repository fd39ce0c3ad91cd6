# Creates the Plone site used by the end-to-end tests: run by
#   zconsole run etc/zope.conf create_site.py
# (the server must be stopped). The Classic distribution with its example content, caching
# installed with plone.app.caching's with-caching-proxy profile, purging on with Document
# purged too, Anonymous allowed to use the REST API (as on a Volto or Seven site), two users and
# a little content of our own:
#   /Plone/doc1                  published Document ("Original text of doc1")
#   /Plone/folder1               published Folder, with /Plone/folder1/item1 (published)
#   /Plone/members-area          private Folder owned by member1, holding secret.txt (a File)
# Users: member1 (Member), editor1 (Member, Editor, Reviewer); passwords in users.json.
import json
import os

import transaction
from AccessControl.SecurityManagement import newSecurityManager
from Testing.makerequest import makerequest
from zope.component.hooks import setSite

users = json.load(open(os.environ["PLONE_E2E_USERS"]))

app = makerequest(app)  # noqa: F821 - zconsole provides `app`
admin = app.acl_users.getUserById("admin")
newSecurityManager(None, admin.__of__(app.acl_users))

from plone.distribution.api import site as site_api  # noqa: E402

if "Plone" in app.objectIds():
    app.manage_delObjects(["Plone"])
    transaction.commit()
site = site_api.create(
    app,
    "classic",
    {
        "site_id": "Plone",
        "title": "Plone e2e",
        "description": "",
        "default_language": "en",
        "portal_timezone": "UTC",
        "setup_content": True,
    },
)
setSite(site)

from plone import api  # noqa: E402
from plone.app.textfield.value import RichTextValue  # noqa: E402
from plone.namedfile.file import NamedBlobFile  # noqa: E402

setup = site.portal_setup
setup.runAllImportStepsFromProfile("profile-plone.app.caching:default")
setup.runAllImportStepsFromProfile("profile-plone.app.caching:with-caching-proxy")

api.portal.set_registry_record("plone.caching.interfaces.ICacheSettings.enabled", True)
api.portal.set_registry_record("plone.cachepurging.interfaces.ICachePurgingSettings.enabled", True)
purged = "plone.app.caching.interfaces.IPloneCacheSettings.purgedContentTypes"
types = tuple(api.portal.get_registry_record(purged) or ())
api.portal.set_registry_record(purged, types + tuple(t for t in ("Document", "Folder") if t not in types))
# As a Volto or Seven site is set up (plone.volto grants it): Anonymous may use the REST API,
# so anonymous visitors read content as JSON under ++api++.
site.manage_permission("plone.restapi: Use REST API", roles=["Anonymous"], acquire=1)
# Plone switches its theme off for requests to 127.0.0.1 unless this list is emptied.
api.portal.set_registry_record("plone.app.theming.interfaces.IThemeSettings.hostnameBlacklist", [])

for name, spec in users.items():
    api.user.create(
        username=name,
        email=f"{name}@example.org",
        password=spec["password"],
        roles=tuple(spec["roles"]),
        properties={"fullname": spec["fullname"]},
    )

doc = api.content.create(
    container=site,
    type="Document",
    id="doc1",
    title="Document one",
    text=RichTextValue("<p>Original text of doc1</p>", "text/html", "text/x-html-safe"),
)
api.content.transition(obj=doc, transition="publish")

folder = api.content.create(container=site, type="Folder", id="folder1", title="Folder one")
api.content.transition(obj=folder, transition="publish")
item = api.content.create(
    container=folder,
    type="Document",
    id="item1",
    title="Item one",
    text=RichTextValue("<p>Text of item1</p>", "text/html", "text/x-html-safe"),
)
api.content.transition(obj=item, transition="publish")

area = api.content.create(container=site, type="Folder", id="members-area", title="Member area")
area.manage_setLocalRoles("member1", ["Owner"])
area.changeOwnership(api.user.get(username="member1").getUser())
secret = api.content.create(
    container=area,
    type="File",
    id="secret.txt",
    title="member1's secret",
    file=NamedBlobFile(b"the secret of member1\n", contentType="text/plain", filename="secret.txt"),
)
secret.changeOwnership(api.user.get(username="member1").getUser())
secret.manage_setLocalRoles("member1", ["Owner"])
secret.reindexObjectSecurity()
area.reindexObjectSecurity()

transaction.commit()
print("site /Plone created")
