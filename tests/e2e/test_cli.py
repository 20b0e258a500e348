"""The command-line client against a running stack, as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

from local.emulators import BACKEND_ENV
from tests.harness.cli import owned_containers, run_cli, start_cli
from tests.harness.files import photo_bytes, sample_path


def test_analyze_prints_labels_saves_images_and_exits_zero(stack, tmp_path: Path) -> None:
    cat = tmp_path / "cat.jpg"
    cat.write_bytes(photo_bytes("chelsea"))
    result = run_cli(
        "analyze",
        "--api",
        stack.api_url,
        "--out",
        str(tmp_path / "out"),
        str(cat),
        str(sample_path("CT_small.dcm")),
        "--window",
        "lung",
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Cat" in result.stdout and "2 complete, 0 error" in result.stdout
    assert "frame 1 of 1" in result.stdout  # frames are 1-based wherever a user reads them
    assert (tmp_path / "out" / "cat.analysed.jpg").read_bytes() == cat.read_bytes()
    assert (tmp_path / "out" / "CT_small.analysed.png").read_bytes().startswith(b"\x89PNG")
    lung = (tmp_path / "out" / "CT_small.lung.png").read_bytes()  # --window: the same CT in the lung window
    assert lung.startswith(b"\x89PNG") and lung != (tmp_path / "out" / "CT_small.analysed.png").read_bytes()
    assert not (tmp_path / "out" / "cat.lung.png").exists(), "photos have no window"


def test_analyze_exits_non_zero_when_a_job_ends_in_error(stack, tmp_path: Path) -> None:
    fake = tmp_path / "fake.jpg"
    fake.write_bytes(b"%PDF-1.7 definitely not a JPEG\n" * 4)
    result = run_cli(
        "analyze", "--api", stack.api_url, "--out", str(tmp_path), str(fake), cwd=Path(__file__).resolve().parents[2]
    )
    assert result.returncode == 1
    assert "UNSUPPORTED_FORMAT" in result.stdout


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("analyze", "--api", "http://127.0.0.1:9", str(tmp_path / "nope.jpg"), cwd=tmp_path)
    assert result.returncode == 2 and "no such file" in result.stdout


def test_analyze_starts_its_own_stack_on_the_backend_given_after_the_subcommand(backend: str, tmp_path: Path) -> None:
    cat = tmp_path / "cat.jpg"
    cat.write_bytes(photo_bytes("chelsea"))
    other = "moto" if backend == "localstack" else "localstack"
    # The environment names the other backend: the option after the subcommand must win.
    result = run_cli(
        "analyze", str(cat), "--backend", backend, "--out", str(tmp_path / "out"), cwd=tmp_path, **{BACKEND_ENV: other}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"local stack ready ({backend})" in result.stdout and "Cat" in result.stdout


def test_up_prints_the_api_url_serves_and_stops_cleanly_on_ctrl_c(backend: str, tmp_path: Path) -> None:
    import signal

    import requests

    log_file = tmp_path / "functions.log"
    process = start_cli(  # the backend chosen by the environment alone
        "up", "--port", "0", "--log-file", str(log_file), cwd=Path(__file__).resolve().parents[2],
        **{BACKEND_ENV: backend},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        api_url = None
        for line in process.stdout:
            if "local stack ready" in line:
                assert f"({backend})" in line, line
            if "web page" in line:
                api_url = line.split()[-1].rstrip("/")
                break
        assert api_url, "up never printed the URL"
        page = requests.get(api_url + "/", timeout=10)
        assert page.status_code == 200 and "Image Analyzer" in page.text
        grant = requests.post(
            api_url + "/request-upload", json={"fileName": "a.png", "fileType": "image/png"}, timeout=10
        )
        assert grant.status_code == 200
        job_id = grant.json()["jobId"]
        process.send_signal(signal.SIGINT)
        rest = process.communicate(timeout=60)[0]
        assert process.returncode == 0 and "stopped cleanly" in rest
        assert owned_containers(process.pid) == [], "the LocalStack container outlived up"
        # The functions' structured logs are in the file up named, with the jobId.
        logged = [json.loads(line.split(" ", 1)[1]) for line in log_file.read_text().splitlines() if " {" in line]
        assert any(entry.get("jobId") == job_id and entry["message"] == "upload requested" for entry in logged)
    finally:
        if process.poll() is None:
            process.kill()


def test_a_port_in_use_is_refused_before_anything_starts(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("up", "--port", str(port), "--log-file", str(tmp_path / "f.log"), cwd=tmp_path)
    assert result.returncode == 2 and f"cannot serve on port {port}" in result.stdout
    assert "local stack ready" not in result.stdout and not (tmp_path / "f.log").exists(), "nothing was started"


def test_an_unreachable_api_names_the_url_and_what_to_do(tmp_path: Path) -> None:
    photo = tmp_path / "cat.jpg"
    photo.write_bytes(photo_bytes("chelsea"))
    result = run_cli("analyze", "--api", "http://127.0.0.1:9", str(photo), "--out", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 1
    assert "cannot reach the API at http://127.0.0.1:9" in result.stdout and "image-analyzer up" in result.stdout
    assert "HTTPConnectionPool" not in result.stdout


def test_help_shows_defaults_and_exit_codes(tmp_path: Path) -> None:
    result = run_cli("analyze", "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "(default: analysed)" in result.stdout and "(default: 120.0)" in result.stdout
    assert "exit codes:" in result.stdout and "130" in result.stdout


def test_up_with_auth_prints_a_development_token_that_the_api_accepts(backend: str, tmp_path: Path) -> None:
    import signal

    import requests

    process = start_cli(
        "up", "--auth", "--port", "0", "--log-file", str(tmp_path / "f.log"), cwd=Path(__file__).resolve().parents[2],
        **{BACKEND_ENV: backend},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        api_url = token = None
        for line in process.stdout:
            if "web page" in line:
                api_url = line.split()[-1].rstrip("/")
            if "IMAGE_ANALYZER_TOKEN=" in line:
                token = line.strip().split("IMAGE_ANALYZER_TOKEN=", 1)[1]
                break
        assert api_url and token, "up --auth printed no URL or no token"
        body = {"fileName": "a.png", "fileType": "image/png"}
        assert requests.post(api_url + "/request-upload", json=body, timeout=10).status_code == 401
        headers = {"Authorization": f"Bearer {token}"}
        assert requests.post(api_url + "/request-upload", json=body, headers=headers, timeout=10).status_code == 200
        process.send_signal(signal.SIGINT)
        assert process.communicate(timeout=60)[0] and process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_up_runs_with_a_stack_files_settings_and_set_over_them(backend: str, tmp_path: Path) -> None:
    import signal

    import requests

    from local.client import ApiClient

    stack_file = tmp_path / "Pulumi.radiology.yaml"
    stack_file.write_text(
        "config:\n  aws:region: eu-west-1\n  image-analyzer:redactText: all\n"
        "  image-analyzer:dailyUploadQuota: 5\n  image-analyzer:alarmEmail: ops@example.org\n"
    )
    command = ["up", "--port", "0", "--log-file", str(tmp_path / "f.log"), "--stack-config", str(stack_file)]
    command += ["--set", "dailyUploadQuota=2", "--set", "image-analyzer:textDetection=function"]
    process = start_cli(*command, cwd=tmp_path, **{BACKEND_ENV: backend})
    try:
        assert process.stdout is not None
        printed = []
        for line in process.stdout:
            printed.append(line)
            if "Ctrl-C" in line:
                break
        api_url = next(line.split()[-1].rstrip("/") for line in printed if "web page" in line)
        assert any("not here" in line and "alarmEmail" in line for line in printed), printed
        # redactText all (the file): a photo is searched for text, by the function alone (--set).
        record = ApiClient(api_url).analyze("cat.jpg", photo_bytes("chelsea")).record
        assert record["status"] == "complete" and record["results"]["redaction"]["method"] == "function", record
        # dailyUploadQuota 2 (--set over the file's 5): the third upload of the day is refused.
        body = {"fileName": "a.png", "fileType": "image/png"}
        answers = [requests.post(api_url + "/request-upload", json=body, timeout=10) for _ in range(2)]
        assert [a.status_code for a in answers] == [200, 429] and answers[1].json()["error"] == "QUOTA_EXCEEDED"
        process.send_signal(signal.SIGINT)
        assert process.communicate(timeout=60)[0] and process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_a_bad_setting_stops_up_before_anything_starts(tmp_path: Path) -> None:
    result = run_cli(
        "up", "--port", "0", "--log-file", str(tmp_path / "f.log"), "--set", "redactTxt=all", "--set", "maxLabels=0",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout
    assert "redactTxt is not a setting of this program (did you mean redactText?)" in result.stdout
    assert "maxLabels must be an integer from 1 to 1000, not '0'" in result.stdout
    assert "local stack ready" not in result.stdout and not (tmp_path / "f.log").exists(), "nothing was started"


def test_a_preset_is_saved_where_it_applies_and_colour_is_not_called_a_window(stack, tmp_path: Path) -> None:
    from local.samples import sample_bytes

    for name in ("CT_small.dcm", "MR_small.dcm", "SC_rgb.dcm"):
        (tmp_path / name).write_bytes(sample_bytes(name))
    files = [str(tmp_path / n) for n in ("CT_small.dcm", "MR_small.dcm", "SC_rgb.dcm")]
    result = run_cli("analyze", "--api", stack.api_url, *files, "--window", "lung", "--out", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    saved = sorted(p.name for p in (tmp_path / "out").rglob("*.png"))
    # lung is a CT preset: the CT gets it, the MR (values not in HU) only its own render, colour is never windowed.
    assert saved == ["CT_small.analysed.png", "CT_small.lung.png", "MR_small.analysed.png", "SC_rgb.analysed.png"]
    assert "None/None" not in result.stdout and "colour as stored (no window)" in result.stdout, result.stdout
