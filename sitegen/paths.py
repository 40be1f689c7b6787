"""Where each page of the site lives. Paths come from secret tokens and hashes, never from raw ids
or names, and every link between pages is relative so the site works from a file share.

    index.html, robots.txt              a neutral landing page (no list of pages), no indexing
    assets/                             site.css, site.js, plotly.min.js (written once)
    p/<token>/index.html, en.html       one employee's page, French and English
    leads/<key>/index.html, en.html     the QA leads' overview
    leads/<key>/team-<hash>.html, ...   one page per team (.en.html in English)
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Mapping

from sitegen.write import UnsafePath

LANGS = ("fr", "en")
# What a site token must look like before it becomes a folder name (token_urlsafe output).
TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
ASSETS = "assets"


def _suffix(lang: str) -> str:
    return "" if lang == "fr" else f".{lang}"


def employee_page(token: str, lang: str) -> str:
    if not TOKEN.match(token):
        raise UnsafePath("refused a site token that is not a plain folder name; rotate it (qa site links --rotate)")
    return f"p/{token}/{'index' if lang == 'fr' else lang}.html"


def leads_key(tokens: Mapping[str, str]) -> str:
    """The secret folder of the leads' pages, derived from every employee's secret token.

    Nobody who knows only their own token can compute it; it changes when the roster's tokens
    change (`qa site links` prints the current address).
    """
    digest = hashlib.blake2b(digest_size=18, person=b"qa-site-leads")
    for employee_id in sorted(tokens):
        digest.update(f"{employee_id}\0{tokens[employee_id]}\n".encode())
    return digest.hexdigest()


def leads_index(key: str, lang: str) -> str:
    return f"leads/{key}/{'index' if lang == 'fr' else lang}.html"


def team_slug(team: str) -> str:
    return hashlib.blake2b(team.encode("utf-8"), digest_size=6, person=b"qa-site-team").hexdigest()


def team_page(key: str, team: str, lang: str) -> str:
    return f"leads/{key}/team-{team_slug(team)}{_suffix(lang)}.html"


def relative(from_page: str, to_path: str) -> str:
    """The relative link from one page to another file of the site."""
    return posixpath.relpath(to_path, posixpath.dirname(from_page) or ".")


def root_of(page: str) -> str:
    """The prefix that leads from `page` back to the site root ('' or '../../')."""
    depth = page.count("/")
    return "../" * depth
