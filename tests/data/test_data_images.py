"""Image folders, read with Pillow at their own size and channels, without TensorFlow."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from whynet.config import DataConfig
from whynet.data import Dataset, load_dataset, load_image
from whynet.exceptions import DataError


def _digit(kind: str, i: int) -> np.ndarray:
    """A 16x16 grayscale stroke: a vertical bar ("one") or a ring ("zero")."""
    rng = np.random.default_rng(i)
    pixels = rng.integers(0, 30, size=(16, 16))
    if kind == "one":
        pixels[2:14, 7 + i % 2 : 9 + i % 2] = 240
    else:
        pixels[3:13, 4] = pixels[3:13, 11] = pixels[3, 4:12] = pixels[12, 4:12] = 230
    return pixels.astype(np.uint8)


def _write_digits(root: Path, count: int = 6) -> Path:
    for kind in ("one", "zero"):
        (root / kind).mkdir(parents=True)
        for i in range(count):
            Image.fromarray(_digit(kind, i), mode="L").save(root / kind / f"{i}.png")
    return root


@pytest.fixture
def digits(tmp_path: Path) -> Path:
    return _write_digits(tmp_path / "digits")


def _load(source: Path, **config: object) -> Dataset:
    return load_dataset(DataConfig(source=str(source), **config), seed=0)  # type: ignore[arg-type]


def _all_x(ds: Dataset) -> np.ndarray:
    return np.concatenate([ds.train.x, ds.val.x, ds.test.x])


def test_grayscale_pngs_keep_their_size_and_one_channel(digits: Path) -> None:
    ds = _load(digits)
    assert ds.spec.input_shape == (16, 16, 1) and ds.spec.is_image
    assert ds.spec.class_names == ("one", "zero")
    assert ds.notes == ("Images: 16x16, 1 channel (grayscale), their own size.",)
    assert dict(ds.details) == {"data.images": "16x16x1 grayscale, their own size"}
    # Not resized: the pixels are the files' own, scaled to [0, 1].
    everything = _all_x(ds)
    first = _digit("one", 0).astype(np.float32)[..., None] / 255.0
    assert any(np.array_equal(row, first) for row in everything)
    # load_image reads a file the same way (before the scaling to [0, 1]).
    pixels = load_image(digits / "one" / "0.png", size=(16, 16), color_mode="grayscale")
    assert pixels.shape == (16, 16, 1) and pixels.dtype == np.float32
    np.testing.assert_array_equal(pixels / 255.0, first)


def test_color_mode_and_explicit_size(digits: Path, tmp_path: Path) -> None:
    ds = _load(digits, color_mode="rgb")
    assert ds.spec.input_shape == (16, 16, 3)
    assert "3 channels (RGB)" in ds.notes[0]
    resized = _load(digits, image_size=(24, 20))
    assert resized.spec.input_shape == (24, 20, 1)
    assert (
        resized.notes[0] == "Images: 24x20, 1 channel (grayscale), resized with `data.image_size`."
    )
    assert resized.spec.fingerprint != _load(digits).spec.fingerprint
    assert load_image(digits / "one" / "0.png", size=(24, 20), color_mode="rgb").shape == (
        24,
        20,
        3,
    )
    # A color image among grayscale ones makes the folder RGB; `grayscale` overrides.
    Image.fromarray(np.full((16, 16, 3), 120, dtype=np.uint8)).save(digits / "one" / "c.png")
    assert _load(digits).spec.input_shape == (16, 16, 3)
    assert _load(digits, color_mode="grayscale").spec.input_shape == (16, 16, 1)


def test_sixteen_bit_grayscale_is_one_channel_of_eight_bits(tmp_path: Path) -> None:
    root = tmp_path / "scans"
    for kind in ("a", "b"):
        (root / kind).mkdir(parents=True)
        for i in range(5):
            wide = np.full((12, 12), 257 * (40 + 150 * (kind == "b") + i), dtype=np.uint16)
            Image.fromarray(wide).save(root / kind / f"{i}.png")
    ds = _load(root)
    assert ds.spec.input_shape == (12, 12, 1)
    values = np.unique(np.round(_all_x(ds) * 255.0))
    assert set(values) <= {40 + i for i in range(5)} | {190 + i for i in range(5)}


def test_different_sizes_ask_for_image_size(digits: Path) -> None:
    Image.fromarray(np.zeros((20, 12), dtype=np.uint8)).save(digits / "zero" / "big.png")
    with pytest.raises(DataError) as info:
        _load(digits)
    message = str(info.value)
    assert "have 2 different sizes" in message
    assert "16x16 (12 image(s), e.g. one/0.png)" in message
    assert "20x12 (1 image(s), e.g. zero/big.png)" in message
    assert "Set `data.image_size: [height, width]` (e.g. [16, 16])" in message
    assert _load(digits, image_size=(16, 16)).spec.input_shape == (16, 16, 1)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_corrupt_image_is_named(digits: Path, damage: str) -> None:
    bad = digits / "zero" / "3.png"
    data = bad.read_bytes()
    bad.write_bytes(b"not an image" if damage == "garbage" else data[: len(data) // 2])
    with pytest.raises(DataError) as info:
        _load(digits)
    message = str(info.value)
    assert f"cannot read image zero/3.png in image folder {digits}" in message
    assert "Remove the file or re-save it" in message and "\n" not in message
    with pytest.raises(DataError, match=r"cannot read image .*3\.png: .*re-save it"):
        load_image(bad, size=(16, 16), color_mode="grayscale")


def _quiet_env() -> dict[str, str]:
    """The user's environment: no setting that would hide TensorFlow's log lines."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "ABSL"))}
    env["COLUMNS"] = "200"
    return env


def test_reading_an_image_folder_imports_no_tensorflow(digits: Path) -> None:
    code = (
        "import sys; from whynet.config import DataConfig; from whynet.data import load_dataset;"
        f"ds = load_dataset(DataConfig(source={str(digits)!r}), seed=0);"
        "print(ds.spec.input_shape, 'tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=_quiet_env(), capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "(16, 16, 1) False False"
    assert proc.stderr == ""


def test_an_image_folder_error_is_whynets_one_line_without_library_logs(
    digits: Path, tmp_path: Path
) -> None:
    (digits / "one" / "2.png").write_bytes(b"\x89PNG broken")
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "config.yaml").write_text(yaml.safe_dump({"data": {"source": str(digits)}}))
    proc = subprocess.run(
        [sys.executable, "-m", "whynet", "run", "config.yaml"],
        cwd=workdir,
        env=_quiet_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: cannot read image one/2.png in image folder")
    for noise in ("cuInit", "oneDNN", "absl", "tensorflow", "cuda", "TF-TRT"):
        assert noise.lower() not in proc.stderr.lower(), proc.stderr
    assert list(workdir.iterdir()) == [workdir / "config.yaml"]
