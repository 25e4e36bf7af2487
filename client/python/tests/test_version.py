"""The package reports the version project(gearkv VERSION ...) states, as the server does."""
import os

import pytest

REPO = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def test_version_is_the_cmake_projects():
    import re

    import gearkv

    cmake = os.path.join(REPO, "CMakeLists.txt")
    if not os.path.isfile(cmake):
        pytest.skip(f"no CMakeLists.txt at {cmake}")
    with open(cmake, encoding="utf-8") as f:
        expected = re.search(r"project\(gearkv\s+VERSION\s+([0-9][0-9.]*)", f.read()).group(1)
    assert gearkv.__version__ == expected
