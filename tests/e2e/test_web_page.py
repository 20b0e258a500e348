"""The web page in a real browser (Debian's Chromium driven by Playwright) against the embedded stack."""

from __future__ import annotations

from pathlib import Path

from image_analyzer.views import PRESET_NAMES
from tests.harness.browser import open_page
from tests.harness.files import photo_bytes, sample_bytes

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def test_upload_through_the_page(browser, stack, tmp_path: Path) -> None:
    files = {
        "cat.jpg": photo_bytes("chelsea"),
        "ct.dcm": sample_bytes("CT_small.dcm"),
        "broken.jpg": b"%PDF-1.7 not an image\n" * 10,
    }
    paths = []
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        paths.append(str(path))
    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone-sized viewport
    console_errors: list[str] = []
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    page.goto(stack.api_url + "/")
    assert page.get_by_label("Choose files or drop them here").is_visible()
    page.set_input_files("#file-input", paths)
    jobs = page.locator(".job")
    for name, status in (("cat.jpg", "complete"), ("ct.dcm", "complete"), ("broken.jpg", "error")):
        page.wait_for_function(
            "([name, status]) => [...document.querySelectorAll('.job')].some("
            "j => j.querySelector('.job-name').textContent === name && j.dataset.status === status)",
            arg=[name, status],
            timeout=60_000,
        )
    cat = jobs.filter(has_text="cat.jpg")
    assert "Cat" in cat.locator(".labels").inner_text()
    assert cat.locator(".picture-frame img").evaluate("img => img.complete && img.naturalWidth") == 451
    ct = jobs.filter(has_text="ct.dcm")
    ct.locator(".picture-frame img").evaluate("img => img.decode()")
    assert ct.locator(".picture-frame img").evaluate("img => img.naturalWidth") == 128
    assert "CT" in ct.locator(".dicom-meta").inner_text()
    broken = jobs.filter(has_text="broken.jpg")
    assert "UNSUPPORTED_FORMAT" in broken.locator(".error").inner_text()
    assert not broken.locator(".job-body").is_visible(), "a failed job shows its error, not an empty result"
    assert not broken.locator(".job-progress").is_visible(), "no full progress bar on a failure"
    # Cards in the order the files were picked; every picture shown at the same height.
    assert [n.strip() for n in page.locator(".job-name").all_inner_texts()] == ["cat.jpg", "ct.dcm", "broken.jpg"]
    # On a phone every picture takes the column's width: the 128-px CT render is not a stamp beside a photo.
    widths = [card.locator(".picture-frame").bounding_box()["width"] for card in (cat, ct)]
    assert abs(widths[0] - widths[1]) <= 2 and widths[1] > 2 * 128, widths
    assert ct.locator(".labels-note").is_visible() and not cat.locator(".labels-note").is_visible()
    assert not console_errors, console_errors
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-page.png"), full_page=True)
    page.close()


def test_window_and_level_on_a_dicom_card(browser, stack, tmp_path: Path) -> None:
    page, _ = open_page(browser, stack, tmp_path, {"ct.dcm": sample_bytes("CT_small.dcm")})
    page.wait_for_selector(".job[data-status=complete] .window-form:not([hidden])", timeout=60_000)
    image = page.locator(".picture-frame img")
    image.evaluate("img => img.decode()")
    original = image.evaluate("img => img.src")

    def shown_pixels() -> bytes:
        """The pixels of the image the page shows now (fetched by its URL: the canvas may not read them across
        origins); the image must have decoded in the page too."""
        import io

        import requests
        from PIL import Image

        image.evaluate("img => img.decode()")
        assert image.evaluate("img => img.naturalWidth") == 128
        content = requests.get(image.evaluate("img => img.src"), timeout=10).content
        return Image.open(io.BytesIO(content)).convert("L").tobytes()

    before = shown_pixels()
    options = page.eval_on_selector_all(".job .window-select option", "els => els.map(e => [e.value, e.textContent])")
    assert [value for value, _ in options] == [*PRESET_NAMES, "custom"], "the presets come from presets.js"
    assert ["lung", "lung (−600 / 1500)"] in options
    # CT_small has no window of its own: "file" is the automatic one, and says so.
    assert options[0] == ["file", "-38 / 1646 (automatic)"], options
    shown_window = page.locator('.dicom-meta dd[data-field="window"]')
    assert shown_window.inner_text() == "-38 / 1646 (automatic)"
    page.select_option(".window-select", "lung")
    page.wait_for_function("() => document.querySelector('.job').dataset.view === 'lung'", timeout=30_000)
    assert shown_window.inner_text() == "-600 / 1500 (preset lung)", "the Window row follows the chosen view"
    assert image.evaluate("img => img.src") != original and "view-lung" in image.evaluate("img => img.src")
    lung = shown_pixels()
    assert len(lung) == len(before) == 128 * 128 and lung != before, "the lung window shows other grey levels"
    page.select_option(".window-select", "custom")
    page.fill(".window-center", "40")
    page.fill(".window-width", "80")
    page.click(".window-custom button")
    page.wait_for_function("() => document.querySelector('.job').dataset.view === 'c40_w80'", timeout=30_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-page-window.png"), full_page=True)
    page.close()


def test_an_mr_card_offers_its_own_window_and_no_hounsfield_presets(browser, stack, tmp_path: Path) -> None:
    page, _ = open_page(browser, stack, tmp_path, {"mr.dcm": sample_bytes("MR_small.dcm")})
    page.wait_for_selector(".job[data-status=complete] .window-form:not([hidden])", timeout=60_000)
    options = page.eval_on_selector_all(".job .window-select option", "els => els.map(e => [e.value, e.textContent])")
    assert options == [["file", "600 / 1600 (the file's window)"], ["custom", "custom…"]], options
    page.select_option(".window-select", "custom")
    page.fill(".window-center", "500")
    page.fill(".window-width", "800")
    page.click(".window-custom button")
    page.wait_for_function("() => document.querySelector('.job').dataset.view === 'c500_w800'", timeout=30_000)
    assert page.locator('.dicom-meta dd[data-field="window"]').inner_text() == "500 / 800 (custom)"
    page.close()


def test_page_is_keyboard_operable(browser, stack) -> None:
    page = browser.new_page()
    page.goto(stack.api_url + "/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.id")
    assert focused == "file-input", "the file picker is the first stop for keyboard users"
    page.close()


def test_the_page_shows_an_ultrasound_redacted(browser, stack, tmp_path: Path) -> None:
    page, _ = open_page(browser, stack, tmp_path, {"us.dcm": sample_bytes("US1_J2KR.dcm")})
    page.wait_for_function(
        "() => [...document.querySelectorAll('.job')].some(j => j.dataset.status === 'complete')", timeout=90_000
    )
    card = page.locator(".job").filter(has_text="us.dcm")
    card.locator(".picture-frame img").evaluate("img => img.decode()")
    meta = card.locator(".dicom-meta").inner_text()
    assert "Burned-in text" in meta and "regions redacted" in meta, meta
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-page-redacted-ultrasound.png"), full_page=True)
    page.close()
