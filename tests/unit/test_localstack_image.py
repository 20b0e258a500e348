"""Which LocalStack image the backend runs, and the offline recipe's cache key."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.emulators.localstack import image


@pytest.fixture
def docker_images(monkeypatch) -> dict[str, object]:
    """A fake Docker: which images are present, which pulls succeed, what was logged."""
    state: dict[str, object] = {"present": set(), "pullable": set(), "pulled": []}

    def pull(tag: str, timeout: float = 0) -> bool:
        state["pulled"].append(tag)  # type: ignore[union-attr]
        if tag in state["pullable"]:  # type: ignore[operator]
            state["present"].add(tag)  # type: ignore[union-attr]
            return True
        return False

    monkeypatch.setattr(image, "image_present", lambda tag: tag in state["present"])  # type: ignore[operator]
    monkeypatch.setattr(image, "try_pull", pull)
    monkeypatch.setattr(image, "image_label", lambda tag, label=image.RECIPE_LABEL: image.recipe_hash())
    return state


def test_official_image_first_when_present(docker_images) -> None:
    docker_images["present"] = {image.OFFICIAL_IMAGE, image.LOCAL_IMAGE}
    logged: list[str] = []
    assert image.select_image(logged.append) == image.OFFICIAL_IMAGE
    assert docker_images["pulled"] == [] and "official" in logged[0]


def test_built_image_when_the_official_one_is_absent(docker_images) -> None:
    docker_images["present"] = {image.LOCAL_IMAGE}
    logged: list[str] = []
    assert image.select_image(logged.append) == image.LOCAL_IMAGE
    assert "built offline" in logged[0] and "rebuild" not in logged[0]


def test_pull_when_nothing_is_present(docker_images) -> None:
    docker_images["pullable"] = {image.OFFICIAL_IMAGE}
    logged: list[str] = []
    assert image.select_image(logged.append) == image.OFFICIAL_IMAGE
    assert docker_images["pulled"] == [image.OFFICIAL_IMAGE] and "pulled" in logged[0]


def test_no_image_says_how_to_build_one(docker_images) -> None:
    with pytest.raises(LookupError, match="image-analyzer localstack-image"):
        image.select_image(lambda _: None)


def test_a_stale_built_image_is_used_with_a_warning(docker_images, monkeypatch) -> None:
    docker_images["present"] = {image.LOCAL_IMAGE}
    monkeypatch.setattr(image, "image_label", lambda tag, label=image.RECIPE_LABEL: "0000000000000000")
    logged: list[str] = []
    assert image.select_image(logged.append) == image.LOCAL_IMAGE
    assert "rebuild" in logged[0]


def test_recipe_hash_covers_every_recipe_file(monkeypatch, tmp_path: Path) -> None:
    for name in image.RECIPE_FILES:
        (tmp_path / name).write_bytes((image.RECIPE_DIR / name).read_bytes())
    monkeypatch.setattr(image, "RECIPE_DIR", tmp_path)
    original = image.recipe_hash()
    for name in image.RECIPE_FILES:
        path = tmp_path / name
        saved = path.read_bytes()
        path.write_bytes(saved + b"\n# changed\n")
        assert image.recipe_hash() != original, name
        path.write_bytes(saved)
    assert image.recipe_hash() == original


def test_constraints_pin_the_known_good_set() -> None:
    pins = dict(
        line.split("==", 1)
        for line in (image.RECIPE_DIR / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    # Newer cbor2 (6.x) and pyOpenSSL (26) break LocalStack 4.14.0's start-up.
    assert pins["localstack-core"] == image.LOCALSTACK_VERSION
    assert pins["cbor2"].startswith("5.") and pins["pyOpenSSL"].startswith("25.")


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"sources.list": "deb http://mirror.example/debian bookworm main\n"}, "http://mirror.example/debian"),
        (
            {"sources.list.d/debian.sources": "Types: deb\nURIs: http://deb.example.org/debian\nSuites: bookworm\n"},
            "http://deb.example.org/debian",
        ),
        ({"sources.list": "deb [arch=amd64] https://m.example/debian/ trixie main\n"}, "https://m.example/debian"),
        ({"sources.list.d/other.list": "deb https://packages.example.com/apt stable main\n"}, None),
    ],
)
def test_debian_mirror_is_the_one_apt_uses(monkeypatch, tmp_path: Path, files, expected) -> None:
    monkeypatch.delenv("IMAGE_ANALYZER_DEBIAN_MIRROR", raising=False)
    (tmp_path / "sources.list.d").mkdir()
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    monkeypatch.setattr(image, "APT_SOURCES", tmp_path)
    assert image.debian_mirror() == (expected or image.DEFAULT_DEBIAN_MIRROR)
