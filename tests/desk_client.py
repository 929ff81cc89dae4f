"""The desk through Starlette's in-process client, as the desk tests drive it: a client that
keeps each response and the page's CSRF token, the handout form's defaults, and a desk to test."""

from __future__ import annotations

import re
from pathlib import Path

import httpx2 as httpx
from starlette.testclient import TestClient

from clearleaf.config import Project
from clearleaf.desk import DeskOptions, create_app
from clearleaf.desk import security as desk_security

NAME = "Orlaith Quennerby-Vashti"      # a patient name that appears nowhere else
REFERENCE = "MRN-8817"


class Desk:
    """A TestClient on the desk that remembers every response, and the CSRF token of the last page."""

    def __init__(self, app, client=("testclient", 50000)):
        self.app = app
        self.http = TestClient(app, base_url="http://127.0.0.1", client=client)
        self.responses: list[httpx.Response] = []
        self.csrf: str | None = None

    def _keep(self, response: httpx.Response) -> httpx.Response:
        self.responses += [*response.history, response]
        found = csrf_of(response)
        if found:
            self.csrf = found
        return response

    def get(self, url: str, **kwargs) -> httpx.Response:
        return self._keep(self.http.get(url, **kwargs))

    def post(self, url: str, data: dict | None = None, csrf: bool = True, **kwargs) -> httpx.Response:
        data = dict(data or {})
        if csrf:
            if self.csrf is None:
                self.get("/leaflets/sample")  # a page with a form (the start page has none without login)
            data.setdefault("csrf", self.csrf)
        return self._keep(self.http.post(url, data=data, **kwargs))

    def preview(self, leaflet: str = "sample", **values) -> str:
        """Post the form with these values over the defaults; return the handout's token."""
        self.get(f"/leaflets/{leaflet}")
        response = self.post(f"/leaflets/{leaflet}", form(**values))
        assert response.status_code == 200, response.text
        return token_of(response)

    @property
    def session_id(self) -> str | None:
        return self.http.cookies.get(desk_security.COOKIE)


def csrf_of(response) -> str | None:
    if "text/html" not in response.headers.get("content-type", ""):
        return None
    found = re.search(r'<input type="hidden" name="csrf" value="([^"]+)">', response.text)
    return found.group(1) if found else None


def token_of(response) -> str:
    (token,) = set(re.findall(r'<iframe class="pdf" src="/handouts/([^/"]+)/preview\.pdf"', response.text))
    return token


def form(**values) -> dict:
    data = {"lang": "en", "paper": "a4", "reference": REFERENCE, "name": NAME, "clinician": "Dr Ada Fixture",
            "medication.name": "Apixaban", "medication.dose": "5 mg"}
    data.update({k.replace("__", "."): v for k, v in values.items()})
    return {k: v for k, v in data.items() if v is not None}


def make_desk(project: Path, client=("testclient", 50000), **options) -> Desk:
    return Desk(create_app(Project(project), DeskOptions(workers=0, **options)), client)
