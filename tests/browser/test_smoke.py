"""The landing page in the browser: the infrastructure of the browser suite works."""

from __future__ import annotations

from typing import Any

import pytest
from tests.browser.conftest import shot

pytestmark = pytest.mark.browser


def test_landing_page_is_spanish_by_default(page: Any) -> None:
    page.goto("/")
    assert page.locator("html").get_attribute("lang") == "es"
    page.wait_for_selector("main")
    shot(page, "00-landing-es")
