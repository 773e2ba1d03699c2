import pytest


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    """Evidence photos uploaded by tests go to a throw-away folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
