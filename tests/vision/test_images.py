"""Images in a frame: the brief's size, the pixel checks, PNG / folder / array decoding; each mistake one message."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from specweave_ml.errors import ConfigError, DataError
from specweave_ml.vision.images import (Shape, check_pixels, decode_png, encode_png, pixel_columns, read_array,
                                        read_folder, read_images, shape_of, to_array)

DIGIT = Shape(8, 8, 1, 16.0)
NAMES = [f"pixel_{i}" for i in range(64)]


def brief(height=8, width=8, channels=1, max_value=16.0, features=None, exclude=()):
    return SimpleNamespace(image=SimpleNamespace(height=height, width=width, channels=channels, max_value=max_value),
                           data=SimpleNamespace(target="target", features=features, exclude=list(exclude), id_columns=[]))


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    return load_digits(as_frame=True).frame.head(40)


def test_the_shape_comes_from_the_brief_or_a_square_of_the_pixel_columns():
    assert shape_of(brief(), 64) == DIGIT
    assert shape_of(brief(height=None, width=None), 64) == DIGIT
    assert shape_of(brief(height=2, width=4, channels=3), 24).pixels == 24


def test_a_pixel_count_that_does_not_make_the_images_names_the_image_section():
    with pytest.raises(DataError) as err:
        shape_of(brief(height=28, width=28), 64)
    assert err.value.where == "problem.image" and "64 pixel columns do not make 28x28 images" in err.value.problem
    with pytest.raises(ConfigError, match="problem.image: sets only one of height and width"):
        shape_of(brief(width=None), 64)
    with pytest.raises(ConfigError, match="problem.image.channels"):
        shape_of(brief(channels=2), 128)


def test_pixel_columns_are_every_column_but_the_target_and_exclusions(digits):
    assert pixel_columns(list(digits.columns), brief()) == [c for c in digits.columns if c != "target"]
    assert pixel_columns(["a", "b", "target"], brief(exclude=["b"])) == ["a"]
    with pytest.raises(DataError, match="problem.data.features: pixel column"):
        pixel_columns(["a", "target"], brief(features=["a", "zz"]))


def test_pixel_checks_pass_clean_digits_and_name_the_column_of_each_problem(digits):
    pixels = [c for c in digits.columns if c != "target"]
    check_pixels(digits, pixels, DIGIT)  # silent on good data
    bad = digits.copy()
    bad.loc[3, "pixel_2_5"] = 40.0
    with pytest.raises(DataError) as err:
        check_pixels(bad, pixels, DIGIT)
    assert err.value.where == "column 'pixel_2_5'" and "outside 0..16" in err.value.problem
    bad = digits.copy()
    bad.loc[5, "pixel_0_1"] = np.nan
    with pytest.raises(DataError, match="column 'pixel_0_1'.*missing or not finite"):
        check_pixels(bad, pixels, DIGIT)
    bad = digits.astype({"pixel_7_7": object})
    bad.loc[0, "pixel_7_7"] = "dark"
    with pytest.raises(DataError, match="column 'pixel_7_7': pixels must be numbers"):
        check_pixels(bad, pixels, DIGIT)


def test_to_array_is_channels_first_and_scaled_to_one():
    rows = np.arange(2 * 2 * 3 * 3, dtype=float).reshape(3, 12)
    a = to_array(rows, Shape(2, 2, 3, 35.0))
    assert a.shape == (3, 3, 2, 2) and a.dtype == np.float32
    assert a[0, 1, 0, 1] == pytest.approx(rows[0, 4] / 35.0)  # row 0, column 1, channel 1 (row-major h, w, c)


def test_png_round_trip_and_the_errors_of_bytes_that_are_no_image_or_the_wrong_size(digits):
    row = digits.iloc[0, :64].to_numpy(float)
    back = decode_png(encode_png(row, DIGIT), DIGIT, "png")
    assert np.abs(back - row).max() <= 16 / 255 / 2 + 1e-9  # 8-bit quantisation only
    with pytest.raises(DataError, match="png: is not an image"):
        decode_png(b"%PDF-1.4 not a picture", DIGIT, "png")
    with pytest.raises(DataError, match="png: is 8x8 .*the model takes 28x28"):
        decode_png(encode_png(row, DIGIT), Shape(28, 28), "png")


def write_folder(root, digits, sizes=None):
    for i, (_, r) in enumerate(digits.head(6).iterrows()):
        folder = root / str(int(r["target"]))
        folder.mkdir(parents=True, exist_ok=True)
        shape = (sizes or {}).get(i, DIGIT)
        pixels = r.iloc[:64].to_numpy(float) if shape == DIGIT else np.zeros(shape.pixels)
        (folder / f"img{i}.png").write_bytes(encode_png(pixels, shape))


def test_a_folder_of_pngs_in_class_subfolders_reads_as_pixel_rows_with_file_and_label(tmp_path, digits):
    write_folder(tmp_path, digits)
    frame = read_folder(tmp_path, DIGIT, NAMES)
    assert len(frame) == 6 and list(frame.columns[:2]) == ["file", "label"] and list(frame.columns[2:]) == NAMES
    assert frame["label"].tolist() == [str(int(t)) for t in digits["target"].head(6)]
    assert np.abs(frame[NAMES].to_numpy() - digits.iloc[:6, :64].to_numpy()).max() < 0.05


def test_images_of_mixed_sizes_and_non_image_files_are_one_error_each(tmp_path, digits):
    write_folder(tmp_path / "mixed", digits, sizes={2: Shape(10, 10, 1, 16.0)})
    with pytest.raises(DataError) as err:
        read_folder(tmp_path / "mixed", DIGIT, NAMES)
    assert err.value.where == "input" and "mixed sizes" in err.value.problem and "10x10: 1 file(s)" in err.value.problem
    write_folder(tmp_path / "junk", digits)
    (tmp_path / "junk" / "0" / "notes.png").write_text("not an image")
    with pytest.raises(DataError, match="input file '0/notes.png': is not an image"):
        read_folder(tmp_path / "junk", DIGIT, NAMES)


def test_a_npy_array_of_images_reads_as_rows_and_a_wrong_shape_is_refused(tmp_path, digits):
    images = digits.iloc[:5, :64].to_numpy().reshape(5, 8, 8)
    np.save(tmp_path / "ok.npy", images)
    frame = read_images(tmp_path / "ok.npy", DIGIT, NAMES)
    assert frame.shape == (5, 64) and np.array_equal(frame.to_numpy(), digits.iloc[:5, :64].to_numpy())
    np.save(tmp_path / "bad.npy", np.zeros((5, 9, 9)))
    with pytest.raises(DataError, match=r"shape \(5, 9, 9\), the model takes \(n, 8, 8\)"):
        read_array(tmp_path / "bad.npy", DIGIT, NAMES)
    pd.DataFrame({"a": [1]}).to_csv(tmp_path / "rows.csv", index=False)
    assert read_images(tmp_path / "rows.csv", DIGIT, NAMES) is None  # CSV / Parquet: read as tables


def claimed_size(png: bytes, width: int, height: int) -> bytes:
    """A PNG whose header claims another size (its CRC fixed, so Pillow believes it); the pixel data stays 8x8."""
    import struct
    import zlib

    ihdr = bytearray(png[16:29])  # IHDR data: width, height, depth, colour type, ...
    ihdr[0:8] = struct.pack(">II", width, height)
    return png[:16] + bytes(ihdr) + struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr))) + png[33:]


def test_a_header_claiming_a_huge_size_is_one_error_and_the_size_is_checked_before_decoding(tmp_path, digits):
    png = encode_png(digits.iloc[0, :64].to_numpy(float), DIGIT)
    with pytest.raises(DataError, match="png: claims a size too large to decode"):
        decode_png(claimed_size(png, 30000, 30000), DIGIT, "png")  # past Pillow's decompression-bomb limit
    with pytest.raises(DataError, match="png: is 8000x8000 .*the model takes 8x8"):  # not decoded: its data is 8x8
        decode_png(claimed_size(png, 8000, 8000), DIGIT, "png")
    write_folder(tmp_path, digits)
    (tmp_path / "0" / "bomb.png").write_bytes(claimed_size(png, 30000, 30000))
    with pytest.raises(DataError, match="input file '0/bomb.png': claims a size too large"):
        read_folder(tmp_path, DIGIT, NAMES)


def test_a_folder_all_of_another_size_says_so_rather_than_mixed_sizes(tmp_path, digits):
    write_folder(tmp_path, digits, sizes={i: Shape(10, 10, 1, 16.0) for i in range(6)})
    with pytest.raises(DataError) as err:
        read_folder(tmp_path, DIGIT, NAMES)
    assert "are 10x10 (6 file(s)" in err.value.problem and "the model takes 8x8" in err.value.problem
    assert "mixed" not in err.value.problem


@pytest.mark.parametrize("key, value", [("height", -8), ("width", -8), ("height", 0)])
def test_a_height_or_width_that_is_not_positive_is_a_config_error_naming_the_key(key, value):
    sizes = {"height": 8, "width": 8, key: value}
    if key == "height" and value < 0:
        sizes["width"] = -8  # -8 x -8 = 64 pixels: the count alone would not catch it
    with pytest.raises(ConfigError, match=f"problem.image.{key}: must be a positive number of pixels"):
        shape_of(brief(**sizes), 64)


def _png(array, mode=None) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    (Image.fromarray(array) if mode is None else Image.fromarray(array, mode=mode)).save(buffer, "PNG")
    return buffer.getvalue()


def test_sixteen_bit_colour_and_transparent_pngs_follow_the_documented_rules(digits):
    row = digits.iloc[0, :64].to_numpy(float)
    wide = np.rint(row / 16.0 * 65535).astype(np.uint16).reshape(8, 8)
    assert np.abs(decode_png(_png(wide), DIGIT, "png") - row).max() < 1e-3  # 16 bits scaled by 65535, not clipped
    grey = np.rint(row / 16.0 * 255).astype(np.uint8).reshape(8, 8)
    as_rgb = np.repeat(grey[:, :, None], 3, axis=2)
    assert np.array_equal(decode_png(_png(as_rgb), DIGIT, "png"), decode_png(_png(grey), DIGIT, "png"))  # grey saved as RGB
    coloured = as_rgb.copy()
    coloured[0, 0] = (255, 0, 0)
    with pytest.raises(DataError, match="png: is a colour image \\(RGB\\), the model takes grey images"):
        decode_png(_png(coloured), DIGIT, "png")
    opaque = np.dstack([as_rgb, np.full((8, 8), 255, np.uint8)])
    assert np.array_equal(decode_png(_png(opaque), DIGIT, "png"), decode_png(_png(grey), DIGIT, "png"))
    ink_on_clear = opaque.copy()
    ink_on_clear[..., 3] = np.where(grey > 0, 255, 0)  # strokes on a transparent canvas
    with pytest.raises(DataError, match="png: has transparent pixels \\(mode RGBA\\)"):
        decode_png(_png(ink_on_clear), DIGIT, "png")
    rgb = Shape(8, 8, 3, 16.0)  # a grey PNG for an RGB model: the grey value in each channel
    assert np.allclose(decode_png(_png(grey), rgb, "png").reshape(8, 8, 3)[..., 2], grey / 255 * 16)
